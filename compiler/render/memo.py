"""Rendered files reused while what they are made of is unchanged: why editing one spec is cheap.

A per-model target (argo, airflow, kubeflow, kubernetes, docs: a module with `render_model`)
renders a model's files from that model's IR and its view of the project settings
(`common.model_view`: of the lock's versions, the model's own), and nothing else: the function
is given nothing else. The memo keys those files by the hash of exactly those inputs, the
target, the output folder and Charter's code (`codeid`), so a model whose IR did not change is
not rendered again, whatever else changed. Everything else (a target's shared files such as a
kustomization, and the targets that render the graph as a whole: ir, github, gitlab,
codeowners, runner) is keyed by the hash of the whole graph.

The memo keeps each file's SHA-256, not its text: a file whose bytes on disk have that digest
is up to date, and only a file that must be written is rendered again (`Stored.text`). On top,
`bundle` remembers the digests of a whole compile by the hash of the spec tree (`ir.cache.tree_key`),
the targets asked for and the lock's versions: an unchanged tree whose files are intact is
checked without loading the IR or rendering anything.

A file is known to be unchanged on disk without reading it when its `os.stat` (size, mtime,
ctime, inode) is what the last compile recorded, as git's index does: writing a file changes
its ctime, which no tool can set back. An entry recorded in the same clock tick as the file's
last change could miss a change made in that tick, so only entries whose ctime is older than
the memo file itself are trusted ("racily clean" ones are read, as git does).

The whole-graph CI files (github, gitlab) mark their jobs as `common.Parts`: each job's YAML
text is remembered by its content, so an edit of one model writes that model's jobs only; the
texts are kept in the memo file too.

Rendering stays a pure function of the IR: the memo only stands for what the same function
returned for the same inputs (a test compiles with and without it, cold, warm and after edits).
The file is `.charter/cache/render.json` (never committed), written atomically and only when it
changed; a missing, damaged or foreign one is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import orjson

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.ir.graph import pipeline_digest, sorted_json
from compiler.render import common
from compiler.render.common import model_view
from compiler.render.registry import TARGETS

MEMO = Path(".charter") / "cache" / "render.json"
FORMAT = 2
Files = dict[str, str]


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


def _signature(st: os.stat_result) -> list[int]:
    """What any write to a file changes: its ctime (set by the kernel, never back), with size, mtime and inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _key(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def _json(value) -> bytes:
    return sorted_json(value)  # the IR's: one encoder (and one fallback) for every key of the caches


class Stored:
    """A file the memo knows by its digest; `text()` renders its entry again (once) when it must be written."""

    __slots__ = ("_path", "_render", "digest")

    def __init__(self, path: str, file_digest: str, render: Callable[[], Files]) -> None:
        self._path, self.digest, self._render = path, file_digest, render

    def text(self) -> str:
        return self._render()[self._path]


def text_of(value: str | Stored) -> str:
    return value if isinstance(value, str) else value.text()


def digest_of(value: str | Stored) -> str:
    return digest(value) if isinstance(value, str) else value.digest


class RenderMemo:
    def __init__(self, entries: dict[str, dict[str, str]] | None = None,
                 bundles: dict[str, dict] | None = None) -> None:
        self._old = entries or {}
        self._used: dict[str, dict[str, str]] = {}
        self._bundles = bundles or {}
        self._changed = False
        self.rendered = 0  # entries rendered in this run (misses)
        self._graph: tuple[object, str, str, str] | None = None  # (graph, out, base key, whole-graph key)
        self._parts: set[str] = set()  # the YAML parts (common.Parts) the memo file held
        self._checks: tuple[object, bytes] | None = None  # (graph, its checks as JSON)
        self._files: tuple[object, bytes] | None = None  # (graph, its spec files as JSON)
        self._saved_ns = 0  # the memo file's mtime: entries of files changed since then are not trusted
        self._verified: dict[str, tuple[str, list[int]]] = {}  # path -> (digest, stat) `on_disk` found unchanged

    @classmethod
    def load(cls, root: Path) -> RenderMemo:
        # one compile's YAML parts in memory at a time: a process that compiles again and again
        # (an editor, the tests) would otherwise keep every text it ever wrote
        common.PARTS.clear()
        common.PARTS_USED.clear()
        try:
            with open(root / MEMO, "rb") as fh:
                saved_ns = os.fstat(fh.fileno()).st_mtime_ns
                entry = orjson.loads(fh.read())
            if entry.get("format") != FORMAT or entry.get("code") != code_fingerprint():
                return cls()
            entries, bundles, parts = entry["entries"], entry["bundles"], entry.get("parts", {})
            if not isinstance(entries, dict) or not isinstance(bundles, dict) or not isinstance(parts, dict):
                return cls()
            common.PARTS.update((k, v) for k, v in parts.items() if isinstance(v, str))
            memo = cls(entries, bundles)
            memo._parts = set(parts)
            memo._saved_ns = saved_ns
            return memo
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()  # no memo, or a damaged one: render everything

    def save(self, root: Path) -> None:
        """Keep what this run used, and what it did not while that stays small (another --target's)."""
        used_parts = common.PARTS_USED
        if not self._changed and not self.rendered and len(self._used) == len(self._old) \
                and used_parts <= self._parts:
            return  # nothing new, nothing dropped
        kept = {**self._old, **self._used} if len(self._old) <= 2 * len(self._used) + 64 else self._used
        # the jobs' texts this run wrote (with those of the last while few), else the last run's
        names = (used_parts | self._parts if len(self._parts) <= 2 * len(used_parts) + 64 else used_parts) \
            if used_parts else self._parts
        parts = {k: common.PARTS[k] for k in sorted(names) if k in common.PARTS}
        data = _json({"format": FORMAT, "code": code_fingerprint(), "entries": kept, "bundles": self._bundles,
                      "parts": parts})
        try:
            write_atomic(root / MEMO, data, durable=False)  # a cache: recomputed if lost
        except OSError:
            pass  # a read-only checkout still compiles, just without the memo

    # -- a whole compile ----------------------------------------------------------------------

    @staticmethod
    def bundle_key(targets: list[str] | None, versions: dict[str, str]) -> str:
        return _key("targets", _json(targets), _json(dict(sorted(versions.items()))))

    def bundle(self, key: str, tree: str) -> tuple[list[str], dict[str, str]] | None:
        """(spec folders, repo-relative path -> digest) of the compile remembered for this tree."""
        found = self._bundles.get(key)
        if not isinstance(found, dict) or found.get("tree") != tree:
            return None
        return found["spec_dirs"], found["files"]

    def spec_dirs(self, key: str) -> list[str] | None:
        found = self._bundles.get(key)
        return found.get("spec_dirs") if isinstance(found, dict) else None

    def output(self, key: str) -> str:
        return self._bundles[key]["output"]

    def notes(self, key: str) -> list[str]:
        return self._bundles[key]["notes"]

    def remember(self, key: str, tree: str, spec_dirs: list[str], output: str, notes: list[str],
                 digests: dict[str, str], root: Path) -> None:
        """`digests`: repo-relative path -> SHA-256 of every file of the compile, in the bundle's order.

        Each file's `os.stat` under `root` is recorded with it (`unchanged_on_disk`).
        """
        stats = {}
        base = os.fspath(root)
        for path, file_digest in digests.items():
            verified = self._verified.get(path)
            if verified is not None and verified[0] == file_digest:
                stats[path] = verified[1]  # stat'ed by `on_disk` in this run, and not written since
                continue
            try:
                stats[path] = _signature(os.stat(os.path.join(base, path)))
            except OSError:
                pass  # gone already: read (and found missing) next time
        entry = {"tree": tree, "spec_dirs": spec_dirs, "output": output, "notes": notes, "files": dict(digests),
                 "stat": stats}
        if self._bundles.get(key) != entry:
            self._bundles = {key: entry}  # one compile remembered: the last one
            self._changed = True

    def unchanged_on_disk(self, key: str, path: str, file_digest: str, full: Path | str) -> bool:
        """Whether the file `full` (repo-relative `path`) surely holds the bytes of `file_digest`, by its stat."""
        return self.on_disk(key, path, full) == file_digest

    def on_disk(self, key: str, path: str, full: Path | str) -> str | None:
        """The digest the file `full` (repo-relative `path`) surely holds, from its stat alone; None: read it.

        The digest the last compile remembered for it, when the stat it recorded then is the same
        now and older than the memo file (a write in the same clock tick as the record is read).
        """
        found = self._bundles.get(key)
        held = found.get("files", {}).get(path) if isinstance(found, dict) else None
        if not isinstance(held, str):
            return None
        recorded = found.get("stat", {}).get(path)  # type: ignore[union-attr]  # a dict: `held` came from it
        if not isinstance(recorded, list) or len(recorded) != 4 or not recorded[2] < self._saved_ns:
            return None
        try:
            if _signature(os.stat(full)) != recorded:
                return None
        except OSError:
            return None
        self._verified[path] = (held, recorded)
        return held

    # -- rendering ----------------------------------------------------------------------------

    def target(self, name: str, graph, out: str) -> dict[str, str | Stored]:
        files: dict[str, str | Stored] = {}
        for key, render in self._entries(name, graph, out):
            files.update(self._get(key, render))
        return dict(sorted(files.items()))

    def pending(self, names: list[str], graph, out: str) -> int:
        """How many entries (a model's files of a target, or a whole-graph file set) these targets would render."""
        return sum(key not in self._used and key not in self._old
                   for name in names for key, _ in self._entries(name, graph, out))

    def _entries(self, name: str, graph, out: str) -> Iterator[tuple[str, Callable[[], Files]]]:
        """A target's units of rendering: (memo key, the render of that unit's files)."""
        module_name, _, func = TARGETS[name].partition(":")
        module = importlib.import_module(module_name)
        base, whole = self._keys(graph, out)
        if not hasattr(module, "render_model"):
            if getattr(module, "READS", None) == ("files",):  # given the spec files alone, keyed by them alone
                view = replace(graph, project={k: v for k, v in graph.project.items() if k != "versions"},
                               models=(), checks=())
                yield _key(base, name, "files", self._files_json(graph)), lambda: getattr(module, func)(view, out)
                return
            yield _key(whole, name), lambda: getattr(module, func)(graph, out)
            return
        versions = graph.project.get("versions") or {}

        def one(model) -> Callable[[], Files]:
            return lambda: module.render_model(model_view(graph.project, model.name), model, out)

        for model in graph.models:
            yield _key(base, name, self._model_key(model), versions.get(model.name) or ""), one(model)
        if getattr(module, "SHARED_READS", None) == ("checks",):  # given nothing else, keyed by nothing else
            view = replace(graph, project={k: v for k, v in graph.project.items() if k != "versions"}, models=(),
                           files={})
            yield _key(base, name, "shared-checks", self._checks_json(graph)), lambda: module.render_shared(view, out)
        else:
            yield _key(whole, name, "shared"), lambda: module.render_shared(graph, out)

    def delta(self) -> dict:
        """What rendering in this process added to the memo: for `absorb` in another (compile's second worker)."""
        return {"used": self._used, "rendered": self.rendered,
                "parts": {k: common.PARTS[k] for k in common.PARTS_USED if k in common.PARTS},
                "parts_used": set(common.PARTS_USED)}

    def absorb(self, delta: dict) -> None:
        self._used.update(delta["used"])
        self.rendered += delta["rendered"]
        common.PARTS.update(delta["parts"])
        common.PARTS_USED.update(delta["parts_used"])

    def _model_key(self, model) -> str:
        return pipeline_digest(model)  # kept per pipeline object by the IR (`ir.graph`)

    def _keys(self, graph, out: str) -> tuple[str, str]:
        if self._graph is None or self._graph[0] is not graph or self._graph[1] != out:
            project = {k: v for k, v in graph.project.items() if k != "versions"}
            base = _key(code_fingerprint(), out, _json(project))
            # the whole graph by its parts: the models' keys (computed once for the per-model targets
            # too) stand for their content, so the graph is not serialised a second time
            whole = _key(base, str(graph.ir_version), *(self._model_key(m) for m in graph.models),
                         self._files_json(graph), self._checks_json(graph), _json(graph.project.get("versions")))
            self._graph = (graph, out, base, whole)
        return self._graph[2], self._graph[3]

    def _files_json(self, graph) -> bytes:
        found = self._files
        if found is None or found[0] is not graph:
            found = self._files = (graph, _json(graph.files))
        return found[1]

    def _checks_json(self, graph) -> bytes:
        found = self._checks
        if found is None or found[0] is not graph:
            found = self._checks = (graph, _json([c.to_dict() for c in graph.checks]))
        return found[1]

    def _get(self, key: str, render: Callable[[], Files]) -> dict[str, str | Stored]:
        known = self._used.get(key)
        if known is None:
            known = self._old.get(key)
        if known is not None:
            self._used[key] = known
            again = functools.cache(render)
            return {path: Stored(path, d, again) for path, d in known.items()}
        texts = render()
        self.rendered += 1
        self._used[key] = {path: digest(text) for path, text in texts.items()}
        return dict(texts)


__all__ = ["MEMO", "RenderMemo", "Stored", "digest", "digest_of", "text_of"]

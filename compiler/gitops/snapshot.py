"""The Project at one revision (a commit, or the working tree): its files, its resources as written, and its IR.

The IR is there when the revision validates.

Resources are read from each file's bytes with the same loader as `charter validate`, one
file at a time and cached by blob id, so a plan parses only what differs between two
revisions. The IR of a revision is compiled from its files in a temporary folder (never a
checkout of the repository) and cached by the ids of every file it was built from: a
revision seen once (the base branch, in CI on every push) is never compiled again.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.gitops.git import WORKTREE, Git, blob_id, under

CONFIG = "charter.yaml"
LOCK = "charter.lock"
CACHE_DIR = Path(".charter") / "cache" / "revisions"
BLOB_CACHE = Path(".charter") / "cache" / "blobs"


# A revision's records (its summary, readers and IR) are plain data: dicts, lists, strings,
# numbers. `marshal` reads them back several times faster than JSON (a summary of 200 specs is
# 0.3 MB) and builds no objects of any class; its format is Python's own, so each record
# carries the Python version and one of another version is computed again. Like every cache
# in `.charter/`, they are trusted as this checkout's own output.
def read_record(path: Path) -> object:
    """The value recorded at `path`, or None when missing, damaged or written by another Python."""
    try:
        stamp, value = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return value if stamp == sys.version else None


def write_record(path: Path, value: Any) -> None:
    from compiler.atomic import write_atomic

    try:
        write_atomic(path, marshal.dumps((sys.version, value)), durable=False)
    except (OSError, ValueError):
        pass  # a read-only checkout (or a value marshal cannot write) still plans, only slower


@dataclass(frozen=True, slots=True)
class Resource:
    """One spec document as written: `kind/name`, where it lives, and its data."""

    kind: str
    name: str
    file: str
    index: int
    data: dict

    @property
    def address(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Snapshot:
    """The Project at one revision. `files` maps every spec file (and charter.yaml) to its blob id."""

    label: str
    sha: str | None
    root: Path
    files: dict[str, str]
    spec_dirs: list[str]
    _read: Callable[[str], bytes]
    _parsed: dict[str, tuple[list[Resource], list[str]]] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict, repr=False)  # key, summary, readers: computed once per snapshot
    _blob_of: Callable[[list[str]], dict[str, str]] | None = None

    def read(self, path: str) -> bytes:
        return self._read(path)

    def blobs(self, paths: list[str]) -> dict[str, str]:
        """Blob ids of any files of the revision (data, generated files), path -> id; absent ones left out."""
        return self._blob_of(paths) if self._blob_of and paths else {}

    def read_any(self, path: str) -> bytes | None:
        """Any file of the revision, not only specs (None when absent)."""
        if self.blobs([path]).get(path) is None:
            return None
        try:
            return self.read(path)
        except (KeyError, OSError):
            return None

    def resources_of(self, path: str) -> tuple[list[Resource], list[str]]:
        """The resources of one file and the problems reading it (as `file:line:col: message`)."""
        if path not in self._parsed:
            self._parsed[path] = parse_cached(self.root, path, self.files.get(path), lambda: self.read(path))
        return self._parsed[path]

    def resources(self, paths=None) -> dict[str, Resource]:
        """`kind/name` -> Resource, over `paths` (default: every spec file); first one wins."""
        found: dict[str, Resource] = {}
        for path in sorted(paths if paths is not None else self.spec_files()):
            for res in self.resources_of(path)[0]:
                found.setdefault(res.address, res)
        return found

    def problems(self, paths=None) -> list[str]:
        return [p for path in sorted(paths if paths is not None else self.spec_files())
                for p in self.resources_of(path)[1]]

    def spec_files(self) -> list[str]:
        return sorted(p for p in self.files if p != CONFIG)

    def lock(self) -> dict:
        try:
            raw = self.read(LOCK)
        except (KeyError, FileNotFoundError, OSError):
            return {}
        try:
            data = json.loads(raw)
            return data if isinstance(data, dict) else {}
        except (ValueError, UnicodeDecodeError):
            return {}

    def key(self) -> str:
        if "key" not in self._memo:
            self._memo["key"] = self._key()
        return self._memo["key"]

    def _key(self) -> str:
        from compiler.codeid import code_fingerprint

        digest = hashlib.sha256(code_fingerprint().encode())
        for path, blob in sorted(self.files.items()):
            digest.update(f"{path}\0{blob}\n".encode("utf-8", "surrogateescape"))  # names in any bytes
        digest.update(self.lock_id().encode())  # deployment configs serve the lock's versions
        return digest.hexdigest()

    def lock_id(self) -> str:
        try:
            return blob_id(self.read(LOCK))
        except (KeyError, FileNotFoundError, OSError):
            return "-"

    def summary(self) -> dict:
        """What a plan needs of this revision, cached by its files' ids.

        It holds pipeline step hashes, deployments, the hashes of the generated files, owners and
        waivers. A plan against a revision seen before reads this small record instead of the IR.
        """
        if "summary" in self._memo:
            return self._memo["summary"]
        cache = self.root / CACHE_DIR / f"{self.key()}.summary.marshal"
        doc = read_record(cache)
        if not isinstance(doc, dict):
            from compiler.gitops.summary import summarize

            doc = summarize(self)
            write_record(cache, doc)
        self._memo["summary"] = doc
        return doc

    def readers(self) -> dict[str, set[str]]:
        """Spec name -> the Models that read it (`risk.readers` of every spec), cached by the revision's key.

        A plan needs it at both revisions; computing it parses every spec file of each.
        """
        if "readers" in self._memo:
            return self._memo["readers"]
        cache = self.root / CACHE_DIR / f"{self.key()}.readers.marshal"
        recorded = read_record(cache)
        if isinstance(recorded, dict):
            found = {name: set(models) for name, models in recorded.items()}
        else:
            from compiler.gitops.risk import readers

            found = readers(self.resources())
            write_record(cache, {n: sorted(m) for n, m in found.items()})
        self._memo["readers"] = found
        return found

    def compile(self):
        """(graph or None, problems): the IR of this revision, cached by its files' ids."""
        cache = self.root / CACHE_DIR / f"{self.key()}.ir.marshal"
        entry = read_record(cache)
        if isinstance(entry, dict):
            from compiler.ir.graph import PipelineGraph

            try:
                graph = PipelineGraph.from_dict(entry["graph"]) if entry["graph"] else None
                return graph, entry["problems"]
            except (KeyError, TypeError, ValueError):
                pass
        graph, problems = self._compile()
        # Through JSON first: the record holds what a reader of `to_dict()` expects (lists, string keys).
        entry = {"graph": graph.to_dict() if graph else None, "problems": problems}
        write_record(cache, json.loads(json.dumps(entry)))
        return graph, problems

    def _compile(self):
        from compiler.driver import compile_tree

        if self.sha is None:  # the working tree: compile in place
            result, graph = compile_tree(self.root)
        else:
            tmp = Path(tempfile.mkdtemp(prefix="charter-rev-"))
            try:
                for path in self.files:
                    dest = tmp / path
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(self.read(path))
                for folder in self.spec_dirs:  # a folder that holds no spec yet still exists
                    (tmp / folder).mkdir(parents=True, exist_ok=True)
                # only the specs are there: a Feast registry of that revision is not
                result, graph = compile_tree(tmp, beside_specs=False)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        problems = [_line(d) for d in result.diagnostics if d.severity.name == "ERROR"]
        problems += [f"{path}: not found" for path in result.missing]
        if graph is None and not problems:
            problems = ["the specs do not compile"]
        return graph, problems


def parse_cached(root: Path, path: str, blob: str | None, read: Callable[[], bytes]):
    """`_parse`, remembered on disk by (path, blob id, Charter code).

    Reading a marshal record is many times faster than parsing YAML (and than reading JSON), and
    history and plans meet the same blobs again. A blob whose data marshal cannot hold (a YAML
    date) is parsed every time: a record would hand back other types than the parse.
    """
    if blob is None:
        return _parse(path, read())
    from compiler.codeid import code_fingerprint

    key = f"{code_fingerprint()}\0{path}\0{blob}".encode("utf-8", "surrogateescape")  # names in any bytes
    digest = hashlib.sha1(key).hexdigest()  # noqa: S324 - a cache key
    cache = root / BLOB_CACHE / digest[:2] / f"{digest}.marshal"
    try:
        rows, problems = marshal.loads(cache.read_bytes())
        return [Resource(*row) for row in rows], problems
    except (OSError, ValueError, TypeError, EOFError):
        pass
    resources, problems = _parse(path, read())
    try:
        record = marshal.dumps(([(r.kind, r.name, r.file, r.index, r.data) for r in resources], problems))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(record)
        tmp.replace(cache)
    except (OSError, ValueError):
        pass  # a read-only checkout, or data marshal cannot hold: parse again next time
    return resources, problems


def _parse(path: str, raw: bytes) -> tuple[list[Resource], list[str]]:
    from compiler.load import decode, load_source

    source, problem = decode(path, raw)
    if source is None:
        return [], [_line(problem)]
    docs, diags = load_source(source)
    found = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            continue
        meta = data.get("metadata")
        kind, name = data.get("kind"), meta.get("name") if isinstance(meta, dict) else None
        if isinstance(kind, str) and isinstance(name, str):
            found.append(Resource(kind, name, path, doc.index, data))
    return found, [_line(d) for d in diags if d.severity.name == "ERROR"]


def _line(diag) -> str:
    from compiler.diagnostics import safe_text

    s = diag.span
    return f"{s.file}:{s.line}:{s.col}: {diag.code} {safe_text(diag.message)}"


def _spec_dirs(raw: bytes | None) -> list[str]:
    """The spec folders named by a charter.yaml (the default when it is missing or unreadable)."""
    if raw is None:
        return ["specs"]
    resources, _ = _parse(CONFIG, raw)
    try:
        dirs = next(r for r in resources if r.kind == "Project").data["spec"]["specs"]
        if isinstance(dirs, list) and all(isinstance(d, str) for d in dirs) and dirs:
            return dirs
    except (StopIteration, KeyError, TypeError):
        pass
    return ["specs"]


def at_commit(git: Git, sha: str, label: str, root: Path, guess: list[str] | None = None) -> Snapshot:
    """The Project at a commit, from one `ls-tree` of everything under the Charter root.

    Specs, charter.yaml and the lock, and the blob ids of any other file a plan asks about (data
    files, committed generated files) come from that one listing: a git call per revision, not
    one per question. `guess` is accepted for callers that know the spec folders; the listing
    does not need it.
    """
    # A commit never changes: its listing and spec folders are recorded once, by its sha, and a
    # plan against a revision seen before starts no `ls-tree`.
    record = root / CACHE_DIR / f"{sha}.tree.marshal"
    known = read_record(record)
    if isinstance(known, tuple) and len(known) == 2 and isinstance(known[0], dict):
        listing, spec_dirs = known
    else:
        listing = git.tree(sha, [])
        spec_dirs = _spec_dirs(git.read(listing[CONFIG]) if CONFIG in listing else None)
        write_record(record, (listing, spec_dirs))
    config = {CONFIG: listing[CONFIG]} if CONFIG in listing else {}
    files = {p: b for p, b in listing.items() if p != LOCK and p != CONFIG and p.endswith((".yaml", ".yml"))
             and under(p, spec_dirs)}
    files.update(config)
    extra = {LOCK: listing[LOCK]} if LOCK in listing else {}

    def blob_of(paths: list[str]) -> dict[str, str]:
        return {p: listing[p] for p in paths if listing.get(p)}

    def read(path: str) -> bytes:
        blob = files.get(path) or extra.get(path) or listing.get(path)
        if blob is None:
            raise KeyError(path)
        return git.read(blob)

    return Snapshot(label, sha, root, files, spec_dirs, read, _blob_of=blob_of)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def worktree(root: Path) -> Snapshot:
    from compiler.load import discover

    config = root / CONFIG
    spec_dirs = _spec_dirs(config.read_bytes() if config.is_file() else None)
    found, _ = discover([root / d for d in spec_dirs], root)
    paths = sorted({p.resolve().relative_to(root.resolve()).as_posix() for p in found} - {CONFIG})
    if config.is_file():
        paths.append(CONFIG)
    contents: dict[str, bytes] = {}

    def read(path: str) -> bytes:
        if path not in contents:
            contents[path] = (root / path).read_bytes()
        return contents[path]

    def blob_of(wanted: list[str]) -> dict[str, str]:
        out = {}
        for p in wanted:
            target = root / p
            try:
                if target.resolve().is_relative_to(root.resolve()) and target.is_file():
                    out[p] = blob_id(read(p))
            except OSError:
                continue
        return out

    files = {p: blob_id(read(p)) for p in paths}
    return Snapshot(WORKTREE, None, root, files, spec_dirs, read, _blob_of=blob_of)

"""A cache of the compiled IR, keyed by everything it is a function of.

Those are the bytes of `charter.yaml` and of every spec file, and the Charter code itself.

`charter run` and `check-data` on an unchanged tree then skip parsing, validation and the
IR build, and never import pydantic. On another tree, the entry still serves the IR build: its
pipelines whose specs did not change are reused (`compiler/ir/memo.py`). The cache lives in
`.charter/cache/` (never committed), holds the IR of a tree that validated without errors, and
is written atomically. Its first line is the key (JSON), so a miss is known before the graph is
read; the rest is `marshal` (the graph and the build memo are plain data, which it reads back a
quarter faster than JSON), so the key names the Python version that wrote it.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.ir.graph import PipelineGraph, forget_digests, pipeline_digest

if TYPE_CHECKING:
    from compiler.ir.memo import BuildMemo

CACHE = Path(".charter") / "cache" / "ir.marshal"


def tree_key(root: Path, spec_dirs: list[str]) -> str:
    """The hash of the code, charter.yaml and every spec file: once per command and tree.

    A compile asks three times (cache lookup, store, the render memo); the specs do not change
    while one command runs (it writes only generated files, outside the spec folders).
    `compiler.cli.main` forgets the memo when a command starts, so that commands run one after
    another in one process (tests, editors) each see the files as they are.
    """
    return _tree_key(root, tuple(spec_dirs))


def forget() -> None:
    from compiler.load import forget_read

    _tree_key.cache_clear()
    forget_digests()
    forget_read()


@functools.lru_cache(maxsize=8)
def _tree_key(root: Path, spec_dirs: tuple[str, ...]) -> str:
    from compiler.load import discover, read_spec

    digest = hashlib.sha256(code_fingerprint().encode())
    config = root / "charter.yaml"
    digest.update(config.read_bytes() if config.is_file() else b"-")
    files, missing = discover([root / d for d in spec_dirs], root)
    resolved_config = config.resolve()  # discover's paths are resolved already
    for path in files:
        if path == resolved_config:
            continue
        digest.update(b"\0" + os.fsencode(path) + b"\0")  # a file name in any bytes
        digest.update(read_spec(path))  # kept for the loader: the file is read once per command
    digest.update(repr(missing).encode())
    return digest.hexdigest()


def load_cached(root: Path) -> PipelineGraph | None:
    return lookup(root)[0]


class Previous:
    """The IR cache's entry for another tree: its pipelines, for `compiler.ir.memo`, read only when asked."""

    def __init__(self, body: bytes | memoryview | None = None) -> None:
        self._body = body
        self.built: BuildMemo | None = None  # the memo handed out, with this build's entries: for `store`

    def memo(self, digests: Mapping[str, str]) -> BuildMemo:
        self.built = self._memo(digests)
        return self.built

    def _memo(self, digests: Mapping[str, str]) -> BuildMemo:
        from compiler.ir.memo import BuildMemo

        try:
            entry = marshal.loads(self._body) if self._body else {}
            old, graph = entry.get("memo"), entry.get("graph")
            if not isinstance(old, dict) or not isinstance(graph, dict):
                return BuildMemo(digests)
        except (ValueError, TypeError, AttributeError, EOFError):
            return BuildMemo(digests)  # a damaged entry: build everything

        def pipelines() -> dict[str, dict]:
            return {**{f"model:{m['name']}": m for m in graph["models"]},
                    **{f"check:{c['name']}": c for c in graph.get("checks", ())}}

        return BuildMemo(digests, old, pipelines)


def lookup(root: Path) -> tuple[PipelineGraph | None, Previous]:
    """The cached IR of this very tree, else None and what the cache holds of another one.

    The entry's first line is its key, so that a miss is known before the graph is parsed.
    """
    try:
        data = (root / CACHE).read_bytes()
        line = data.index(b"\n")
        head, body = data[:line], memoryview(data)[line + 1:]  # the body (4 MB on 1,000 specs): not copied
        entry = orjson.loads(head)
        if entry["python"] != sys.version:
            return None, Previous()  # marshal's format is the Python version's
        if entry["key"] != tree_key(root, entry["spec_dirs"]):
            return None, Previous(body)
        return PipelineGraph.from_dict(marshal.loads(body)["graph"]), Previous()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
        return None, Previous()  # no cache, or a damaged one: compile again


def store(root: Path, graph: PipelineGraph, memo: BuildMemo | None = None) -> None:
    spec_dirs = list(graph.project.get("specs", ["specs"]))
    head = {"key": tree_key(root, spec_dirs), "spec_dirs": spec_dirs, "python": sys.version}
    entries = memo.new if memo is not None else {}
    for model in graph.models:  # the render memo's key of each, for the next build that reuses it
        if isinstance(entry := entries.get(f"model:{model.name}"), dict):
            entry["digest"] = pipeline_digest(model)
    body = {"graph": graph.to_dict(), "memo": entries}
    try:  # a cache: recomputed if lost
        write_atomic(root / CACHE, orjson.dumps(head) + b"\n" + marshal.dumps(body), durable=False)
    except (OSError, TypeError, ValueError):  # a spec dir orjson cannot write (a lone surrogate): no cache
        pass  # a read-only checkout still runs, just without the cache

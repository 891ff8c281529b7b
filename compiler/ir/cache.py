"""A cache of the compiled IR, keyed by everything it is a function of.

Those are the bytes of `charter.yaml` and of every spec file, and the Charter code itself.

`charter run` and `check-data` on an unchanged tree then skip parsing, validation and the
IR build, and never import pydantic. The cache lives in `.charter/cache/` (never committed),
holds the IR of a tree that validated without errors, and is written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import orjson

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.ir.graph import PipelineGraph

CACHE = Path(".charter") / "cache" / "ir.json"


def tree_key(root: Path, spec_dirs: list[str]) -> str:
    """The hash of the code, charter.yaml and every spec file: once per command and tree.

    A compile asks three times (cache lookup, store, the render memo); the specs do not change
    while one command runs (it writes only generated files, outside the spec folders).
    `compiler.cli.main` forgets the memo when a command starts, so that commands run one after
    another in one process (tests, editors) each see the files as they are.
    """
    return _tree_key(root, tuple(spec_dirs))


def forget() -> None:
    _tree_key.cache_clear()


@functools.lru_cache(maxsize=8)
def _tree_key(root: Path, spec_dirs: tuple[str, ...]) -> str:
    from compiler.load import discover

    digest = hashlib.sha256(code_fingerprint().encode())
    config = root / "charter.yaml"
    digest.update(config.read_bytes() if config.is_file() else b"-")
    files, missing = discover([root / d for d in spec_dirs], root)
    resolved_config = config.resolve()  # discover's paths are resolved already
    for path in files:
        if path == resolved_config:
            continue
        digest.update(b"\0" + os.fsencode(path) + b"\0")  # a file name in any bytes
        with open(path, "rb") as fh:
            digest.update(fh.read())
    digest.update(repr(missing).encode())
    return digest.hexdigest()


def load_cached(root: Path) -> PipelineGraph | None:
    path = root / CACHE
    try:
        entry = orjson.loads(path.read_bytes())
        if entry["key"] != tree_key(root, entry["spec_dirs"]):
            return None
        return PipelineGraph.from_dict(entry["graph"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or a damaged one: compile again


def store(root: Path, graph: PipelineGraph) -> None:
    spec_dirs = list(graph.project.get("specs", ["specs"]))
    entry = {"key": tree_key(root, spec_dirs), "spec_dirs": spec_dirs, "graph": graph.to_dict()}
    try:
        write_atomic(root / CACHE, orjson.dumps(entry), durable=False)  # a cache: recomputed if lost
    except OSError:
        pass  # a read-only checkout still runs, just without the cache

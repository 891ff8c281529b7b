"""Where a DataSource's file is, and the fingerprint of its bytes, without the runtime libraries.

`charter run` keys the ingest step on it, and `charter status` (a core command, which must
not import polars) compares it with the one recorded in `charter.lock`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from compiler.execute.errors import DataError

__all__ = ["fingerprint", "source_path"]


def source_path(params: dict, root: Path) -> Path:
    path = (root / params["path"]).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"source `{params['source']}`: path `{params['path']}` leaves the repository")
    if not path.is_file():
        raise DataError(f"source `{params['source']}`: file `{params['path']}` not found",
                        hint="check `path`; it is relative to the repository root")
    return path


def fingerprint(params: dict, root: Path, cache: dict | None = None) -> str:
    """The sha256 of the input bytes; for database queries, of the query.

    Data changes behind a query are not detected: `charter run --force` re-reads them.
    `cache` maps a path to (size, mtime_ns, inode, hash), so an unchanged file is not hashed
    again on every run (as DVC's state database does).
    """
    digest = hashlib.sha256()
    if params["format"] == "sql" and params.get("connection"):
        digest.update(f"{params['source']}\0{params.get('query') or params.get('table')}".encode())
        return digest.hexdigest()
    try:
        path = source_path(params, root)
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = cache.get(str(path)) if cache is not None else None
        limit = (params.get("limits") or {}).get("max_file_size")
        if limit is not None and st.st_size > limit:
            file_hash = f"over-limit:{stamp}"  # ingest refuses it: hashing would read it whole first
        elif known and known[:3] == stamp:
            file_hash = known[3]
        else:
            inner = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    inner.update(chunk)
            file_hash = inner.hexdigest()
            if cache is not None:
                cache[str(path)] = [*stamp, file_hash]
        digest.update(file_hash.encode())
    except DataError:
        digest.update(b"missing")  # reported when ingest runs
    if params["format"] == "sql":
        digest.update(f"\0{params.get('query') or params.get('table')}".encode())
    return digest.hexdigest()


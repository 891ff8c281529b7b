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
    """The sha256 of the input bytes; for database queries, of the query and its `watermark`.

    A database source without a `watermark` is fingerprinted by its query alone, and a `spark`
    source by its table's name: changes of their data are not detected (`charter run --force`
    re-reads them). With a `watermark`, the row count and largest watermark value are read in
    the database (`database.watermark`).
    `cache` maps a path to (size, mtime_ns, inode, hash), so an unchanged file is not hashed
    again on every run (as DVC's state database does). A Parquet file above `FOOTER_ABOVE` is
    keyed by its size and footer (`parquet_footer_key`), so even a fresh checkout never reads it
    whole for its key.

    A `feast` source's covers what Feast's join reads: the entity source's fingerprint,
    `feature_store.yaml`, the registry (what `feast apply` wrote from the definitions) and every
    local file source of the project's feature views. Sources in object storage or a database
    are not covered, as for a `sql` source.
    """
    digest = hashlib.sha256()
    if params["format"] == "spark":  # as a database source without a `watermark`: the table's name alone
        digest.update(f"{params['source']}\0spark\0{params['table']}".encode())
        return digest.hexdigest()
    if params["format"] == "sql" and params.get("connection"):
        digest.update(f"{params['source']}\0{params.get('query') or params.get('table')}".encode())
        if params.get("watermark"):  # the data behind the query, as its row count and newest watermark
            from compiler.execute.database import watermark

            digest.update(b"\0" + watermark(params).encode())
        return digest.hexdigest()
    if params["format"] == "feast":
        return _feast(params, root, cache)
    try:
        path = source_path(params, root)
        if params["format"] == "parquet" and (footer := parquet_footer_key(path)) is not None:
            digest.update(footer.encode())
        else:
            digest.update(_file_hash(path, (params.get("limits") or {}).get("max_file_size"), cache).encode())
    except DataError:
        digest.update(b"missing")  # reported when ingest runs
    if params["format"] == "sql":
        digest.update(f"\0{params.get('query') or params.get('table')}".encode())
    return digest.hexdigest()


# A Parquet file larger than this is keyed by its size and footer instead of its bytes.
FOOTER_ABOVE = 256 << 20
_MAGIC = b"PAR1"


def parquet_footer_key(path: Path, above: int | None = None) -> str | None:
    """The key of a large Parquet file without reading its data pages: its size and footer, or None.

    The footer (Parquet's FileMetaData) holds the schema, the row count, and per row group and
    column chunk the offsets, the compressed and uncompressed sizes and the statistics (min, max,
    null count) of the data. Any rewrite that adds, removes or changes rows changes some of them.
    What this trusts: a file of the same size whose footer is byte for byte the same holds the
    same data; an edit in place that keeps every page's size and every chunk's statistics (two
    values swapped within a page) would go unseen. Files at most `above` bytes, and files whose
    last bytes are not a Parquet footer, return None: they are hashed whole.
    """
    size = path.stat().st_size
    if size <= (FOOTER_ABOVE if above is None else above):
        return None
    with path.open("rb") as fh:
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != _MAGIC or not 0 < length <= size - 12:
            return None
        fh.seek(size - 8 - length)
        footer = fh.read(length)
    return "parquet-footer:" + hashlib.sha256(size.to_bytes(8, "little") + footer).hexdigest()


def _file_hash(path: Path, limit: int | None, cache: dict | None) -> str:
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
    known = cache.get(str(path)) if cache is not None else None
    if limit is not None and st.st_size > limit:
        return f"over-limit:{stamp}"  # ingest refuses it: hashing would read it whole first
    if known and known[:3] == stamp:
        return known[3]
    inner = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            inner.update(chunk)
    if cache is not None:
        cache[str(path)] = [*stamp, inner.hexdigest()]
    return inner.hexdigest()


def _feast(params: dict, root: Path, cache: dict | None) -> str:
    from compiler.feastreg import RegistryError, registry_files

    opts = params["feast"]
    digest = hashlib.sha256(b"feast\0" + fingerprint(opts["entity_source"], root, cache).encode())
    repo = root / opts["repo"]
    try:
        for path in registry_files(repo):
            shown = path.relative_to(repo) if path.is_relative_to(repo) else path
            digest.update(f"\0{shown}\0".encode())
            digest.update(_file_hash(path, None, cache).encode() if path.is_file() else b"missing")
    except (RegistryError, OSError) as exc:
        digest.update(f"\0unreadable: {exc}".encode())  # reported when ingest runs
    return digest.hexdigest()

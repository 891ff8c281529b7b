"""Bounded reading: a data file past its declared limits is refused before it is read whole.

Ingest checks the file's size on disk (`max_file_size`) before it opens it, and counts rows
while reading at most one more row than `max_rows`. A compressed CSV or JSON Lines file
(gzip, bzip2, xz, zstd, zip) is inflated here, never by the reader library, in chunks of
1 MiB into a temporary file, with a counter that stops at `max_decompressed_size` and as soon
as the output outgrows `max_compression_ratio` times the compressed bytes read: a bomb (8 MB
of gzip inflating to 1.5 GB) is stopped after its first MiB instead of exhausting memory.
Parquet compresses inside the file; its metadata declares the rows and the inflated size,
so those are checked before any page is read.

Every refusal is a `RunError` with exit 2 (the input is out of bounds, not wrong) that names
the file, the limit and the field that raises it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from compiler.execute.failure import RunError

CHUNK = 1 << 20
# The ratio counts only past the first MiB of output: a tiny file of repeated lines may shrink
# 200 times and is harmless; a bomb has inflated a thousand times by then.
RATIO_GRACE = 1 << 20
_UNITS = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("TB", 10**12), ("GB", 10**9),
          ("MB", 10**6), ("KB", 10**3))  # fmt: skip


def size_text(n: int) -> str:
    """A limit as a spec spells it: `1073741824` -> `1GiB`, `500000000` -> `500MB`."""
    for unit, value in _UNITS:
        if n >= value and n % value == 0:
            return f"{n // value}{unit}"
    return f"{n}B"


def limits(params: dict) -> dict:
    return params.get("limits") or {}


def measured(n: int) -> str:
    """A size as measured, one decimal: `16.2 KiB`, `2.0 MiB`."""
    for unit, value in _UNITS[:4]:
        if n >= value:
            return f"{n / value:.1f} {unit}"
    return f"{n} B"


def _refuse(params: dict, what: str, field: str, why: str = "") -> RunError:
    """`what` says how the file exceeds `field`; the hint says how to raise it."""
    source = params["source"]
    return RunError(f"source `{source}`: {what}",
                    hint=f"{why}if the file is genuine, raise `spec.limits.{field}` of the DataSource `{source}` "
                         f"(or `limits.data.{field}` in charter.yaml, for every source)")


def check_size(params: dict, path: Path) -> None:
    """Refuse a file larger on disk than `max_file_size`, before anything reads it."""
    limit = limits(params).get("max_file_size")
    size = path.stat().st_size
    if limit is not None and size > limit:
        raise _refuse(params, f"`{params['path']}` is {measured(size)} on disk, above the limit "
                              f"`max_file_size: {size_text(limit)}`; it was not read", "max_file_size")


def over_size(params: dict, size: int) -> bool:
    limit = limits(params).get("max_file_size")
    return limit is not None and size > limit


def check_rows(params: dict, rows: int, exact: bool = False) -> None:
    """Refuse more rows than `max_rows`; readers pass at most `max_rows + 1` of them."""
    limit = limits(params).get("max_rows")
    if limit is not None and rows > limit:
        many = f"{rows} rows" if exact else f"more than {limit} rows"
        where = f"`{params['path']}`" if params.get("path") else f"table `{params['table']}`" \
            if params.get("table") else "the query"
        raise _refuse(params, f"{where} has {many}, above the limit `max_rows: {limit}`"
                              + ("" if exact else f"; reading stopped at row {limit + 1}"), "max_rows")


def row_cap(params: dict) -> int | None:
    """How many rows to read at most: one past the limit, to tell "at the limit" from "over"."""
    limit = limits(params).get("max_rows")
    return None if limit is None else limit + 1


def check_parquet(params: dict, path: Path) -> None:
    """Rows and inflated size from the Parquet footer, before a page is read."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    check_rows(params, meta.num_rows, exact=True)
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    cap = limits(params).get("max_decompressed_size")
    if cap is not None and inflated > cap:
        raise _refuse(params, f"`{params['path']}` declares {measured(inflated)} of uncompressed column data, above "
                              f"the limit `max_decompressed_size: {size_text(cap)}`; no data page was read",
                      "max_decompressed_size")


class _Counting(io.RawIOBase):
    """A read-only view of a file that counts the bytes read through it."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


@contextmanager
def _stream(kind: str, raw: _Counting, params: dict) -> Iterator[Any]:
    """A file-like object of the decompressed bytes, read through `raw` (which counts them)."""
    source = cast(IO[bytes], raw)
    if kind == "gzip":
        yield gzip.GzipFile(fileobj=source, mode="rb")
    elif kind == "bzip2":
        yield bz2.BZ2File(source, mode="rb")
    elif kind == "xz":
        yield lzma.LZMAFile(source, mode="rb")
    elif kind == "zstd":
        import pyarrow as pa

        yield pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd")
    else:
        with zipfile.ZipFile(raw) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise RunError(f"source `{params['source']}`: `{params['path']}` is a zip archive of "
                               f"{len(members)} files", hint="a zip data file must hold exactly one file")
            with archive.open(members[0]) as member:
                yield member


@contextmanager
def inflated(params: dict, path: Path, kind: str) -> Iterator[Path]:
    """The file decompressed into a temporary file, within the limits; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="charter-inflate-"))
    try:
        target = folder / path.name
        try:
            _inflate(params, path, kind, target)
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, lzma.LZMAError, zlib.error) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                exc.filename = exc.filename or str(target)  # a full temp folder: say where
                raise  # the machine's problem (disk full, permission), reported as such
            raise RunError(f"source `{params['source']}`: `{params['path']}` looks {kind}-compressed but does not "
                           f"decompress ({str(exc) or type(exc).__name__})",
                           hint="check that the file is complete") from None
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _inflate(params: dict, path: Path, kind: str, target: Path) -> None:
    cap = limits(params).get("max_decompressed_size")
    ratio = limits(params).get("max_compression_ratio")
    with path.open("rb") as raw_file, target.open("wb") as out:
        raw = _Counting(raw_file)
        with _stream(kind, raw, params) as stream:
            total = 0
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if cap is not None and total > cap:
                    raise _refuse(params, f"`{params['path']}` ({kind}) inflates to more than the limit "
                                          f"`max_decompressed_size: {size_text(cap)}`; reading stopped there",
                                  "max_decompressed_size")
                if ratio is not None and total > RATIO_GRACE and total > ratio * max(raw.count, 1):
                    raise _refuse(params, f"`{params['path']}` ({kind}) inflates more than {ratio} times its size "
                                          f"({measured(total)} out of its first {measured(raw.count)}), above the "
                                          f"limit `max_compression_ratio: {ratio}`; reading stopped there",
                                  "max_compression_ratio", "a decompression bomb inflates like this; ")
                out.write(chunk)

"""Bounded reading: compressed files inflate within limits, and files past a size or row limit are refused.

Each refusal is a `RunError` with exit 2 that names the file, the limit and the field raising it.
The decompression bomb is built here, small on disk: gzip members of 10 MiB of zeros, repeated.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.execute.failure import RunError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from tests.conftest import REPO, copy_example  # noqa: E402

SCHEMA = [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
DEFAULTS = {"max_file_size": None, "max_rows": None, "max_decompressed_size": 1 << 30, "max_compression_ratio": 100}


def _params(path: str, fmt: str = "csv", **limits) -> dict:
    return {"source": "t", "format": fmt, "path": path, "schema": SCHEMA, "limits": {**DEFAULTS, **limits}}


def _csv(rows: int) -> bytes:
    return ("a,b\n" + "".join(f"{i},row{i % 7}\n" for i in range(rows))).encode()


def _zstd(data: bytes) -> bytes:
    import pyarrow as pa

    return pa.compress(data, codec="zstd", asbytes=True)


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("t.csv", data)
    return out.getvalue()


CODECS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress, "zstd": _zstd, "zip": _zip}


def _refused(params: dict, root: Path) -> str:
    with pytest.raises(RunError) as info:
        read_source(params, root)
    assert info.value.exit_code == 2
    return str(info.value)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_every_codec_reads_within_the_limits_and_stops_at_them(tmp_path, codec):
    data = _csv(20_000)
    (tmp_path / "t.csv").write_bytes(CODECS[codec](data))
    assert read_source(_params("t.csv"), tmp_path).height == 20_000
    text = _refused(_params("t.csv", max_decompressed_size=100_000), tmp_path)
    assert f"`t.csv` ({codec}) inflates to more than the limit `max_decompressed_size: 100KB`" in text
    assert "raise `spec.limits.max_decompressed_size` of the DataSource `t`" in text


def test_a_ratio_past_the_limit_stops_after_the_first_mebibytes(tmp_path):
    (tmp_path / "t.csv").write_bytes(gzip.compress(b"a,b\n" + b"0,0\n" * (4 << 20)))  # 16 MiB, about 1000:1
    text = _refused(_params("t.csv"), tmp_path)
    assert "(gzip) inflates more than 100 times its size" in text and "`max_compression_ratio: 100`" in text
    assert "a decompression bomb inflates like this" in text
    assert read_source(_params("t.csv", max_compression_ratio=5000), tmp_path).height == 4 << 20


def test_a_small_file_of_repeated_lines_is_no_bomb(tmp_path):
    """The ratio counts past the first MiB: 40 KB of one line shrinks 200 times and is harmless."""
    (tmp_path / "t.csv").write_bytes(gzip.compress(b"a,b\n" + b"1,x\n" * 10_000))
    assert read_source(_params("t.csv"), tmp_path).height == 10_000


def test_a_file_over_its_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    (tmp_path / "t.csv").write_bytes(_csv(1000))

    def never(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(pl, "read_csv", never)
    text = _refused(_params("t.csv", max_file_size=1000), tmp_path)
    assert "`t.csv` is 8.7 KiB on disk, above the limit `max_file_size: 1KB`; it was not read" in text
    from compiler.execute import fingerprint

    monkeypatch.setattr(Path, "open", never)  # nor hashed whole for the run key first
    assert fingerprint.fingerprint(_params("t.csv", max_file_size=1000), tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "sqlite"])
def test_a_row_limit_is_checked_reading_at_most_one_row_past_it(tmp_path, fmt):
    df = pl.DataFrame({"a": list(range(50)), "b": [f"r{i}" for i in range(50)]})
    name = f"t.{fmt}"
    if fmt == "csv":
        df.write_csv(tmp_path / name)
    elif fmt == "jsonl":
        df.write_ndjson(tmp_path / name)
    elif fmt == "parquet":
        df.write_parquet(tmp_path / name)
    else:
        import sqlite3

        with sqlite3.connect(tmp_path / name) as conn:
            conn.execute("create table t (a integer, b text)")
            conn.executemany("insert into t values (?, ?)", df.rows())
    params = _params(name, "sql" if fmt == "sqlite" else fmt, max_rows=49)
    if fmt == "sqlite":
        params["table"] = "t"
    text = _refused(params, tmp_path)
    assert f"`{name}` has " in text and "above the limit `max_rows: 49`" in text
    assert read_source({**params, "limits": {**params["limits"], "max_rows": 50}}, tmp_path).height == 50


def test_parquet_declaring_more_inflated_data_than_allowed(tmp_path):
    """The size the footer declares, before decoding.

    Dictionary or run-length encoded values decode larger still, which `max_rows` bounds.
    """
    import numpy as np

    pl.DataFrame({"a": np.arange(100_000), "b": [f"{i:x}" for i in range(100_000)]}).write_parquet(
        tmp_path / "t.parquet", compression="zstd")
    text = _refused(_params("t.parquet", "parquet", max_decompressed_size=1000), tmp_path)
    assert "of uncompressed column data, above the limit `max_decompressed_size: 1KB`" in text


def test_a_truncated_gzip_says_so(tmp_path):
    (tmp_path / "t.csv").write_bytes(gzip.compress(_csv(1000))[:200])
    with pytest.raises(RunError) as info:
        read_source(_params("t.csv"), tmp_path)
    assert "looks gzip-compressed but does not decompress" in str(info.value)


def test_a_full_temp_folder_while_inflating_is_the_machines_problem(tmp_path, monkeypatch):
    """The inflated copy goes to the temp folder: ENOSPC there (the kernel's, from /dev/full) is no bad file."""
    (tmp_path / "t.csv").write_bytes(gzip.compress(_csv(1000)))
    real = Path.open

    def full(self, mode="r", *args, **kwargs):
        if mode == "wb" and self.parent.name.startswith("charter-inflate-"):
            return real(Path("/dev/full"), mode, *args, **kwargs)
        return real(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(OSError) as info:
        read_source(_params("t.csv"), tmp_path)
    assert info.value.errno == 28 and "charter-inflate-" in info.value.filename


def _bomb(path: Path, mebibytes: int) -> None:
    """A valid gzip file: the header lines, then gzip members of 10 MiB of zeros (about 10 KB each)."""
    member = gzip.compress(b"\0" * (10 << 20), compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress((REPO / "specs/data/customers.csv").read_bytes()))
        for _ in range(mebibytes // 10):
            out.write(member)


_MEASURED = ("import resource, subprocess, sys\n"
             "code = subprocess.run(sys.argv[1:]).returncode\n"
             "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
             "sys.exit(code)\n")


@pytest.mark.parametrize("command", ["run", "check-data"])
def test_a_gzip_bomb_stops_fast_with_a_clean_exit_2(tmp_path, command):
    """1.5 GB of zeros in 1.5 MB of gzip: aborted with SIGABRT (exit 134) before; now a refusal in a second."""
    repo = copy_example(tmp_path / "repo")
    _bomb(repo / "specs/data/customers.csv", 1500)
    assert (repo / "specs/data/customers.csv").stat().st_size < 2_000_000
    started = time.perf_counter()
    args = ["churn"] if command == "run" else ["customers"]
    result = subprocess.run([sys.executable, "-c", _MEASURED, sys.executable, "-m", "compiler", command, *args],
                            cwd=repo, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - started
    rss_mb = int(result.stderr.split("maxrss_kb")[-1]) / 1024
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "`specs/data/customers.csv` (gzip) inflates more than 100 times its size" in out
    assert "`max_compression_ratio: 100`" in out and "raise `spec.limits.max_compression_ratio`" in out
    assert "ingest" in out and "failed" in out and "internal error" not in out
    assert seconds < 30 and rss_mb < 400, (seconds, rss_mb)

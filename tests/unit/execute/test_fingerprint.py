"""The key of a large Parquet file: its size and footer, never its data pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pl = pytest.importorskip("polars")

from compiler.execute import fingerprint as fp  # noqa: E402


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(fp, "FOOTER_ABOVE", 1024)


def _write(path: Path, n: int = 20000, bump: int | None = None, compression: str = "zstd") -> Path:
    values = list(range(n))
    if bump is not None:
        values[bump] += 1
    pl.DataFrame({"id": values, "text": [f"row {i}" for i in range(n)]}).write_parquet(path, row_group_size=5000,
                                                                                        compression=compression)
    return path


def _key(path: Path) -> str:
    params = {"source": "s", "format": "parquet", "path": path.name, "limits": {}}
    return fp.fingerprint(params, path.parent)


def test_the_same_data_written_anywhere_has_the_same_key(tmp_path, small_threshold):
    a = _write(tmp_path / "a.parquet")
    (tmp_path / "other").mkdir()
    b = shutil.copy(a, tmp_path / "other/a.parquet")
    assert fp.parquet_footer_key(a) is not None
    assert _key(a) == _key(Path(b)) == _key(_write(tmp_path / "again.parquet").rename(tmp_path / "a.parquet"))


def test_changed_or_added_rows_change_the_key(tmp_path, small_threshold):
    key = _key(_write(tmp_path / "a.parquet"))
    assert _key(_write(tmp_path / "a.parquet", bump=12345)) != key  # the compressed chunk's size changes
    assert _key(_write(tmp_path / "a.parquet", n=20001)) != key


def test_what_the_key_trusts_an_edit_in_place_that_keeps_sizes_and_statistics(tmp_path, small_threshold):
    path = _write(tmp_path / "a.parquet", compression="uncompressed")
    key = _key(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"row 1234")  # inside a data page: same size, min and max of the chunk unchanged
    data[at:at + 8] = b"row 1235"
    path.write_bytes(bytes(data))
    assert _key(path) == key  # documented in docs/engines.md: such an edit goes unseen
    fp.FOOTER_ABOVE = 1 << 40  # below the threshold the file is hashed whole, and the edit is seen
    assert _key(path) != key


def test_small_files_and_files_without_a_footer_are_hashed_whole(tmp_path, small_threshold):
    path = _write(tmp_path / "a.parquet")
    assert fp.parquet_footer_key(path, above=path.stat().st_size) is None
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"x" * 5000)
    assert fp.parquet_footer_key(fake) is None
    assert _key(fake) != _key(path)

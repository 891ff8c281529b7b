"""Disk full, permission denied, read-only: a clean exit 2 naming the path, and the previous outputs intact.

A test cannot fill a disk, so the failure is injected at the exact write: the temp file's
`write()` raises `OSError(ENOSPC)` (as a full disk makes it), and polars' own error for its
Parquet writer carries the text it gives on a full device (measured on `/dev/full`). Permission
denied uses a read-only folder where the tests do not run as root (root ignores modes), and
the same injection with EACCES where they do.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("sklearn")
pytest.importorskip("skops")

from compiler import cli  # noqa: E402
from tests.conftest import copy_example  # noqa: E402

RECORD = ".charter/artifacts/runs/delivery-time/latest.json"  # a run's outcome, written whether it passed or not


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "repo", ("charter.yaml", "specs", "schemas", "generated", "charter.lock"))


def _files(root: Path) -> dict[str, bytes]:
    """Every output file, by path: the set that must stay byte-identical after a failed command."""
    skip = (".charter/cache", ".charter/locks", ".charter/artifacts/fingerprints.json")
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith(skip)}


def _no_temp_files(root: Path) -> None:
    left = [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".trash.",))]
    assert not left, left


def _fail_writes(monkeypatch, number: int, wanted, *, after: int = 0) -> list[str]:
    """Temp files whose target `wanted(name)` accepts fail at `write()` with `number`, after `after` good ones."""
    real = os.fdopen
    seen: list[str] = []

    class Refusing:
        def __init__(self, fd: int):
            self.fd = fd

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            os.close(self.fd)

        def write(self, data):
            raise OSError(number, os.strerror(number))

    def fdopen(fd, *args, **kwargs):
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if name.endswith(".tmp") and wanted(name):
            seen.append(name)
            if len(seen) > after:
                return Refusing(fd)
        return real(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    return seen


def _run(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _new_version(repo: Path) -> None:
    spec = repo / "specs/delivery/model.yaml"
    spec.write_text(spec.read_text().replace("max_depth: 12", "max_depth: 10"))


def test_disk_full_writing_the_lock_keeps_the_previous_lock_and_package(repo, capsys, monkeypatch):
    code, out = _run(capsys, "run", "delivery-time", "--root", str(repo))
    assert code == 0, out
    _new_version(repo)
    before = _files(repo)
    _fail_writes(monkeypatch, errno.ENOSPC, lambda name: name.startswith(".charter.lock."))
    code, out = _run(capsys, "run", "delivery-time", "--root", str(repo))
    assert code == 2, out
    assert "delivery-time/package" in out and "failed" in out
    assert "cannot write `charter.lock`: no space left on the device (ENOSPC)" in out
    assert "the previous outputs are left as they were" in out and "internal error" not in out
    after = _files(repo)
    assert after["charter.lock"] == before["charter.lock"]
    # The gate did run and pass: the "last evaluated run" (`versus: previous`) is the new one,
    # and the run's record says it failed.
    last = ".charter/artifacts/runs/delivery-time/last.json"
    assert {k: v for k, v in after.items() if k in before and k not in (last, RECORD)} == {
        k: v for k, v in before.items() if k not in (last, RECORD)}
    assert json.loads(after[RECORD])["outcome"] == "failed"
    _no_temp_files(repo)


def test_disk_full_inside_a_step_leaves_no_partial_step(repo, capsys, monkeypatch):
    code, out = _run(capsys, "run", "delivery-time", "--root", str(repo))
    assert code == 0, out

    def full(self, *args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: File out of specification: underlying IO error: No space left "
                                         "on device (os error 28)")

    spec = repo / "specs/delivery/model.yaml"
    spec.write_text(spec.read_text().replace("test_size: 0.2,", "test_size: 0.25,"))  # split runs again
    before = _files(repo)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    code, out = _run(capsys, "run", "delivery-time", "--root", str(repo))
    assert code == 2, out
    assert "delivery-time/split" in out and "failed" in out
    assert "cannot write `.charter/artifacts`: no space left on the device (ENOSPC)" in out
    after = _files(repo)
    assert json.loads(after.pop(RECORD))["failed"].startswith("cannot write `.charter/artifacts`")
    before.pop(RECORD)
    assert after == before  # but the record of the failed run
    steps = repo / ".charter/artifacts/steps"
    assert not [p for p in steps.rglob(".*") if p.is_dir()]  # no half-built step folder


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_compile_writes_the_new_set_aside_then_switches(repo, capsys, monkeypatch, number):
    """A failure at the fifth file leaves every generated file as it was, not four of them new."""
    spec = repo / "specs/churn/model.yaml"
    spec.write_text(spec.read_text().replace("max_iter: 200", "max_iter: 150"))
    before = _files(repo)
    seen = _fail_writes(monkeypatch, number, lambda name: True, after=4)
    code, out = _run(capsys, "compile", "--root", str(repo))
    # the fifth write fails; the IR cache is stored after the render (and refused too: a cache only)
    assert len(seen) >= 5 and code == 2, out
    assert [n for n in seen[5:] if not n.startswith(".ir.json.")] == [], seen
    meaning = {errno.ENOSPC: "no space left on the device (ENOSPC)", errno.EROFS: "the file system is read-only "
               "(EROFS)", errno.EACCES: "permission denied (EACCES)"}[number]
    assert "cannot write `" in out and meaning in out and "no generated file was changed" in out
    assert "internal error" not in out and "wrote " not in out
    assert _files(repo) == before
    _no_temp_files(repo)
    monkeypatch.undo()
    code, out = _run(capsys, "compile", "--root", str(repo))
    assert code == 0 and "wrote generated/" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder; the EACCES injection above covers it")
def test_compile_into_a_folder_without_write_permission(repo, capsys):
    spec = repo / "specs/churn/model.yaml"
    spec.write_text(spec.read_text().replace("max_iter: 200", "max_iter: 150"))
    before = _files(repo)
    folder = repo / "generated/argo"
    folder.chmod(0o555)
    try:
        code, out = _run(capsys, "compile", "--root", str(repo))
    finally:
        folder.chmod(0o755)
    assert code == 2 and "permission denied (EACCES)" in out and "no generated file was changed" in out
    assert _files(repo) == before


def test_run_into_a_read_only_store(repo, capsys, monkeypatch):
    """The store's folders refuse to be created: exit 2 naming the folder, not an internal error."""
    real = os.mkdir

    def read_only(path, *args, **kwargs):
        if ".charter/artifacts" in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, *args, **kwargs)

    before = _files(repo)
    monkeypatch.setattr(os, "mkdir", read_only)
    code, out = _run(capsys, "run", "churn", "--root", str(repo))
    assert code == 2, out
    assert "the file system is read-only (EROFS)" in out and "cannot write `.charter/artifacts" in out
    assert "churn/validate" in out and "failed" in out and "internal error" not in out
    assert _files(repo) == before


def test_check_data_with_an_unreadable_source_is_clean(repo, capsys, monkeypatch):
    """Permission denied on the data file is the machine's problem, said so, with the path."""
    data = repo / "specs/data/customers.csv"
    real = Path.open

    def denied(self, *args, **kwargs):
        if self == data:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    code, out = _run(capsys, "check-data", "customers", "--root", str(repo))
    assert code == 2, out
    assert "cannot write" not in out and "permission denied (EACCES)" in out and "customers.csv" in out
    assert "internal error" not in out


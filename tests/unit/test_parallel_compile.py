"""A compile on two cores (`compiler/fork.py`) writes what one core writes, and fails as one core fails.

The thresholds that keep small trees on one core are set to zero here, so that the worked
example takes every parallel path: the parse ahead of pydantic's import, the parse split, and
the targets rendered and written aside by two processes.
"""

from __future__ import annotations

import errno
import marshal
import os
import threading
from pathlib import Path

import orjson
import pytest

from compiler import cli, fork
from compiler.load import discover, load_documents
from compiler.load import memo as parse_memo
from tests.conftest import copy_example

PARTS = ("charter.yaml", "specs", "schemas", "charter.lock")


def _outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith((".charter", "specs", "schemas"))}


@pytest.fixture
def parallel(monkeypatch) -> list[str]:
    """Every threshold at zero; the list records each fork taken."""
    assert fork.available(), f"fork not available here: threads {[t.name for t in threading.enumerate()]}"
    monkeypatch.setattr(cli, "PARALLEL_ENTRIES", 0)
    monkeypatch.setattr(parse_memo, "PARALLEL_FILES", 1)
    taken: list[str] = []
    real_start = fork.start

    def start(half):
        pending = real_start(half)
        if pending.forked:  # not deferred to `join`
            taken.append(getattr(half, "__qualname__", "?"))
        return pending

    monkeypatch.setattr(fork, "start", start)
    return taken


def _compile(root: Path, capsys) -> tuple[int, str]:
    code = cli.main(["compile", "--root", str(root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_two_cores_write_the_bytes_one_core_writes(tmp_path: Path, parallel, capsys, monkeypatch) -> None:
    one = copy_example(tmp_path / "one", PARTS)
    two = copy_example(tmp_path / "two", PARTS)
    monkeypatch.setenv("CHARTER_JOBS", "1")
    code, alone = _compile(one, capsys)
    assert code == 0 and not parallel
    monkeypatch.delenv("CHARTER_JOBS")
    code, paired = _compile(two, capsys)
    assert code == 0, paired
    assert len(parallel) == 2, parallel  # the parse ahead, then the second half of the targets
    assert paired.replace(str(two), "ROOT") == alone.replace(str(one), "ROOT")  # the same `wrote` lines, in order
    assert _outputs(two) == _outputs(one)
    # the caches hold what one process would have put in them
    render = [orjson.loads((r / ".charter/cache/render.json").read_bytes()) for r in (one, two)]
    for memo in render:
        for bundle in memo["bundles"].values():
            bundle.pop("tree")  # the hash of the spec tree, whose absolute paths differ
            bundle["stat"] = sorted(bundle["stat"])  # each file's stat (inode, times) differs: the same files
    assert render[0] == render[1]
    parsed = [marshal.loads((r / ".charter/cache/parse.marshal").read_bytes())[1] for r in (one, two)]
    assert list(parsed[0]) == list(parsed[1]) and parsed[0] == parsed[1]
    cached = [marshal.loads((r / ".charter/cache/ir.marshal").read_bytes().partition(b"\n")[2]) for r in (one, two)]
    assert cached[0] == cached[1] and cached[0]  # the IR cache, written by the second process (its key: the paths)
    assert not [p for p in two.rglob("*.tmp")]
    # and the next compile of either finds everything up to date
    for root in (one, two):
        code, out = _compile(root, capsys)
        assert code == 0 and "up to date" in out and "wrote" not in out


@pytest.mark.parametrize("where", ["argo", "kubernetes"])  # a target of each half
def test_a_write_failure_in_either_half_changes_no_file(tmp_path: Path, parallel, capsys, monkeypatch,
                                                        where: str) -> None:
    from compiler import atomic

    root = copy_example(tmp_path / "repo", PARTS)
    code, _ = _compile(root, capsys)
    assert code == 0
    spec = root / "specs/churn/model.yaml"
    spec.write_text(spec.read_text().replace("description: ", "description: Edited. ", 1))  # every target
    before = _outputs(root)
    real = atomic._aside

    def aside(path, *args, **kwargs):
        if f"/{where}/" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))  # named, as `_aside` names it
        return real(path, *args, **kwargs)

    monkeypatch.setattr(atomic, "_aside", aside)  # inherited by the forked child
    code, out = _compile(root, capsys)
    assert code == 2, out
    assert "no space left on the device (ENOSPC)" in out and "no generated file was changed" in out
    assert f"generated/{where}/" in out and "internal error" not in out
    assert _outputs(root) == before
    assert not [p for p in root.rglob("*.tmp")]
    monkeypatch.setattr(atomic, "_aside", real)
    code, out = _compile(root, capsys)
    assert code == 0 and f"wrote generated/{where}/" in out


def test_the_parse_split_gives_the_documents_and_problems_one_parse_gives(tmp_path: Path, parallel) -> None:
    root = copy_example(tmp_path / "repo", PARTS)
    (root / "specs/broken.yaml").write_text("kind: [unclosed\n")
    (root / "specs/twice.yaml").write_text("a: 1\na: 2\n")
    files, _ = discover([root / "specs"], root)
    os.environ["CHARTER_JOBS"] = "1"
    try:
        alone = load_documents(files, root, parse_memo.ParseMemo())
    finally:
        del os.environ["CHARTER_JOBS"]
    memo = parse_memo.ParseMemo()
    paired = load_documents(files, root, memo)
    assert [s.path for s in paired[0]] == [s.path for s in alone[0]]
    assert [(d.file, d.index, d.data, d.span("")) for d in paired[1]] == \
        [(d.file, d.index, d.data, d.span("")) for d in alone[1]]
    assert [(d.values, d.keys) for d in paired[1]] == [(d.values, d.keys) for d in alone[1]]
    assert [(d.code, d.message, d.span) for d in paired[2]] == [(d.code, d.message, d.span) for d in alone[2]]
    assert {d.code for d in paired[2]} >= {"L101", "L102"}
    assert memo.parsed == len(paired[0])


def test_a_wrong_guess_of_the_spec_folders_costs_time_only(tmp_path: Path, parallel, capsys) -> None:
    """The parse ahead reads charter.yaml as plain YAML; a tree it misreads still compiles as it is."""
    root = copy_example(tmp_path / "repo", PARTS)
    reference = copy_example(tmp_path / "reference", PARTS)
    assert _compile(reference, capsys)[0] == 0
    parse_memo.prefetch(root / "no-such-folder")  # a prefetch for another tree is dropped, its child reaped
    assert parse_memo._PREFETCHED is None or parse_memo._PREFETCHED[0] != root
    code, out = _compile(root, capsys)
    assert code == 0, out
    assert _outputs(root) == _outputs(reference)
    assert parse_memo._PREFETCHED is None and not fork._PENDING


def test_the_guess_of_the_spec_folders_reads_charter_yaml_within_charters_limits(tmp_path: Path) -> None:
    config = tmp_path / "charter.yaml"
    config.write_text("apiVersion: charter/v1\nkind: Project\nspec: {specs: [ml/specs, shared]}\n")
    assert parse_memo.guess_spec_dirs(tmp_path) == ["ml/specs", "shared"]
    for bad in ("spec: {specs: [/etc]}", "spec: {specs: [../elsewhere]}", "spec: {specs: []}", "spec: [1, 2]",
                "kind: [unclosed", ""):
        config.write_text(bad + "\n")
        assert parse_memo.guess_spec_dirs(tmp_path) == ["specs"], bad
    # an alias bomb: refused by the loader's node limit, not expanded
    names = "abcdefghi"
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{names[i + 1]}: &{names[i + 1]} [{', '.join([f'*{names[i]}'] * 10)}]" for i in range(8)]
    config.write_text("\n".join(bomb) + "\nspec: {specs: [x]}\n")
    assert parse_memo.guess_spec_dirs(tmp_path) == ["specs"]
    config.unlink()
    assert parse_memo.guess_spec_dirs(tmp_path) == ["specs"]


def test_a_second_prefetch_stops_the_first(tmp_path: Path, parallel) -> None:
    one = copy_example(tmp_path / "one", PARTS)
    two = copy_example(tmp_path / "two", PARTS)
    parse_memo.prefetch(one)
    first = parse_memo._PREFETCHED
    assert first is not None and first[1]._ahead is not None
    child = first[1]._ahead.pending._pid
    parse_memo.prefetch(two)
    with pytest.raises(ChildProcessError):
        os.waitpid(child, 0)  # reaped when it was dropped
    memo = parse_memo.ParseMemo.load(two)
    assert memo._ahead is not None and parse_memo._PREFETCHED is None
    memo.drop()
    assert not fork._PENDING


"""Spec cases with inline expectations, mypy-style.

Each folder under `tests/cases/negative/` (and `positive/`) is a small repository made of
`tests/cases/base/` overlaid with the case's own files. A line ending in `# expect: X301`
(or `# expect: X301 S204`) must be where a diagnostic with that code starts; the harness
compares the sets of (file, line, code). Positive cases must have no diagnostics at all.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from compiler.diagnostics.format import format_text
from compiler.driver import validate_tree

CASES = Path(__file__).parent / "cases"
_EXPECT = re.compile(r"#\s*expect:\s*((?:[LSXGRP]\d{3}\s*)+)$")


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if p.is_dir())


def _materialise(case: Path, tmp: Path) -> Path:
    root = tmp / case.name
    shutil.copytree(CASES / "base", root)
    for path in case.rglob("*"):
        if path.is_file():
            dest = root / path.relative_to(case)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    if (root / "specs" / "base.yaml").exists() and (case / "no-base").exists():
        (root / "specs" / "base.yaml").unlink()
    (root / "no-base").unlink(missing_ok=True)
    return root


def _expected(root: Path) -> set[tuple[str, int, str]]:
    out = set()
    for path in sorted(root.rglob("*.y*ml")):
        rel = path.relative_to(root).as_posix()
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            m = _EXPECT.search(line)
            if m:
                out |= {(rel, lineno, code) for code in m.group(1).split()}
    return out


@pytest.mark.parametrize("case", _cases("negative"), ids=lambda p: p.name)
def test_negative_case(case: Path, tmp_path: Path, update_golden: bool):
    root = _materialise(case, tmp_path)
    result = validate_tree(root)
    golden = case / "expected.txt"
    if golden.exists():
        # Every negative case pins its full human output: codes, lines, columns, messages, help.
        text = format_text(result.diagnostics, result.sources, redactions=result.redactions)
        if update_golden:
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), "run `pytest --update-golden` and review the diff"
    got = {(d.span.file, d.span.line, d.code) for d in result.diagnostics if d.span}
    expected = _expected(root)
    assert expected, f"case {case.name} has no `# expect:` annotation"
    assert got == expected, "\n".join(f"{d.span.file}:{d.span.line}:{d.span.col} {d.code} {d.message}"
                                      for d in result.diagnostics if d.span)


@pytest.mark.parametrize("case", _cases("positive"), ids=lambda p: p.name)
def test_positive_case(case: Path, tmp_path: Path):
    root = _materialise(case, tmp_path)
    result = validate_tree(root)
    assert result.diagnostics == (), [d.to_dict() for d in result.diagnostics]

"""Every diagnostic code has an explanation in Ruff's template, and `charter explain` prints it."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from compiler.diagnostics.codes import CODES, explanation
from tests.conftest import REPO, run_charter

HEADINGS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead"]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


@pytest.mark.parametrize("code", sorted(CODES))
def test_explanation_has_the_template(code):
    text = explanation(code)
    positions = [text.find(h) for h in HEADINGS]
    assert -1 not in positions and positions == sorted(positions), f"{code}: headings missing or out of order"
    example, fix = _BLOCK.findall(text)[:2]
    list(yaml.safe_load_all(fix))  # the fix is valid YAML
    if not code.startswith("L1"):  # load errors' examples are broken YAML on purpose
        list(yaml.safe_load_all(example))


def test_no_orphan_explanations():
    files = {p.name[:-3] for p in resources.files("compiler.diagnostics.explain").iterdir() if p.name.endswith(".md")}
    assert files == set(CODES)


def test_explain_command():
    ok = run_charter("explain", "x301", cwd=REPO)
    assert ok.returncode == 0 and ok.stdout.startswith("X301 (unknown-reference, error)")
    by_name = run_charter("explain", "duplicate-key", cwd=REPO)
    assert by_name.returncode == 0 and by_name.stdout.startswith("L102")
    bad = run_charter("explain", "X999", cwd=REPO)
    assert bad.returncode == 2 and "unknown code" in bad.stderr and "Traceback" not in bad.stderr

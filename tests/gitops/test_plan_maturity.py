"""`charter plan` lists the models whose MLOps maturity level changes between the merge base and the head."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import COMMITTED, EXAMPLE, copy_example
from tests.gitops.conftest import charter, commit, edit, git, plan_json


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """The example with its lock and generated files on `main`, and a `feature` branch checked out."""
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    commit(root, "example")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def test_dropping_the_data_validation_lowers_the_level(committed, capsys):
    edit(committed, "specs/churn/model.yaml", "    validation: customers-quality\n", "")
    assert charter(committed, "compile", capsys=capsys)[0] == 0
    commit(committed, "train churn on unchecked data")
    _, plan = plan_json(committed, capsys, "--base", "main", "--head", "feature")
    assert plan["maturity_changes"] == [{"model": "churn", "from": 1, "to": 0}]
    assert plan["summary"]["maturity"] == 1
    code, text, err = charter(committed, "plan", "--base", "main", "--head", "feature", capsys=capsys)
    assert "; maturity level churn 1 -> 0." in text.splitlines()[1], err
    code, md, _ = charter(committed, "plan", "--base", "main", "--head", "feature", "--format", "markdown",
                          capsys=capsys)
    assert "maturity level churn 1 -&gt; 0" in md


def test_a_change_that_keeps_every_level_lists_none(committed, capsys):
    edit(committed, "specs/churn/model.yaml", "min: 0.70", "min: 0.65")
    _, plan = plan_json(committed, capsys, "--base", "main")
    assert plan["maturity_changes"] == [] and plan["summary"]["maturity"] == 0
    code, text, _ = charter(committed, "plan", "--base", "main", capsys=capsys)
    assert "maturity" not in text

"""One classifier: plan, diff, changelog and history give every change the same findings."""

from __future__ import annotations

import json

import pytest

from tests.gitops.conftest import charter, commit, edit, plan_json

MODEL = "specs/churn/model.yaml"
DATA = "specs/churn/data.yaml"
ROLLOUT = "specs/churn/rollout.yaml"


def _by_address(resources: list[dict]) -> dict[str, tuple[str, list[str]]]:
    return {r["address"]: (r["risk"], sorted(f["rule"] for f in r["findings"])) for r in resources}


def _everywhere(repo, capsys, name: str) -> list[dict[str, tuple[str, list[str]]]]:
    """The findings of the last commit as plan, diff, changelog and history see them."""
    _, plan = plan_json(repo, capsys, "--base", "main", "--head", "feature", codes=(0, 1, 2, 3))
    _, out, _ = charter(repo, "diff", "main", "feature", "--format", "json", capsys=capsys)
    diff = json.loads(out)["resource_changes"]
    _, out, _ = charter(repo, "changelog", "--since", "main", "--format", "json", capsys=capsys)
    changelog = [e for entries in json.loads(out)["resources"].values() for e in entries]
    _, out, err = charter(repo, "history", name, "--limit", "1", "--format", "json", capsys=capsys)
    history = json.loads(out)["commits"][0]["changes"]
    return [_by_address(x) for x in (plan["resource_changes"], diff, changelog, history)]


@pytest.mark.parametrize(("old", "new", "rule"), [
    ("- {name: tenure_months, type: integer", "- {name: tenure_months, type: float", "P102"),
    ("    - {name: support_calls, type: integer, min: 0}\n", "", "P101"),
])
def test_column_changes_agree_everywhere(repo, capsys, old, new, rule):
    text = (repo / DATA).read_text()
    if rule == "P101":
        line = next(x for x in text.splitlines() if "name: support_calls" in x)
        (repo / DATA).write_text(text.replace(line + "\n", ""))
    else:
        edit(repo, DATA, old, new)
    commit(repo, "column")
    plan, diff, changelog, history = _everywhere(repo, capsys, "DataSource/customers")
    assert plan["DataSource/customers"] == ("breaking", [rule])
    assert diff["DataSource/customers"] == changelog["DataSource/customers"] == plan["DataSource/customers"]
    assert history["DataSource/customers"] == plan["DataSource/customers"]


def test_a_consistent_rename_is_one_rename_and_nothing_breaks(repo, capsys):
    edit(repo, DATA, "name: customers-quality", "name: customers-checks")
    edit(repo, MODEL, "validation: customers-quality", "validation: customers-checks")
    edit(repo, ROLLOUT, "customers-quality,", "customers-checks,")
    commit(repo, "rename the suite")
    plan, diff, changelog, history = _everywhere(repo, capsys, "ValidationSuite/customers-checks")
    assert plan == diff == changelog
    assert plan["ValidationSuite/customers-checks"] == ("risky", ["P206"])  # no duplicate P299
    assert plan["Ownership/churn-owners"] == ("safe", ["P305"])  # not P106 owner-removed
    assert plan["Model/churn"] == ("safe", ["P305"])
    assert history["ValidationSuite/customers-checks"] == plan["ValidationSuite/customers-checks"]
    code, doc = plan_json(repo, capsys, "--base", "main", "--head", "feature")
    assert code == 2 and doc["summary"]["breaking"] == 0
    assert [r["action"] for r in doc["resource_changes"]].count("rename") == 1


def test_gate_reorder_is_no_change_and_a_gate_edit_is_found(repo, capsys):
    edit(repo, MODEL, "    - {metric: roc_auc, min: 0.70}\n    - {metric: recall, slice: new-customers, min: 0.5}\n",
         "    - {metric: recall, slice: new-customers, min: 0.6}\n    - {metric: roc_auc, min: 0.70}\n")
    commit(repo, "reorder and tighten")
    plan, diff, changelog, _ = _everywhere(repo, capsys, "churn-quality")
    assert plan == diff == changelog == {"MetricSet/churn-quality": ("safe", ["P301"])}

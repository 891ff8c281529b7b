"""Invalid revisions never look like deletions: problems are reported, the rest is planned, exit 1."""

from __future__ import annotations

from tests.gitops.conftest import commit, edit, plan_json

MODEL = "specs/churn/model.yaml"
ROLLOUT = "specs/churn/rollout.yaml"


def _rules(plan: dict) -> set[str]:
    return {f["rule"] for r in plan["resource_changes"] for f in r["findings"]}


def test_a_file_that_does_not_parse_at_head_is_unknown_not_deleted(repo, capsys):
    with (repo / ROLLOUT).open("a") as f:
        f.write("kind: [unclosed\n")  # the file's second document (the Ownership) no longer parses
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.75}")
    code, plan = plan_json(repo, capsys, "--base", "main", codes=(1,))
    assert any("rollout.yaml:" in p and "L101" in p for p in plan["problems"])
    assert [r["address"] for r in plan["resource_changes"]] == ["MetricSet/churn-quality"]
    assert "P108" not in _rules(plan) and plan["summary"]["delete"] == 0
    assert [u["address"] for u in plan["unknown_resources"]] == ["Ownership/churn-owners"]
    assert {i["action"] for i in plan["impact"].values()} == {"unknown"}
    assert plan["generated_changes"] == []  # not "24 files deleted"
    assert [a["handle"] for a in plan["approvals"]] == ["@bob"]  # still computed for the gate change
    assert plan["summary"]["invalid"]


def test_unknown_impact_is_said_in_text_and_markdown(repo, capsys):
    from tests.gitops.conftest import charter

    (repo / "specs/churn/broken.yaml").write_text("kind: [unclosed\n")
    code, out, _ = charter(repo, "plan", "--base", "main", capsys=capsys)
    assert code == 1 and "churn: unknown (WORKTREE does not compile)" in out and "delete" not in out
    code, out, _ = charter(repo, "plan", "--base", "main", "--format", "markdown", capsys=capsys)
    assert code == 1 and "| churn | unknown: WORKTREE does not compile | unknown |" in out


def test_plan_of_an_invalid_revision_against_itself_is_empty(repo, capsys):
    (repo / "specs/churn/broken.yaml").write_text("kind: [unclosed\n")
    commit(repo, "broken")
    code, plan = plan_json(repo, capsys, "--base", "feature", "--head", "feature", codes=(1,))
    assert plan["resource_changes"] == [] and plan["unknown_resources"] == []
    assert plan["generated_changes"] == [] and not plan["approvals"]


def test_a_base_that_does_not_parse_hides_no_creation(repo, capsys):
    from tests.gitops.conftest import git

    git(repo, "checkout", "-q", "main")
    edit(repo, ROLLOUT, "kind: Ownership", "kind: [Ownership")
    commit(repo, "break main")
    git(repo, "checkout", "-q", "-b", "fix")
    edit(repo, ROLLOUT, "kind: [Ownership", "kind: Ownership")
    code, plan = plan_json(repo, capsys, "--base", "main")  # a fix of the base is planned, not failed
    assert code in (2, 3) and plan["summary"]["create"] == 0
    assert [u["address"] for u in plan["unknown_resources"]] == ["Ownership/churn-owners"]
    assert {i["action"] for i in plan["impact"].values()} == {"unknown"}


def test_a_new_model_nobody_owns_blocks(repo, capsys):
    text = (repo / MODEL).read_text()
    model = text.split("---")[0].replace("name: churn\n", "name: churn-two\n", 1)
    (repo / "specs/churn/two.yaml").write_text(model)
    code, plan = plan_json(repo, capsys, "--base", "main", codes=(1,))
    (res,) = plan["resource_changes"]
    assert res["address"] == "Model/churn-two" and res["unowned"]
    assert plan["summary"]["blocked"] and "nobody owns Model/churn-two" in plan["summary"]["blocked_reason"]
    assert plan["impact"]["churn"]["action"] == "unknown"


def test_a_new_model_covered_at_head_is_approved_by_that_ownerships_base_owners(repo, capsys):
    text = (repo / MODEL).read_text()
    model = text.split("---")[0].replace("name: churn\n", "name: churn-two\n", 1)
    (repo / "specs/churn/two.yaml").write_text(model)
    edit(repo, ROLLOUT, "covers: [customers,", "covers: [churn-two, customers,")
    code, plan = plan_json(repo, capsys, "--base", "main")
    res = {r["address"]: r for r in plan["resource_changes"]}
    assert res["Model/churn-two"]["owners"]["accountable"] == ["@bob"] and not plan["summary"]["blocked"]
    assert plan["impact"]["churn-two"]["action"] == "create"


def test_reordered_gates_rerun_nothing(repo, capsys):
    edit(repo, MODEL, "    - {metric: roc_auc, min: 0.70}\n    - {metric: recall, slice: new-customers, min: 0.5}\n",
         "    - {metric: recall, slice: new-customers, min: 0.5}\n    - {metric: roc_auc, min: 0.70}\n")
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert plan["resource_changes"] == [] and plan["impact"] == {}

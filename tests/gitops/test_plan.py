"""`charter plan` on the example in a temporary git repository: diff, risk, approvals, exits."""

from __future__ import annotations

import json

import pytest

from compiler.gitops.report import to_markdown
from tests.gitops.conftest import charter, commit, edit, git, plan_json

MODEL = "specs/churn/model.yaml"
DATA = "specs/churn/data.yaml"
ROLLOUT = "specs/churn/rollout.yaml"


def _rules(plan: dict) -> set[str]:
    return {f["rule"] for r in plan["resource_changes"] for f in r["findings"]}


def test_no_changes_exits_0(repo, capsys):
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert code == 0 and plan["resource_changes"] == [] and plan["format_version"] == "1.0"
    assert plan["base"]["sha"] == plan["merge_base"] == plan["head"]["sha"]


def test_loosened_gate_is_breaking_and_needs_the_base_accountable(repo, capsys):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.65}")
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert code == 3 and plan["summary"]["blocked"]
    (res,) = plan["resource_changes"]
    assert res["address"] == "MetricSet/churn-quality" and res["risk"] == "breaking"
    assert res["changes"] == [{"path": "spec.gates[roc_auc].min", "op": "change", "before": 0.7, "after": 0.65}]
    assert _rules(plan) == {"P103"}
    assert [a["handle"] for a in plan["approvals"]] == ["@bob"]
    assert plan["impact"]["churn"]["rerun"] == ["gate", "package"]
    assert "generated/ir.json" in {g["path"] for g in plan["generated_changes"]}
    code, plan = plan_json(repo, capsys, "--base", "main", "--approved-by", "@bob")
    assert code == 2 and plan["approvals"][0]["approved"] and not plan["summary"]["blocked"]


def test_tightened_gate_is_safe(repo, capsys):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.72}")
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert code == 2 and _rules(plan) == {"P301"} and plan["summary"]["safe"] == 1


def test_pr_cannot_approve_itself_by_editing_the_raci(repo, capsys):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.5}")
    edit(repo, ROLLOUT, 'model: {responsible: ["@acme/ds"], accountable: "@bob"',
         'model: {responsible: ["@acme/ds"], accountable: "@mallory"')
    edit(repo, ROLLOUT, 'evaluation: {responsible: ["@acme/ds"], accountable: "@bob"}',
         'evaluation: {responsible: ["@acme/ds"], accountable: "@mallory"}')
    commit(repo, "make myself accountable")
    code, plan = plan_json(repo, capsys, "--base", "main", "--head", "feature", "--approved-by", "@mallory")
    assert code == 3
    handles = {a["handle"]: a["approved"] for a in plan["approvals"]}
    assert handles["@bob"] is False  # the base's Accountable, not the one the branch wrote
    assert "P106" in _rules(plan)  # an Accountable was replaced: owner removed


@pytest.mark.parametrize(("path", "old", "new", "rule"), [
    (DATA, "- {name: tenure_months, type: integer", "- {name: tenure_months, type: float", "P102"),
    (MODEL, "    - {metric: recall, slice: new-customers, min: 0.5}\n", "", "P104"),
    (ROLLOUT, "{traffic: 50, pause: 2h}", "", "P105"),
    (MODEL, 'schedule: "0 6 * * *"', 'schedule: "0 6 * * *"\n    enabled: false', "P107"),
    (ROLLOUT, "approval: accountable", "approval: none", "P109"),
    (MODEL, "max_iter: 200", "max_iter: 300", "P201"),
    (DATA, "{rule: unique, columns: [customer_id]}", "{rule: unique, columns: [customer_id], severity: warn}", "P203"),
    (MODEL, "description: Predicts which customers cancel within the next month.",
     "description: Predicts churn.", "P302"),
])
def test_risk_rules(repo, capsys, path, old, new, rule):
    text = (repo / path).read_text()
    if rule == "P105":
        old, new = "      steps:\n", "      steps:\n"
        assert "{traffic: 50, pause: 2h}" in text
        (repo / path).write_text(text.replace("- {traffic: 50, pause: 2h}\n", "").replace(
            "{traffic: 50, pause: 2h}, ", "").replace(", {traffic: 50, pause: 2h}", ""))
    else:
        edit(repo, path, old, new)
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert rule in _rules(plan), json.dumps(plan["resource_changes"], indent=1)


def test_removed_column_used_by_a_model_is_breaking(repo, capsys):
    text = (repo / DATA).read_text()
    line = next(x for x in text.splitlines() if "name: support_calls" in x)
    (repo / DATA).write_text(text.replace(line + "\n", ""))
    code, plan = plan_json(repo, capsys, "--base", "main", codes=(1,))  # the model reads it: head is invalid
    assert "P101" in _rules(plan)


def test_deleted_model_and_renamed_file(repo, capsys):
    git(repo, "mv", "specs/churn/data.yaml", "specs/churn/sources.yaml")
    _, plan = plan_json(repo, capsys, "--base", "main")
    moved = {r["address"]: r for r in plan["resource_changes"]}
    assert moved["DataSource/customers"]["action"] == "move"
    assert moved["DataSource/customers"]["previous_file"] == "specs/churn/data.yaml"
    (repo / "specs/delivery/model.yaml").unlink()  # its RolloutPolicy and Ownership now name nothing
    code, plan = plan_json(repo, capsys, "--base", "main", codes=(1,))
    assert {"P108"} <= _rules(plan)  # the deletion is real, but what it does is not known: head is invalid
    assert {m: i["action"] for m, i in plan["impact"].items()} == {"churn": "unknown", "delivery-time": "unknown"}
    assert plan["generated_changes"] == [] and plan["summary"]["invalid"]


def test_renamed_resource(repo, capsys):
    text = (repo / DATA).read_text()
    assert "name: customers-quality" in text
    edit(repo, "specs/churn/data.yaml", "name: customers-quality", "name: customers-checks")
    _, plan = plan_json(repo, capsys, "--base", "main", codes=(1,))  # the model still names the old one
    kinds = {r["address"]: r["action"] for r in plan["resource_changes"]}
    assert kinds.get("ValidationSuite/customers-checks") == "rename"


def test_spec_that_does_not_parse_at_head_is_reported(repo, capsys):
    (repo / "specs/churn/broken.yaml").write_text("kind: [unclosed\n")
    edit(repo, MODEL, "max_iter: 200", "max_iter: 201")
    code, out, err = charter(repo, "plan", "--base", "main", "--format", "json", capsys=capsys)
    plan = json.loads(out)
    assert any("broken.yaml:" in p for p in plan["problems"])
    assert any(r["address"] == "Model/churn" for r in plan["resource_changes"])  # still reports what it can


def test_missing_base_in_a_shallow_clone(repo, capsys, tmp_path):
    edit(repo, MODEL, "max_iter: 200", "max_iter: 250")
    commit(repo, "feature work")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo}", str(clone))
    code, out, err = charter(clone, "plan", "--base", "origin/main", capsys=capsys)
    assert code == 1 and "Traceback" not in err
    assert "git ref `origin/main` is not in this repository" in err
    assert "git fetch" in err and "origin main:refs/remotes/origin/main" in err


def test_detached_head_and_merge_commits(repo, capsys):
    edit(repo, MODEL, "max_iter: 200", "max_iter: 250")
    commit(repo, "feature")
    git(repo, "checkout", "-q", "main")
    edit(repo, "specs/delivery/model.yaml", "delivery", "delivery", 1)
    (repo / "README.md").write_text("x\n")
    commit(repo, "main moves on")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    git(repo, "checkout", "-q", "--detach", "HEAD")
    code, plan = plan_json(repo, capsys, "--base", "HEAD~1")
    assert {r["address"] for r in plan["resource_changes"]} == {"Model/churn"}
    assert plan["head"]["sha"] == git(repo, "rev-parse", "HEAD").strip()


def test_spec_folder_not_at_repository_root_and_non_ascii_names(tmp_path, example_repo, capsys):
    outer = tmp_path / "mono"
    (outer / "ml").mkdir(parents=True)
    for item in ("charter.yaml", "specs", "schemas"):
        src = example_repo / item
        dest = outer / "ml" / item
        if src.is_dir():
            import shutil

            shutil.copytree(src, dest)
        else:
            dest.write_bytes(src.read_bytes())
    git(outer, "init", "-q", "-b", "main")
    commit(outer, "init")
    git(outer, "mv", "ml/specs/churn/model.yaml", "ml/specs/churn/modèle de churn.yaml")
    edit(outer / "ml", "specs/churn/modèle de churn.yaml", "max_iter: 200", "max_iter: 220")
    code, plan = plan_json(outer / "ml", capsys, "--base", "main")
    res = {r["address"]: r for r in plan["resource_changes"]}
    assert res["Model/churn"]["file"] == "specs/churn/modèle de churn.yaml"
    assert res["Model/churn"]["previous_file"] == "specs/churn/model.yaml"


def test_markdown_fits_a_comment_and_says_when_cut(repo, capsys):
    edit(repo, MODEL, "max_iter: 200", "max_iter: 250")
    _, plan = plan_json(repo, capsys, "--base", "main")
    plan["resource_changes"] = plan["resource_changes"] * 3000
    text = to_markdown(plan)
    assert len(text) <= 60_000 and "longer than a comment can hold" in text
    assert text.count("<details>") == text.count("</details>")


def test_markdown_escapes_spec_text(repo, capsys):
    edit(repo, MODEL, "description: Predicts which customers cancel within the next month.",
         'description: "```\\n<img src=x onerror=alert(1)> @everyone [x](javascript:1)"')
    code, out, _ = charter(repo, "plan", "--base", "main", "--format", "markdown", capsys=capsys)
    outside_code = out.split("```")[::2]  # fences cannot be closed from spec text
    assert "<img" in out and not any("<img" in part for part in outside_code)


def test_reviews_file_from_the_github_api(repo, capsys, tmp_path):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.65}")
    reviews = tmp_path / "reviews.json"
    reviews.write_text(json.dumps([{"user": {"login": "bob"}, "state": "CHANGES_REQUESTED"},
                                   {"user": {"login": "bob"}, "state": "APPROVED"}]))
    code, plan = plan_json(repo, capsys, "--base", "main", "--reviews", str(reviews))
    assert code == 2 and plan["approvals"][0]["approved"]


def test_rule_waiver_downgrades_a_breaking_change_and_needs_its_approver(repo, capsys):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.65}")
    edit(repo, MODEL, "kind: MetricSet\nmetadata:\n  name: churn-quality\n",
         "kind: MetricSet\nmetadata:\n  name: churn-quality\nwaivers:\n"
         "  - {rule: P103, reason: new data is noisier for a quarter, approver: \"@risk-lead\", expires: 2999-01-01}\n")
    code, plan = plan_json(repo, capsys, "--base", "main", "--approved-by", "@bob")
    res = plan["resource_changes"][0]
    assert res["risk"] == "risky"
    assert {f["rule"] for f in res["findings"]} == {"P103", "P205"}
    assert plan["waivers"][0]["approver"] == "@risk-lead"
    assert code == 3 and {a["handle"] for a in plan["approvals"] if not a["approved"]} == {"@risk-lead"}


def test_secrets_in_a_diff_are_redacted(repo, capsys):
    token = "ghp_" + "a1B2" * 9
    edit(repo, DATA, "path: specs/data/customers.csv", f"path: specs/data/customers.csv\n  password: {token}")
    for fmt in ("json", "text", "markdown"):
        code, out, err = charter(repo, "plan", "--base", "main", "--format", fmt, capsys=capsys)
        assert token not in out + err and "<redacted>" in out, fmt
    code, out, err = charter(repo, "diff", "main", capsys=capsys)
    assert token not in out + err and "<redacted>" in out


def test_terminal_escapes_in_values_are_shown_not_obeyed(repo, capsys):
    edit(repo, MODEL, "description: Predicts which customers cancel within the next month.",
         'description: "\\e[31mred\\u202eevil"')
    code, out, _ = charter(repo, "plan", "--base", "main", capsys=capsys)
    assert "\x1b" not in out and "\u202e" not in out and "\\u001b[31mred\\u202eevil" in out


def test_hostile_files_at_the_base_are_problems_not_crashes(repo, capsys):
    git(repo, "checkout", "-q", "main")
    (repo / "specs/bomb.yaml").write_text("a: &a [" + ",".join(["*a"] * 0) + "x]\n" + "[" * 100_000 + "\n")
    (repo / "specs/binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    commit(repo, "hostile files on main")
    git(repo, "checkout", "-q", "-b", "fix")
    (repo / "specs/bomb.yaml").unlink()
    (repo / "specs/binary.yaml").unlink()
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    code, out, err = charter(repo, "plan", "--base", "main", "--format", "json", capsys=capsys)
    assert code in (2, 3) and "Traceback" not in err
    plan = json.loads(out)
    assert any("bomb.yaml" in p for p in plan["problems"]) and any("binary.yaml" in p for p in plan["problems"])
    assert any(r["address"] == "Model/churn" for r in plan["resource_changes"])


def test_pod_settings_re_run_nothing_and_the_analysis_pod_redeploys(repo, capsys):
    """A `compute` change is P212 with no re-run; the monitor's settings reach production's analysis Job."""
    bigger = "        timeout: 2h\n      monitor: {timeout: 15m}\n"
    edit(repo, "specs/churn/model.yaml", "        timeout: 1h\n", bigger)
    commit(repo, "bigger pods")
    _, plan = plan_json(repo, capsys, "--base", "main")
    assert [f["rule"] for c in plan["resource_changes"] for f in c["findings"]] == ["P212", "P212"]
    assert plan["impact"]["churn"]["rerun"] == []
    assert plan["impact"]["churn"]["deployments"] == ["churn-rollout/production"]  # its AnalysisTemplate's Job

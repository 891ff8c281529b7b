"""The rule gaps of issue 10: metric removal, monitoring's own owner, charter.yaml owned and deployed."""

from __future__ import annotations

from tests.gitops.conftest import commit, edit, git, plan_json

MODEL = "specs/churn/model.yaml"
ROLLOUT = "specs/churn/rollout.yaml"
OWNERS_MONITORING = 'monitoring: {responsible: ["@acme/mlops"], accountable: "@carol"}'


def _branch(repo, *edits: tuple[str, str, str]) -> None:
    """Commit `edits` on main, then branch `feature` from there."""
    for path, old, new in edits:
        edit(repo, path, old, new)
    if edits:
        commit(repo, "base setup")
    git(repo, "checkout", "-q", "-b", "feature")


def _findings(plan: dict, address: str) -> list[str]:
    res = next(r for r in plan["resource_changes"] if r["address"] == address)
    return [f["rule"] for f in res["findings"]]


def test_removing_a_metric_is_risky_not_an_addition(example_repo, capsys):
    _branch(example_repo)
    edit(example_repo, MODEL, "metrics: [accuracy, f1, average_precision]", "metrics: [accuracy, f1]")
    code, plan = plan_json(example_repo, capsys, "--base", "main")
    assert _findings(plan, "MetricSet/churn-quality") == ["P210"]
    assert plan["resource_changes"][0]["risk"] == "risky" and code == 2


def test_adding_a_metric_is_still_safe(example_repo, capsys):
    _branch(example_repo)
    edit(example_repo, MODEL, "average_precision]", "average_precision, recall]")
    _, plan = plan_json(example_repo, capsys, "--base", "main")
    assert _findings(plan, "MetricSet/churn-quality") == ["P303"]


def test_turning_monitoring_off_needs_the_monitoring_accountable(example_repo, capsys):
    _branch(example_repo, (ROLLOUT, OWNERS_MONITORING, OWNERS_MONITORING.replace("@carol", "@dora")))
    edit(example_repo, MODEL, "  monitoring:\n", "  monitoring:\n    enabled: false\n")
    code, plan = plan_json(example_repo, capsys, "--base", "main", "--approved-by", "@bob")
    assert _findings(plan, "MetricSet/churn-quality") == ["P107"]
    assert {a["handle"] for a in plan["approvals"] if not a["approved"]} == {"@dora"} and code == 3


def test_a_monitoring_schedule_change_is_the_monitoring_stage_s(example_repo, capsys):
    _branch(example_repo, (ROLLOUT, OWNERS_MONITORING, OWNERS_MONITORING.replace("@carol", "@dora")))
    edit(example_repo, MODEL, 'schedule: "0 6 * * *"', 'schedule: "0 7 * * *"')
    code, plan = plan_json(example_repo, capsys, "--base", "main", "--approved-by", "@dora")
    assert _findings(plan, "MetricSet/churn-quality") == ["P209"]
    assert [a["handle"] for a in plan["approvals"]] == ["@dora"] and code == 2


def test_charter_yaml_is_owned_by_the_project_stage_and_lists_deployments(example_repo, capsys):
    project = '\n    project: {responsible: ["@acme/platform"], accountable: "@erin"}'
    _branch(example_repo, (ROLLOUT, OWNERS_MONITORING, OWNERS_MONITORING + project))
    edit(example_repo, "charter.yaml", "charter-runner:0.1.0", "charter-runner:0.2.0")
    code, plan = plan_json(example_repo, capsys, "--base", "main")
    assert _findings(plan, "Project/acme-ml") == ["P211"] and not plan["summary"]["blocked"] and code == 2
    assert [a["handle"] for a in plan["approvals"]] == ["@erin"]
    deploys = {m: i["deployments"] for m, i in plan["impact"].items()}
    # every manifest that changes: the model servers run the project's image in every environment
    assert deploys == {"churn": ["churn-rollout/staging", "churn-rollout/production"],
                       "delivery-time": ["delivery-time-rollout/staging", "delivery-time-rollout/production"]}
    code, plan = plan_json(example_repo, capsys, "--base", "main", "--approved-by", "@bob")
    assert code == 3 and "@erin" in plan["summary"]["blocked_reason"]


def test_charter_yaml_falls_back_to_the_default_ownership(example_repo, capsys):
    _branch(example_repo, ("charter.yaml", "  base_branch: main\n",
                           "  base_branch: main\n  default_ownership: churn-owners\n"))
    edit(example_repo, "charter.yaml", "charter-runner:0.1.0", "charter-runner:0.2.0")
    code, plan = plan_json(example_repo, capsys, "--base", "main")
    res = next(r for r in plan["resource_changes"] if r["address"] == "Project/acme-ml")
    assert res["owners"]["accountable"] == ["@alice", "@bob", "@carol"] and not res["unowned"] and code == 2


def test_charter_yaml_unowned_blocks_and_says_how_to_own_it(example_repo, capsys):
    _branch(example_repo)
    edit(example_repo, "charter.yaml", "charter-runner:0.1.0", "charter-runner:0.2.0")
    code, plan = plan_json(example_repo, capsys, "--base", "main")
    assert code == 3 and "`project` stage" in plan["summary"]["blocked_reason"]


def test_a_production_only_change_deploys_only_production(example_repo, capsys):
    _branch(example_repo)
    edit(example_repo, ROLLOUT, "{traffic: 50, pause: 2h}", "{traffic: 50, pause: 3h}")
    _, plan = plan_json(example_repo, capsys, "--base", "main")
    assert plan["impact"]["churn"]["deployments"] == ["churn-rollout/production"]

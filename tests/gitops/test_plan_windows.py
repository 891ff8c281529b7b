"""`charter plan` and evaluation windows: what a changed window re-runs, and the metrics per window."""

from __future__ import annotations

import json

from compiler.gitops.report import to_markdown, to_text
from tests.gitops.conftest import commit, edit, git, plan_json

MODEL = "specs/delivery/model.yaml"


def test_a_changed_window_re_runs_evaluate_and_gate_never_train(repo, capsys):
    edit(repo, MODEL, "last: 14d,", "last: 7d,")
    commit(repo, "a shorter window")
    _, plan = plan_json(repo, capsys, "--base", "main")
    assert plan["impact"]["delivery-time"]["rerun"] == ["evaluate", "gate", "package"]
    assert "churn" not in plan["impact"]


def test_a_window_source_s_new_data_re_runs_evaluate_onwards(repo, capsys):
    rows = (repo / "specs/data/deliveries.csv").read_text().splitlines()
    (repo / "specs/data/recent.csv").write_text("\n".join(rows[:41]) + "\n")
    source = (repo / "specs/delivery/data.yaml").read_text().split("---")[0]
    (repo / "specs/delivery/recent.yaml").write_text(
        source.replace("name: deliveries\n", "name: recent-deliveries\n").replace("deliveries.csv", "recent.csv"))
    edit(repo, MODEL, "relative_to: newest}\n",
         "relative_to: newest}\n    - {name: recent, source: recent-deliveries}\n")
    edit(repo, MODEL, "covers: [deliveries,", "covers: [recent-deliveries, deliveries,")
    git(repo, "checkout", "-q", "main")
    commit_all = commit(repo, "a window on another source")
    git(repo, "checkout", "-q", "-B", "feature", commit_all)
    (repo / "specs/data/recent.csv").write_text("\n".join(rows[:1] + rows[41:81]) + "\n")
    commit(repo, "new labelled orders")
    _, plan = plan_json(repo, capsys, "--base", "main")
    assert plan["impact"]["delivery-time"]["rerun"] == ["evaluate", "gate", "package"]
    [change] = plan["data_changes"]
    assert change["source"] == "recent-deliveries" and change["models"] == []
    assert change["evaluated_by"] == ["delivery-time"]
    assert "re-run delivery-time from evaluate" in to_text(plan)


def test_the_plan_shows_metrics_per_window(repo, capsys):
    import shutil

    from tests.conftest import REPO

    git(repo, "checkout", "-q", "main")
    shutil.copy(REPO / "charter.lock", repo / "charter.lock")  # the base's lock: the baseline
    git(repo, "checkout", "-q", "-B", "feature", commit(repo, "the example's lock"))
    lock = json.loads((repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]
    candidate = json.loads(json.dumps(lock))
    candidate["windows"]["last-14d"]["metrics"]["mae"] += 0.5
    last = repo / ".charter/artifacts/runs/delivery-time/last.json"
    last.parent.mkdir(parents=True)
    last.write_text(json.dumps(candidate))
    _, plan = plan_json(repo, capsys, "--base", "main")
    [rows] = [m["metrics"] for m in plan["metrics"] if m["model"] == "delivery-time"]
    windowed = [r for r in rows if r.get("window") == "last-14d"]
    assert {r["metric"] for r in windowed} == {"mae", "rmse", "r2"}
    mae = next(r for r in windowed if r["metric"] == "mae")
    assert abs(mae["delta"] - 0.5) < 1e-9
    assert "mae [last-14d]:" in to_text(plan) and "| mae \\[last-14d\\] |" in to_markdown(plan)


def test_a_foreign_key_s_referenced_data_re_runs_validate_onwards(repo, capsys):
    """New rows in a source a foreign key looks up: the checking model re-runs from validate, never ingest."""
    (repo / "specs/data/regions.csv").write_text("code\nnorth\nsouth\neast\nwest\n")
    (repo / "specs/churn/regions.yaml").write_text(
        "apiVersion: charter/v1\nkind: DataSource\nmetadata: {name: regions}\nspec:\n  format: csv\n"
        "  path: specs/data/regions.csv\n  primary_key: [code]\n  schema:\n    - {name: code, type: string}\n")
    edit(repo, "specs/churn/data.yaml", "    - {rule: row_count, min: 100}\n",
         "    - {rule: row_count, min: 100}\n"
         "    - {rule: foreign_key, columns: [region], references: {source: regions}}\n")
    edit(repo, "specs/churn/rollout.yaml", "covers: [customers,", "covers: [regions, customers,")
    git(repo, "checkout", "-q", "main")
    base = commit(repo, "regions are looked up")
    git(repo, "checkout", "-q", "-B", "feature", base)
    (repo / "specs/data/regions.csv").write_text("code\nnorth\nsouth\neast\nwest\ncentral\n")
    commit(repo, "a new region")
    _, plan = plan_json(repo, capsys, "--base", "main")
    assert plan["impact"]["churn"]["rerun"][0] == "validate"
    assert "ingest" not in plan["impact"]["churn"]["rerun"]
    [change] = plan["data_changes"]
    assert (change["source"], change["models"], change["checked_by"]) == ("regions", [], ["churn"])
    assert "re-run churn from validate" in to_text(plan)

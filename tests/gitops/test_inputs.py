"""Plan inputs beyond spec text: committed data, the lock's versions, hand-edited generated files."""

from __future__ import annotations

import json

from tests.conftest import example_version
from tests.gitops.conftest import charter, commit, edit, git, plan_json

CSV = "specs/data/customers.csv"
MANIFEST = "generated/kubernetes/production/churn.yaml"


def _with_lock_and_generated(repo, capsys):
    from tests.conftest import REPO

    (repo / "charter.lock").write_text((REPO / "charter.lock").read_text())
    code, _, err = charter(repo, "compile", capsys=capsys)
    assert code == 0, err
    return commit(repo, "lock and generated files")


def test_a_data_change_reruns_from_ingest_and_needs_the_data_accountable(repo, capsys):
    text = (repo / CSV).read_text()
    (repo / CSV).write_text(text.replace(",yes", ",no", 1))
    code, plan = plan_json(repo, capsys, "--base", "main")
    assert code == 2 and plan["resource_changes"] == []
    (d,) = plan["data_changes"]
    assert d["source"] == "customers" and d["path"] == CSV and d["models"] == ["churn"]
    assert plan["impact"]["churn"]["rerun"][0] == "ingest" and "package" in plan["impact"]["churn"]["rerun"]
    assert [a["handle"] for a in plan["approvals"]] == ["@alice"]
    assert "delivery-time" not in plan["impact"]
    from compiler.gitops.plan import affected_models

    assert affected_models(repo, "main") == ["churn"]  # `run --affected` re-runs it too


def test_a_hand_edited_manifest_is_blocking_drift(repo, capsys):
    _with_lock_and_generated(repo, capsys)
    edit(repo, MANIFEST, "minReplicas: 2", "minReplicas: 5")
    commit(repo, "scale by hand")
    code, plan = plan_json(repo, capsys, "--base", "main", "--head", "feature")
    assert code == 3 and [d["path"] for d in plan["drift"]] == [MANIFEST]
    assert MANIFEST in plan["summary"]["blocked_reason"]
    code, out, _ = charter(repo, "plan", "--base", "main", "--head", "feature", capsys=capsys)
    assert f"drift: {MANIFEST} differs from what the head renders" in out


def test_a_rollback_is_a_version_change_needing_the_deployment_approval_and_compiles_clean(repo, capsys):
    good = _with_lock_and_generated(repo, capsys)
    lock = json.loads((repo / "charter.lock").read_text())
    lock["models"]["churn"]["version"] = "5e1f0a2b7c9d"
    lock["models"]["churn"]["metrics"]["metrics"]["roc_auc"] = 0.85
    (repo / "charter.lock").write_text(json.dumps(lock, indent=2) + "\n")
    edit(repo, "specs/churn/rollout.yaml", "{traffic: 10, pause: 1h}, ", "")
    charter(repo, "compile", capsys=capsys)
    commit(repo, "release 5e1f0a2b7c9d")
    git(repo, "branch", "-f", "main", "HEAD")
    git(repo, "checkout", "-q", "-b", "rollback")
    code, out, err = charter(repo, "rollback", "churn", "--to", good, capsys=capsys)
    assert code == 0, err
    assert "setWeight: 10\n" in (repo / MANIFEST).read_text() and example_version() in (repo / MANIFEST).read_text()
    code, out, err = charter(repo, "compile", "--check", capsys=capsys)
    assert code == 0, err
    commit(repo, "roll back churn")
    code, plan = plan_json(repo, capsys, "--base", "main", "--head", "rollback", "--approved-by", "@carol")
    (v,) = plan["lock_changes"]
    assert (v["action"], v["from"], v["to"]) == ("rollback", "5e1f0a2b7c9d", example_version())
    assert v["from_metrics"]["roc_auc"] == 0.85 and v["to_metrics"]["roc_auc"] != 0.85
    assert plan["drift"] == [] and "churn-rollout/production" in plan["impact"]["churn"]["deployments"]
    assert any("rollback of churn" in r for a in plan["approvals"] if a["handle"] == "@carol" for r in a["reasons"])

"""`charter diff`, `history`, `changelog` and `status` on a temporary repository."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import example_version
from tests.gitops.conftest import charter, commit, edit, git

MODEL = "specs/churn/model.yaml"


def test_diff_between_refs_and_for_one_resource(repo, capsys):
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    edit(repo, "specs/delivery/model.yaml", "delivery", "delivery")
    commit(repo, "tune")
    code, out, _ = charter(repo, "diff", "main", "feature", "churn", capsys=capsys)
    assert code == 0 and "spec.estimator.params.max_iter: 200 -> 300" in out
    code, out, _ = charter(repo, "diff", "main", "main", "--format", "json", capsys=capsys)
    assert json.loads(out)["resource_changes"] == []


def test_history_follows_renames_and_reads_the_lock(repo, capsys):
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    commit(repo, "tune churn")
    git(repo, "mv", MODEL, "specs/churn/churn-model.yaml")
    commit(repo, "move the model file")
    edit(repo, "specs/churn/churn-model.yaml", "name: churn\n", "name: churn-v2\n")
    edit(repo, "specs/churn/churn-model.yaml", "model: churn\n", "model: churn-v2\n")
    edit(repo, "specs/churn/rollout.yaml", "model: churn\n", "model: churn-v2\n")
    commit(repo, "rename the model")
    code, out, err = charter(repo, "history", "Model/churn-v2", "--format", "json", capsys=capsys)
    assert code == 0, err
    commits = json.loads(out)["commits"]
    assert [c["subject"] for c in commits] == ["rename the model", "move the model file", "tune churn", "example"]
    assert commits[0]["changes"][0]["action"] == "rename"
    assert commits[1]["changes"][0]["action"] == "move"
    assert commits[2]["changes"][0]["changes"][0]["path"] == "spec.estimator.params.max_iter"
    code, out, err = charter(repo, "history", "nothing-by-this-name", capsys=capsys)
    assert code == 1 and "no commit changed" in err


def test_history_reports_lock_versions(example_repo, capsys):
    from tests.conftest import REPO

    (example_repo / "charter.lock").write_text((REPO / "charter.lock").read_text())
    edit(example_repo, MODEL, "max_iter: 200", "max_iter: 201")
    commit(example_repo, "tune with lock")
    code, out, _ = charter(example_repo, "history", "churn", capsys=capsys)
    assert f"lock: churn {example_version()}" in out


def test_changelog_groups_by_resource_with_risk(repo, capsys):
    edit(repo, MODEL, "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.60}")
    commit(repo, "loosen")
    code, out, _ = charter(repo, "changelog", "--since", "main", capsys=capsys)
    assert code == 0 and "## MetricSet/churn-quality" in out and "**breaking** update" in out
    assert "DataSource/customers" not in out  # nothing since main
    code, out, _ = charter(repo, "changelog", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert doc["resources"]["MetricSet/churn-quality"][0]["risk"] == "breaking"


def test_status(repo, capsys):
    code, out, _ = charter(repo, "compile", capsys=capsys)
    commit(repo, "generated")
    code, out, _ = charter(repo, "status", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert doc["uncommitted_specs"] == [] and doc["generated"] == []
    assert {p["model"] for p in doc["pipelines"]} == {"churn", "delivery-time"}  # never run here
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    code, out, _ = charter(repo, "status", capsys=capsys)
    assert code == 2 and "specs/churn/model.yaml" in out and "generated/ir.json: stale" in out


def test_thousands_of_commits(repo, capsys):
    # 3,000 commits that touch a file outside the specs, made fast with fast-import
    lines = []
    for i in range(3000):
        data = f"{i}\n".encode()
        lines.append(f"commit refs/heads/feature\ncommitter T <t@e> {1700000000 + i} +0000\ndata 2\nc\n"
                     + ("from refs/heads/feature^0\n" if i == 0 else "")
                     + f"M 100644 inline notes.txt\ndata {len(data)}\n{i}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input="".join(lines).encode(), check=True)
    git(repo, "reset", "-q", "--hard", "feature")
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    commit(repo, "tune after history")
    code, out, _ = charter(repo, "plan", "--base", "main", "--format", "json", capsys=capsys)
    assert json.loads(out)["resource_changes"][0]["address"] == "Model/churn"
    code, out, _ = charter(repo, "history", "churn", "--format", "json", capsys=capsys)
    assert len(json.loads(out)["commits"]) == 2


def test_affected_models_since_a_ref(repo, capsys):
    from compiler.gitops.plan import affected_models

    assert affected_models(repo, "main") == []
    edit(repo, "specs/delivery/model.yaml", "delivery", "delivery")
    edit(repo, MODEL, "max_iter: 200", "max_iter: 300")
    assert affected_models(repo, "main") == ["churn"]
    code, out, err = charter(repo, "run", "--affected", capsys=capsys)
    assert code == 2 and "--affected needs --base" in err
    code, out, err = charter(repo, "run", capsys=capsys)
    assert code == 2 and "name one Model" in err


def test_rollback_restores_the_deployment_configs_and_lock_entry_of_one_model(example_repo, capsys):
    from tests.conftest import REPO

    lock = json.loads((REPO / "charter.lock").read_text())
    (example_repo / "charter.lock").write_text(json.dumps(lock, indent=2) + "\n")
    commit(example_repo, "lock v1")
    code, _, err = charter(example_repo, "compile", capsys=capsys)
    assert code == 0, err
    commit(example_repo, "generated v1")
    good = git(example_repo, "rev-parse", "HEAD").strip()
    # a bad release: a new version, and a rollout that skips the 10% step
    lock["models"]["churn"]["version"] = "badbadbadbad"
    (example_repo / "charter.lock").write_text(json.dumps(lock, indent=2) + "\n")
    edit(example_repo, "specs/churn/rollout.yaml", "{traffic: 10, pause: 1h}, ", "")
    charter(example_repo, "compile", capsys=capsys)
    commit(example_repo, "release v2")
    manifest = example_repo / "generated/kubernetes/production/churn.yaml"
    assert "badbadbadbad" in manifest.read_text() and "setWeight: 10\n" not in manifest.read_text()
    other = (example_repo / "generated/kubernetes/production/delivery-time.yaml").read_text()
    code, out, err = charter(example_repo, "rollback", "churn", "--to", good, capsys=capsys)
    assert code == 0, err
    text = manifest.read_text()
    assert example_version() in text and "badbadbadbad" not in text and "setWeight: 10\n" in text
    assert (example_repo / "generated/kubernetes/production/delivery-time.yaml").read_text() == other
    assert json.loads((example_repo / "charter.lock").read_text())["models"]["churn"]["version"] == example_version()
    assert "wrote generated/kubernetes/production/churn.yaml" in out
    code, _, err = charter(example_repo, "rollback", "nope", "--to", good, capsys=capsys)
    assert code == 1 and "no Model `nope`" in err


def test_the_name_pattern_of_history_is_the_spec_name_pattern():
    from compiler.gitops import history
    from compiler.spec import base

    assert history._NAME.pattern == base._NAME.pattern


def test_only_changes_that_may_follow_a_rename_read_their_whole_commit(repo, capsys, monkeypatch):
    """A text edit is judged from the tracked file alone; a reference that follows a rename, with its commit."""
    from compiler.gitops.git import Git

    edit(repo, MODEL, "description: ", "description: Now with a longer text. ")
    commit(repo, "describe churn")
    edit(repo, "specs/churn/data.yaml", "name: customers-quality", "name: customers-checks")
    edit(repo, MODEL, "validation: customers-quality", "validation: customers-checks")
    edit(repo, "specs/churn/rollout.yaml", "customers-quality,", "customers-checks,")
    commit(repo, "rename the suite")
    asked: list[str] = []
    real = Git.changes_of

    def changes_of(self, shas, paths):
        asked.extend(shas)
        return real(self, shas, paths)

    monkeypatch.setattr(Git, "changes_of", changes_of)
    code, out, err = charter(repo, "history", "Model/churn", "--format", "json", capsys=capsys)
    assert code == 0, err
    commits = {c["subject"]: c for c in json.loads(out)["commits"]}
    renamed = commits["rename the suite"]["changes"][0]
    assert [f["rule"] for f in renamed["findings"]] == ["P305"] and renamed["risk"] == "safe"
    described = commits["describe churn"]["changes"][0]
    assert described["changes"][0]["path"] == "metadata.description"
    subjects = {git(repo, "log", "-1", "--format=%s", sha).strip() for sha in asked}
    assert "rename the suite" in subjects and "describe churn" not in subjects

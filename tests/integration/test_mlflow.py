"""Integration tier: `tracking: mlflow` logs runs to a real local MLflow store and registers promoted versions.

Skips without MLflow (`pip install -e '.[mlflow]'`), fails under CI=true.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import run_charter

pytestmark = pytest.mark.integration


def test_runs_are_logged_and_promotions_registered(example_repo):
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("MLflow is not installed and CI is set (pip install -e '.[mlflow]')")
        pytest.skip("MLflow is not installed (pip install -e '.[mlflow]')")
    config = example_repo / "charter.yaml"
    config.write_text(config.read_text().replace("  base_branch: main\n", "  base_branch: main\n  tracking: mlflow\n"))
    uri = f"sqlite:///{(example_repo / 'tracking.db').as_posix()}"
    first = run_charter("run", "churn", cwd=example_repo, env={"MLFLOW_TRACKING_URI": uri})
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(model registered)" in first.stdout
    cached = run_charter("run", "churn", cwd=example_repo, env={"MLFLOW_TRACKING_URI": uri})
    assert cached.returncode == 0 and "mlflow" not in cached.stdout  # nothing new ran, nothing logged

    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("charter-churn")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["roc_auc"] > 0.7
    assert "slice.new-customers.recall" in run.data.metrics
    assert run.data.params["estimator.class"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert run.data.tags["charter.promoted"]
    [version] = client.search_model_versions("name='churn'")
    assert str(version.version) == "1" and version.run_id == run.info.run_id
    # nothing outside .charter/ but the store the test chose: no ./mlruns
    assert experiment.artifact_location == (example_repo / ".charter" / "mlartifacts").resolve().as_uri()
    assert not (example_repo / "mlruns").exists()
    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=example_repo,
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert {line[3:].split("/")[0] for line in untracked} == {".charter", "charter.lock", "charter.yaml",
                                                              "tracking.db"}, untracked


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_registry_as_users_expect_signature_aliases_tags_and_no_duplicates(example_repo):
    """Read back through MlflowClient: what an MLflow user looks for after `charter run` and `charter rollback`."""
    mlflow = pytest.importorskip("mlflow")
    from mlflow.models import get_model_info

    from compiler import __version__

    config = example_repo / "charter.yaml"
    config.write_text(config.read_text().replace("  base_branch: main\n", "  base_branch: main\n  tracking: mlflow\n"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{(example_repo / '.charter' / 'registry.db').as_posix()}"}

    def run(*args: str) -> str:
        done = run_charter(*args, cwd=example_repo, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("run", "churn")
    _git(example_repo, "add", "charter.lock", "charter.yaml")
    _git(example_repo, "commit", "-q", "-m", "churn promoted")
    first_commit = _git(example_repo, "rev-parse", "HEAD")
    run("run", "churn", "--force")  # the same Charter version again: a second run, no second registered version
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    client = mlflow.MlflowClient()
    [v1] = client.search_model_versions("name='churn'")
    assert client.get_registered_model("churn").aliases == {"staging": v1.version, "production": v1.version}
    runs = client.search_runs([client.get_experiment_by_name("charter-churn").experiment_id])
    assert len(runs) == 2
    tags = runs[0].data.tags
    assert tags["mlflow.source.git.commit"] == tags["charter.git_commit"] == first_commit
    assert tags["charter.version"] == __version__ and tags["charter.model_version"] == v1.tags["charter.model_version"]
    assert {"charter.step_hash.train", "charter.step_hash.evaluate", "charter.spec_hash"} <= set(tags)
    info = get_model_info(v1.source)
    inputs = {c["name"]: c["type"] for c in info.signature.inputs.to_dict()}
    assert inputs["tenure_months"] == "double" and inputs["contract"] == "string" and "churned" not in inputs
    assert info.signature.outputs is not None and info.saved_input_example_info is not None
    [dataset] = runs[0].inputs.dataset_inputs
    assert dataset.dataset.name == "customers-train" and dataset.tags[0].value == "training"

    model = example_repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("max_depth: 4", "max_depth: 3"))
    run("run", "churn")  # a new version: registered, and the environments' aliases move to it
    v2 = max(client.search_model_versions("name='churn'"), key=lambda v: int(v.version))
    assert v2.version != v1.version
    assert client.get_registered_model("churn").aliases == {"staging": v2.version, "production": v2.version}

    out = run("rollback", "churn", "--to", first_commit)
    assert f"moved staging, production of churn to registered version {v1.version}" in out
    assert client.get_registered_model("churn").aliases == {"staging": v1.version, "production": v1.version}
    assert len(client.search_model_versions("name='churn'")) == 2
    assert not (example_repo / "mlruns").exists()

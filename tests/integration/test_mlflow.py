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

"""Training and evaluation failures: exit 1, the failing step shown `failed`, nothing promoted, the lock unchanged.

Before, a single-class target and an estimator refusing its parameters exited 2 (the code for
usage errors) with a bare `charter: error:`, and no step was ever shown as failed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")
pytest.importorskip("skops")

from tests.conftest import REPO, copy_example, run_charter  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "repo", ("charter.yaml", "specs", "schemas", "charter.lock"))


def _line(stdout: str, step: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(step + " "))


def _assert_failed_at(repo: Path, result, step: str, reason: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert re.match(rf"{step}\s+failed\s", _line(result.stdout, step)), out
    assert reason in _line(result.stdout, step) and f"error: {reason}" in result.stdout
    assert "promoted" not in out and "charter: error" not in out and "Traceback" not in out
    assert (repo / "charter.lock").read_bytes() == (REPO / "charter.lock").read_bytes()
    assert not (repo / ".charter/artifacts/models").exists()


def test_a_single_class_target_fails_the_train_step(repo):
    data = repo / "specs/data/customers.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], *(line.rsplit(",", 1)[0] + ",no" for line in lines[1:])]) + "\n")
    result = run_charter("run", "churn", cwd=repo)
    _assert_failed_at(repo, result, "churn/train",
                      "training failed: the target `churned` has a single class (`false`) in the 270 training rows")
    assert "help: a classifier needs rows of at least two classes" in result.stdout


def test_an_estimator_refusing_to_fit_fails_the_train_step(repo):
    spec = repo / "specs/churn/model.yaml"
    text = spec.read_text()
    old = "class: sklearn.ensemble.HistGradientBoostingClassifier\n    params: {max_iter: 200, learning_rate: 0.1, " \
          "max_depth: 4, random_state: 0}"
    assert old in text
    spec.write_text(text.replace(old, "class: sklearn.linear_model.LogisticRegression\n"
                                      "    params: {penalty: l1, solver: lbfgs}"))
    result = run_charter("run", "churn", cwd=repo, env={"PYTHONWARNINGS": "ignore"})
    _assert_failed_at(repo, result, "churn/train", "training failed: Solver lbfgs supports only 'l2' or None "
                                                   "penalties, got l1 penalty.")


def test_a_model_that_cannot_predict_the_test_set_fails_the_evaluate_step(repo, monkeypatch, capsys):
    """The estimator refuses at predict time (injected: the example's data never makes it refuse)."""
    from sklearn.pipeline import Pipeline

    from compiler import cli

    def refuse(self, X, **kwargs):
        raise ValueError("Input X contains NaN.\nHistGradientBoostingClassifier does not accept missing values")

    monkeypatch.setattr(Pipeline, "predict", refuse)
    monkeypatch.setattr(Pipeline, "predict_proba", refuse)  # the predictor's one pass, for this classifier
    code = cli.main(["run", "churn", "--root", str(repo)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert re.match(r"churn/evaluate\s+failed\s", _line(out, "churn/evaluate"))
    assert "error: evaluation failed: the model cannot predict the test set: Input X contains NaN." in out
    assert "promoted" not in out
    assert (repo / "charter.lock").read_bytes() == (REPO / "charter.lock").read_bytes()

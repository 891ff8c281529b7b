"""`charter status --data`: what a `retrain.on_data_change` poll runs, in a temporary git repository."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import COMMITTED, EXAMPLE, copy_example, run_charter


@pytest.fixture
def example_repo(tmp_path):
    """The example with its committed charter.lock, in a temporary git repository."""
    dest = copy_example(tmp_path / "repo", (*EXAMPLE, *COMMITTED))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], cwd=dest, check=True)
    return dest


def _on_data_change(repo) -> None:
    model = repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("  guardrails:\n", "  retrain: {on_data_change: true}\n  guardrails:\n",
                                               1))


def test_the_committed_data_is_the_locked_runs_and_a_new_row_changes_it(example_repo):
    _on_data_change(example_repo)
    quiet = run_charter("status", "--data", cwd=example_repo)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.startswith("churn: data of `customers` unchanged since charter.lock's run (fingerprint ")
    data = example_repo / "specs/data/customers.csv"
    data.write_text(data.read_text() + "C999999,2026-11-30,1,monthly,50.0,50.0,0,north,no\n")
    changed = run_charter("status", "--data", "--format", "json", cwd=example_repo)
    assert changed.returncode == 2
    [entry] = json.loads(changed.stdout)["data"]
    assert entry["model"] == "churn" and entry["state"] == "changed" and entry["now"] != entry["recorded"]
    # a model named on the command line is looked at whether or not it retrains on its own
    both = run_charter("status", "--data", "churn", "delivery-time", cwd=example_repo)
    assert both.returncode == 2 and "delivery-time: data of `deliveries` unchanged" in both.stdout


def test_a_model_never_run_is_data_to_train_on(example_repo):
    _on_data_change(example_repo)
    lock = example_repo / "charter.lock"
    doc = json.loads(lock.read_text())
    del doc["models"]["churn"]
    lock.write_text(json.dumps(doc))
    result = run_charter("status", "--data", cwd=example_repo)
    assert result.returncode == 2 and result.stdout == "churn: never run (not in charter.lock)\n"


def test_what_cannot_be_looked_at_is_an_error_never_a_retraining(example_repo):
    none = run_charter("status", "--data", cwd=example_repo)
    assert none.returncode == 1 and "no Model retrains on a data change" in none.stderr
    unknown = run_charter("status", "--data", "churm", cwd=example_repo)
    assert unknown.returncode == 1 and "no Model 'churm'; models: churn, delivery-time" in unknown.stderr
    _on_data_change(example_repo)
    (example_repo / "specs/data/customers.csv").unlink()
    missing = run_charter("status", "--data", cwd=example_repo)
    assert missing.returncode == 1 and "file `specs/data/customers.csv` not found" in missing.stderr
    assert "Traceback" not in missing.stderr

"""End to end: `charter run` and `charter check-data` on the worked example."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_charter

pytest.importorskip("polars")
pytest.importorskip("sklearn")
pytest.importorskip("skops")


def _statuses(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and "/" in parts[0] and parts[1] in ("ran", "cached", "failed"):
            out[parts[0].split("/", 1)[1]] = parts[1]
    return out


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_run_caches_and_invalidates_exactly(example_repo):
    first = run_charter("run", "churn", cwd=example_repo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert set(_statuses(first.stdout).values()) == {"ran"}
    lock = json.loads((example_repo / "charter.lock").read_text())
    entry = lock["models"]["churn"]
    assert entry["metrics"]["metrics"]["roc_auc"] > 0.7
    package = example_repo / ".charter/artifacts/models/churn" / entry["version"]
    assert (package / "model.skops").is_file()
    assert (package / "model_card.md").is_file()
    record = json.loads((package / "run.json").read_text())
    assert record["inputs"]["path"] == "specs/data/customers.csv"
    assert set(record["timings"]) == {"ingest", "prepare", "validate", "split", "train", "evaluate", "gate"}
    # a fresh process loads pandas and scikit-learn once, reported apart from the steps that use them
    assert record["import_seconds"] > 0.1
    assert "(libraries)                  loaded" in first.stdout
    assert record["versions"]["charter"] and len(record["run_keys"]) == 8
    card = (package / "model_card.md").read_text()
    for section in ("## Model details", "## Intended use", "## Training data", "## Metrics per slice", "## Owners",
                    "## Caveats and recommendations"):
        assert section in card

    again = run_charter("run", "churn", cwd=example_repo)
    assert again.returncode == 0
    assert set(_statuses(again.stdout).values()) == {"cached"}

    _edit(example_repo / "specs/churn/model.yaml", "learning_rate: 0.1", "learning_rate: 0.05")
    changed = run_charter("run", "churn", cwd=example_repo)
    assert changed.returncode == 0, changed.stdout
    statuses = _statuses(changed.stdout)
    assert {k for k, v in statuses.items() if v == "ran"} == {"train", "evaluate", "gate", "package"}


def test_json_output_reports_library_loading_apart_from_step_times(example_repo):
    done = run_charter("run", "churn", "--format", "json", cwd=example_repo)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["import_seconds"] > 0.1
    assert [s["id"] for s in result["steps"]][0] == "churn/ingest"


def test_metrics_are_deterministic(example_repo, tmp_path):
    a = run_charter("run", "delivery-time", "--store", str(tmp_path / "a"), cwd=example_repo)
    metrics_a = json.loads((example_repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]
    b = run_charter("run", "delivery-time", "--store", str(tmp_path / "b"), "--force", cwd=example_repo)
    metrics_b = json.loads((example_repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]
    assert a.returncode == 0 and b.returncode == 0, a.stdout + b.stdout
    assert metrics_a == metrics_b


def test_failed_gate_is_not_promoted(example_repo):
    _edit(example_repo / "specs/churn/model.yaml", "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.999}")
    result = run_charter("run", "churn", cwd=example_repo)
    assert result.returncode == 1
    assert "not promoted" in result.stdout
    assert "FAILED" in result.stdout and "churn-quality:roc_auc" in result.stdout
    assert not (example_repo / "charter.lock").exists()


def test_failed_data_rule_stops_the_run(example_repo):
    _edit(example_repo / "specs/churn/data.yaml", "{rule: row_count, min: 100}", "{rule: row_count, min: 100000}")
    result = run_charter("run", "churn", cwd=example_repo)
    assert result.returncode == 1
    assert _statuses(result.stdout)["validate"] == "failed"
    assert "row_count" in result.stdout


def test_check_data_runs_only_the_data_steps(example_repo):
    result = run_charter("check-data", "customers", cwd=example_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_statuses(result.stdout)) == {"ingest", "prepare", "validate"}


def test_unknown_model_is_a_usage_error(example_repo):
    result = run_charter("run", "nope", cwd=example_repo)
    assert result.returncode == 2
    assert "no model named `nope`" in result.stderr


def test_monitor_alerts_on_drift(example_repo):
    assert run_charter("run", "churn", cwd=example_repo).returncode == 0
    same = run_charter("monitor", "churn", "--data", "specs/data/customers.csv", cwd=example_repo)
    assert same.returncode == 0, same.stdout + same.stderr
    result = run_charter("monitor", "churn", "--data", _drifted(example_repo), "--format", "json",
                         "--report", "report.json", cwd=example_repo)
    assert result.returncode == 1
    report = json.loads((example_repo / "report.json").read_text())
    assert report["drift"]["contract"]["alert"] is True
    assert report["drift"]["region"]["alert"] is False


def _drifted(repo: Path) -> str:
    rows = (repo / "specs/data/customers.csv").read_text().splitlines()
    contract = rows[0].split(",").index("contract")
    drifted = [rows[0]] + [",".join("monthly" if i == contract else v for i, v in enumerate(r.split(",")))
                           for r in rows[1:]]
    (repo / "batch.csv").write_text("\n".join(drifted) + "\n")
    return "batch.csv"


@pytest.mark.parametrize("how", ["flag", "env", "url"])
def test_monitor_finds_the_model_from_a_fresh_clone(example_repo, tmp_path, how):
    """The promoted model lives in the store, not on the machine that trained it.

    A fresh clone (no .charter/) monitors with the store named by --store, CHARTER_STORE or a
    file:// URL.
    """
    store = tmp_path / "shared-store"
    trained = run_charter("run", "churn", "--store", str(store), cwd=example_repo)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "artifact_uri" not in (example_repo / "charter.lock").read_text()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "add", "charter.lock"], cwd=example_repo, check=True)
    subprocess.run([*git, "commit", "-qm", "promote churn"], cwd=example_repo, check=True)
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(example_repo), str(fresh)], check=True)
    assert not (fresh / ".charter").exists()
    where = {"flag": (["--store", str(store)], None), "env": ([], {"CHARTER_STORE": str(store)}),
             "url": (["--store", store.as_uri()], None)}[how]
    same = run_charter("monitor", "churn", "--data", "customers", *where[0], cwd=fresh, env=where[1])
    assert same.returncode == 0, same.stdout + same.stderr
    batch = _drifted(fresh)
    drifted = run_charter("monitor", "churn", "--data", batch, *where[0], cwd=fresh, env=where[1])
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "ALERT" in drifted.stdout


def test_monitor_says_which_store_lacks_the_model(example_repo, tmp_path):
    assert run_charter("run", "churn", "--store", str(tmp_path / "a"), cwd=example_repo).returncode == 0
    result = run_charter("monitor", "churn", "--data", "customers", "--store", str(tmp_path / "b"), cwd=example_repo)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"is not in the artifact store `{tmp_path / 'b'}`" in result.stderr
    assert "CHARTER_STORE" in result.stderr


def test_monitor_needs_a_promoted_model(example_repo):
    result = run_charter("monitor", "churn", "--data", "specs/data/customers.csv", cwd=example_repo)
    assert result.returncode == 2
    assert "no promoted version" in result.stderr


def test_ir_cache_never_hides_a_spec_change(example_repo):
    assert run_charter("check-data", "customers", cwd=example_repo).returncode == 0
    assert (example_repo / ".charter/cache/ir.marshal").is_file()
    _edit(example_repo / "specs/churn/data.yaml", "{rule: row_count, min: 100}", "{rule: row_count, min: oops}")
    broken = run_charter("check-data", "customers", cwd=example_repo)
    assert broken.returncode == 2 and "S205" in broken.stderr
    _edit(example_repo / "specs/churn/data.yaml", "{rule: row_count, min: oops}", "{rule: row_count, min: 100000}")
    tightened = run_charter("check-data", "customers", cwd=example_repo)
    assert tightened.returncode == 1 and "row_count" in tightened.stdout


def test_check_data_of_a_source_no_model_uses(example_repo):
    (example_repo / "specs/extra.yaml").write_text("""\
apiVersion: charter/v1
kind: DataSource
metadata: {name: deliveries-raw}
spec:
  format: csv
  path: specs/data/deliveries.csv
  schema:
    - {name: order_id, type: string}
    - {name: items, type: integer}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: extra-owners}
spec:
  covers: [deliveries-raw]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
""")
    result = run_charter("check-data", "deliveries-raw", cwd=example_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deliveries-raw/ingest" in result.stdout and "408 rows, 2 columns" in result.stdout
    unknown = run_charter("check-data", "nope", cwd=example_repo)
    assert unknown.returncode == 2 and "no DataSource or ValidationSuite named `nope`" in unknown.stderr


def test_a_step_alone_fails_when_its_inputs_are_missing(example_repo):
    result = run_charter("run", "churn", "--step", "prepare", cwd=example_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "needs the outputs of `ingest`" in result.stdout and "--with-upstream" in result.stdout
    assert "churn/ingest" not in result.stdout  # nothing was recomputed behind the user's back
    upstream = run_charter("run", "churn", "--step", "prepare", "--with-upstream", cwd=example_repo)
    assert upstream.returncode == 0, upstream.stdout + upstream.stderr
    assert "churn/ingest" in upstream.stdout and "churn/prepare" in upstream.stdout
    misused = run_charter("run", "churn", "--with-upstream", cwd=example_repo)
    assert misused.returncode == 2 and "--with-upstream goes with --step" in misused.stderr

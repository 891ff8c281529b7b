"""End to end: `charter run` of a model that trains on a sample of a source larger than its budget."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_charter

pl = pytest.importorskip("polars")
np = pytest.importorskip("numpy")

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: visits}
spec:
  format: parquet
  path: data/visits.parquet
  engine: duckdb
  duckdb: {memory_limit: 256MiB, threads: 1}
  schema:
    - {name: visit_id, type: integer, nullable: false}
    - {name: pages, type: integer}
    - {name: seconds, type: float}
    - {name: bought, type: boolean}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: visits-quality}
spec:
  source: visits
  rules:
    - {rule: unique, columns: [visit_id]}
    - {rule: row_count, min: 4000}
---
apiVersion: charter/v1
kind: Model
metadata: {name: buyers}
spec:
  task: binary_classification
  data: {source: visits, validation: visits-quality, target: bought, exclude: [visit_id]}
  split: {method: stratified, test_size: 0.25, seed: 1}
  sample: {above: 1500, rows: 1200, seed: 3}
  estimator: {class: sklearn.linear_model.LogisticRegression}
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: buyers-quality}
spec:
  model: buyers
  gates:
    - {metric: roc_auc, min: 0.6}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: buyers-owners}
spec:
  covers: [visits, visits-quality, buyers, buyers-quality]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
    model: {responsible: ["@acme/ml"], accountable: "@maria"}
"""


def _visits(n: int = 5000, duplicate: bool = False) -> pl.DataFrame:
    rng = np.random.RandomState(0)
    pages = rng.randint(1, 30, n)
    bought = rng.random_sample(n) < 1 / (1 + np.exp(-(pages - 15) / 3))
    ids = np.arange(n)
    if duplicate:
        ids[4321] = 17  # one duplicate key, far from the rows a 1,200-row sample is likely to pair up
    return pl.DataFrame({"visit_id": ids, "pages": pages, "seconds": rng.random_sample(n) * 600, "bought": bought})


@pytest.fixture
def visits_repo(example_repo):
    (example_repo / "specs/visits.yaml").write_text(SPECS)
    (example_repo / "data").mkdir()
    _visits().write_parquet(example_repo / "data/visits.parquet")
    return example_repo


def test_the_model_trains_on_the_sample_and_the_lock_and_card_say_so(visits_repo):
    result = run_charter("run", "buyers", cwd=visits_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sample of 1200 of 5000 rows (seed 3, stratified by bought)" in result.stdout
    assert "2/2 rules passed of the whole table" in result.stdout  # row_count sees 5,000 rows, not 1,200
    assert "900 train / 300 test" in result.stdout
    entry = json.loads((visits_repo / "charter.lock").read_text())["models"]["buyers"]
    sample = entry["metrics"]["sample"]
    assert (sample["rows"], sample["of"], sample["seed"], sample["stratified_by"]) == (1200, 5000, 3, "bought")
    assert sample["fingerprint"].startswith("sha256:")
    card = visits_repo / ".charter/artifacts/models/buyers" / entry["version"] / "model_card.md"
    assert "- Sample: 1200 of the source's 5000 rows, drawn with seed 3, stratified by `bought`" in card.read_text()
    again = run_charter("run", "buyers", cwd=visits_repo)
    assert again.returncode == 0 and "cached" in again.stdout, again.stdout
    assert json.loads((visits_repo / "charter.lock").read_text())["models"]["buyers"] == entry  # reproducible


def test_the_rules_see_a_duplicate_that_the_sample_did_not_draw(visits_repo):
    _visits(duplicate=True).write_parquet(visits_repo / "data/visits.parquet")
    result = run_charter("run", "buyers", cwd=visits_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 data rule(s) failed" in result.stdout and "unique:visit_id" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_on_polars_the_rules_are_judged_on_the_sample_and_validate_warns(visits_repo):
    spec = visits_repo / "specs/visits.yaml"
    spec.write_text(SPECS.replace("  engine: duckdb\n  duckdb: {memory_limit: 256MiB, threads: 1}\n", "")
                    .replace("{rule: row_count, min: 4000}", "{rule: row_count, min: 1000}"))
    checked = run_charter("validate", "--format", "short", cwd=visits_repo)
    assert "X322" in checked.stdout and "judged on the sample" in checked.stdout
    result = run_charter("run", "buyers", cwd=visits_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 rules passed on the sample of 1200 rows" in result.stdout

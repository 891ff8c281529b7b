"""Integration tier: `format: feast` against a real local Feast repository, built here.

The feature repository (tests/feastrepo.py: a file offline store over Parquet, a SQLite
registry) is applied with Feast's own `feast apply`; the Charter repository beside it declares
the entity rows (a CSV of orders with event timestamps), the feast source joining their driver
features, a suite that cleans and checks the joined rows, and a Model trained from them. Then
the real `charter validate`, `check-data` and `run` run as a user runs them.

Runs in Feast's venv (.ci/feast.sh: requirements/feast.txt and this checkout, CHARTER_FEAST=1).
Without Feast the tests skip (as in charter's own venv, where `pytest -m integration` runs the
other integration tests); they fail instead when CI and CHARTER_FEAST are set.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import run_charter
from tests.feastrepo import DRIVERS, START, conv_rate, feast_apply, stats_rows, write_repo

pytestmark = pytest.mark.integration

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: orders}
spec:
  format: csv
  path: data/orders.csv
  primary_key: [order_id]
  schema:
    - {name: order_id, type: string, nullable: false}
    - {name: driver_id, type: integer, nullable: false}
    - {name: order_time, type: datetime, nullable: false}
    - {name: distance_km, type: float}
    - {name: late, type: boolean}
---
apiVersion: charter/v1
kind: DataSource
metadata: {name: order-features}
spec:
  format: feast
  feast:
    repo: feature_repo
    entities: orders
    timestamp: order_time
    features: [driver_stats:conv_rate, driver_stats:acc_rate, driver_stats:trips]
  schema:
    - {name: order_id, type: string}
    - {name: driver_id, type: integer}
    - {name: order_time, type: datetime}
    - {name: distance_km, type: float}
    - {name: conv_rate, type: float}
    - {name: acc_rate, type: float}
    - {name: trips, type: integer}
    - {name: late, type: boolean}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: order-features-quality}
spec:
  source: order-features
  prepare:
    - drop_null: {columns: [conv_rate]}   # a driver Feast has no statistics for
  rules:
    - {rule: not_null, columns: [conv_rate, trips]}
    - {rule: between, column: conv_rate, min: 0, max: 1}
---
apiVersion: charter/v1
kind: Model
metadata: {name: late-orders}
spec:
  task: binary_classification
  data: {source: order-features, validation: order-features-quality, target: late,
         exclude: [order_id, driver_id, order_time]}
  split: {method: random, test_size: 0.25, seed: 3}
  estimator: {class: sklearn.linear_model.LogisticRegression, params: {C: 10}}
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: late-orders-quality}
spec:
  model: late-orders
  gates: [{metric: roc_auc, min: 0.8}]
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: rides-owners}
spec:
  covers: [orders, order-features, order-features-quality, late-orders, late-orders-quality]
  raci:
    data: {responsible: ["@rides/data"], accountable: "@ana"}
    model: {responsible: ["@rides/ds"], accountable: "@ben"}
"""


def _need_feast():
    try:
        import feast  # noqa: F401
    except ImportError:
        if os.environ.get("CI") and os.environ.get("CHARTER_FEAST"):
            pytest.fail("Feast is not installed and CI is set: run this file with .ci/feast.sh")
        pytest.skip("Feast is not installed: .ci/feast.sh runs this file in its own venv "
                    "(pip install -c requirements/feast.txt -e '.[feast]')")


def orders() -> list[dict]:
    """Orders at random times; `late` follows the driver's conversion rate as of the order, with noise.

    Driver 1's order at 11:00 on day 9 comes an hour before the spike of its statistics at noon
    (0.999); the one at 13:00 comes after it. Driver 13 has no statistics at all.
    """
    rng = random.Random(7)
    rows = []
    for i in range(400):
        driver = rng.randint(1, DRIVERS + 1) if i % 50 else DRIVERS + 1
        at = START + timedelta(days=rng.randint(1, 28), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        rate = conv_rate(driver, (at - START).days)
        late = (rate < 0.5) != (rng.random() < 0.08)
        rows.append({"order_id": f"o{i:04d}", "driver_id": driver, "order_time": at, "late": late,
                     "distance_km": round(rng.uniform(1, 20), 1)})
    for hour, late in ((11, True), (13, False)):
        rows.append({"order_id": f"spike{hour}", "driver_id": 1, "late": late, "distance_km": 3.0,
                     "order_time": START + timedelta(days=9, hours=hour)})
    return rows


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    _need_feast()
    root = tmp_path_factory.mktemp("rides")
    (root / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: rides}\nspec: {}\n")
    (root / "specs").mkdir()
    (root / "specs" / "rides.yaml").write_text(SPECS)
    (root / "data").mkdir()
    lines = ["order_id,driver_id,order_time,distance_km,late"]
    lines += [f"{o['order_id']},{o['driver_id']},{o['order_time']:%Y-%m-%d %H:%M:%S},{o['distance_km']},"
              f"{str(o['late']).lower()}" for o in orders()]
    (root / "data" / "orders.csv").write_text("\n".join(lines) + "\n")
    feast_apply(write_repo(root / "feature_repo", "sql"))
    (root / ".gitignore").write_text(".charter/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "rides")
    return root


def expected_as_of(order: dict) -> float | None:
    """The conversion rate Feast must join: the latest statistics at or before the order, within 2 days."""
    seen = [r for r in stats_rows() if r["driver_id"] == order["driver_id"]
            and order["order_time"] - timedelta(days=2) <= r["event_timestamp"] <= order["order_time"]]
    return max(seen, key=lambda r: r["event_timestamp"])["conv_rate"] if seen else None


def test_the_reader_sees_what_feast_itself_lists(repo):
    from feast import FeatureStore

    from compiler.feastreg import read_registry

    with contextlib.chdir(repo / "feature_repo"):  # where Feast finds a relative SQLite registry
        store = FeatureStore(repo_path=".")
        with_feast = {v.name: tuple(f.name for f in v.features) for v in store.list_feature_views()}
        services = {s.name: tuple((p.name_to_use(), f.name) for p in s.feature_view_projections
                                  for f in p.features) for s in store.list_feature_services()}
    registry = read_registry(repo / "feature_repo")
    assert {n: v.features for n, v in registry.views.items()} == with_feast == {
        "driver_stats": ("conv_rate", "acc_rate", "trips")}
    assert {n: s.features for n, s in registry.services.items()} == services


def test_validate_checks_the_features_against_the_registry(repo, tmp_path):
    done = run_charter("validate", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    specs = repo / "specs" / "rides.yaml"
    text = specs.read_text()
    try:
        specs.write_text(text.replace("driver_stats:acc_rate", "driver_stats:acc_rte"))
        done = run_charter("validate", cwd=repo)
        assert done.returncode == 1
        assert "error[X317]: feature view `driver_stats` has no feature `acc_rte`" in done.stdout
        assert "help: did you mean `acc_rate`" in done.stdout
    finally:
        specs.write_text(text)


def test_check_data_cleans_and_checks_the_joined_rows(repo):
    done = run_charter("check-data", "order-features-quality", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "402 rows" in done.stdout  # the entity rows, every one joined
    assert "402 -> " in done.stdout  # the drivers without statistics dropped by the suite's cleaning


def test_the_join_is_point_in_time_correct(repo):
    import polars as pl

    done = run_charter("run", "late-orders", "--step", "ingest", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    [raw] = (repo / ".charter" / "artifacts" / "steps").rglob("raw.parquet")
    joined = pl.read_parquet(raw)
    assert joined.columns == ["order_id", "driver_id", "order_time", "distance_km", "conv_rate", "acc_rate",
                              "trips", "late"]
    assert joined.get_column("order_id").to_list()[:3] == ["o0000", "o0001", "o0002"]  # the entity rows' order
    rows = {r["order_id"]: r for r in joined.to_dicts()}
    for order in orders():
        want, got = expected_as_of(order), rows[order["order_id"]]["conv_rate"]
        assert (got is None) == (want is None), order
        if want is not None:
            assert got == pytest.approx(want, abs=1e-6), order
    # the statistics written at noon do not leak into the order placed an hour before
    assert rows["spike11"]["conv_rate"] == pytest.approx(conv_rate(1, 9)) and rows["spike11"]["trips"] == 19
    assert rows["spike13"]["conv_rate"] == pytest.approx(0.999) and rows["spike13"]["trips"] == 9999


def test_run_trains_from_the_feast_source_and_reruns_when_the_features_change(repo):
    import polars as pl

    first = run_charter("run", "late-orders", cwd=repo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "roc_auc" in first.stdout and "promoted" in first.stdout, first.stdout
    again = run_charter("run", "late-orders", cwd=repo)
    assert again.returncode == 0 and "ingest" in again.stdout and "cached" in again.stdout, again.stdout

    data = repo / "feature_repo" / "data" / "driver_stats.parquet"
    stats = pl.read_parquet(data)
    stats.with_columns(pl.col("trips") + 1).write_parquet(data)  # new feature values, same entity rows
    changed = run_charter("status", cwd=repo)
    assert "late-orders" in changed.stdout and "data changed" in changed.stdout, changed.stdout
    rerun = run_charter("run", "late-orders", cwd=repo)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "ingest" in rerun.stdout and "ingest: cached" not in rerun.stdout, rerun.stdout

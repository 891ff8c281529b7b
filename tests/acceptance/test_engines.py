"""End to end: `charter check-data` on `engine: duckdb`, against polars, in a temporary git repository."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.conftest import run_charter

pl = pytest.importorskip("polars")
pytest.importorskip("duckdb")

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: events}
spec:
  format: parquet
  path: data/events.parquet
  engine: duckdb
  duckdb: {memory_limit: 256MiB, threads: 1}
  schema:
    - {name: event_id, type: integer}
    - {name: user, type: string}
    - {name: amount, type: float}
    - {name: at, type: datetime}
    - {name: unused, type: string}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: events-quality}
spec:
  source: events
  prepare:
    - deduplicate: {keys: [event_id], keep: last}
  rules:
    - {rule: not_null, columns: [user], severity: warn}
    - {rule: between, column: amount, min: 0, max: 100, severity: warn}
    - {rule: expression, check: "amount * 2 >= 0 or user == 'admin'", severity: warn}
    - {rule: not_in_future, column: at}
    - {rule: row_count, min: 1}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: events-owners}
spec:
  covers: [events, events-quality]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
"""


@pytest.fixture
def events_repo(example_repo):
    (example_repo / "specs/events.yaml").write_text(SPECS)
    start = datetime(2024, 1, 1)
    n = 500
    (example_repo / "data").mkdir()
    pl.DataFrame({
        "event_id": [i // 2 if i % 50 == 0 else i for i in range(n)],  # a few duplicates, removed by prepare
        "user": [None if i % 37 == 0 else f"u{i % 9}" for i in range(n)],
        "amount": [-5.0 if i % 41 == 0 else float(i % 90) for i in range(n)],
        "at": [start + timedelta(hours=i) for i in range(n)],
        "unused": ["x"] * n,
    }).write_parquet(example_repo / "data/events.parquet")
    return example_repo


def _report(repo, store: str) -> dict:
    [path] = list((repo / store).rglob("data_report.json"))
    return json.loads(path.read_text())


def test_duckdb_and_polars_report_the_same(events_repo):
    duck = run_charter("check-data", "events-quality", "--store", ".charter/duck", cwd=events_repo)
    assert duck.returncode == 0, duck.stdout + duck.stderr
    assert "read by duckdb in the validate step" in duck.stdout
    assert "2/5 rules passed, 3 warning(s)" in duck.stdout
    assert (events_repo / ".charter/duckdb").is_dir()  # the default spill folder
    spec = events_repo / "specs/events.yaml"
    spec.write_text(SPECS.replace("  engine: duckdb\n", "  engine: polars\n"))
    polars = run_charter("check-data", "events-quality", "--store", ".charter/polars", cwd=events_repo)
    assert polars.returncode == 0, polars.stdout + polars.stderr
    duck_report, polars_report = _report(events_repo, ".charter/duck"), _report(events_repo, ".charter/polars")
    assert (duck_report.pop("engine"), polars_report.pop("engine")) == ("duckdb", "polars")
    assert duck_report == polars_report
    warned = [r for r in _report(events_repo, ".charter/duck")["rules"] if not r["passed"]]
    assert [r["type"] for r in warned] == ["not_null", "between", "expression"]
    assert all(r["sample_rows"] for r in warned)


def test_a_failing_rule_stops_the_check_with_its_sample_rows(events_repo):
    spec = events_repo / "specs/events.yaml"
    spec.write_text(SPECS.replace("{rule: not_null, columns: [user], severity: warn}",
                                  "{rule: not_null, columns: [user]}"))
    result = run_charter("check-data", "events-quality", cwd=events_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 data rule(s) failed" in result.stdout and "have nulls" in result.stdout


def test_bad_data_and_unsupported_specs_get_messages_not_tracebacks(events_repo):
    pl.DataFrame({"event_id": ["1", "x"], "user": ["a", "b"], "amount": [1.0, 2.0], "at": ["2024-01-01", "?"],
                  "unused": ["", ""]}).write_parquet(events_repo / "data/events.parquet")
    bad = run_charter("check-data", "events-quality", cwd=events_repo)
    assert bad.returncode == 1 and "Traceback" not in bad.stdout + bad.stderr
    assert "column `event_id` (integer): 1 value(s) are not integers, e.g. `x`, first at row 2" in bad.stdout


def test_the_example_suite_s_cleaning_runs_in_duckdb_as_in_polars(events_repo):
    """`standardize`, `fill_null` by median and `clip` by quantiles (the churn suite) as SQL: the same report."""
    def report() -> dict:
        result = run_charter("check-data", "customers-quality", "--format", "json", "--force", cwd=events_repo)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
        return json.loads(result.stdout)

    on_polars = report()
    config = events_repo / "charter.yaml"  # charter.yaml's default puts every source on DuckDB
    config.write_text(config.read_text() + "  engine: duckdb\n  duckdb: {memory_limit: 512MiB}\n")
    on_duckdb = report()
    assert (on_polars["engine"], on_duckdb["engine"]) == ("polars", "duckdb")
    assert on_duckdb["rows"] == on_polars["rows"] and on_duckdb["steps"][1]["detail"].startswith("run by duckdb")
    for a, b in zip(on_polars["rules"], on_duckdb["rules"], strict=True):
        assert {k: v for k, v in a.items() if k != "observed"} == {k: v for k, v in b.items() if k != "observed"}
        assert b["observed"] == pytest.approx(a["observed"], rel=1e-9) if a["observed"] is not None else \
            b["observed"] is None


def _json(repo, *args) -> dict:
    result = run_charter("check-data", "events-quality", "--format", "json", *args, cwd=repo)
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == result.returncode
    return doc


def test_json_results_are_the_same_on_both_engines_apart_from_the_engine(events_repo):
    spec = events_repo / "specs/events.yaml"
    spec.write_text(SPECS.replace("{rule: not_null, columns: [user], severity: warn}",
                                  "{rule: not_null, columns: [user]}"))  # an error rule fails: exit 1
    duck = _json(events_repo, "--store", ".charter/duck")
    spec.write_text(spec.read_text().replace("  engine: duckdb\n", "  engine: polars\n"))
    polars = _json(events_repo, "--store", ".charter/polars")
    assert (duck.pop("engine"), polars.pop("engine")) == ("duckdb", "polars")
    assert duck.pop("steps") and polars.pop("steps")  # timings and run keys differ by nature
    assert duck == polars
    assert duck["format_version"] == 1 and duck["exit_code"] == 1 and duck["passed"] is False
    by_type = {r["type"]: r for r in duck["rules"]}
    assert set(by_type) == {"not_null", "between", "expression", "not_in_future", "row_count"}
    nulls = by_type["not_null"]
    assert (nulls["kind"], nulls["severity"], nulls["passed"], nulls["rows_checked"]) == ("row", "error", False,
                                                                                          duck["rows"])
    assert nulls["failing"] == 14 and nulls["sample_rows"][:2] == [1, 37]
    count = by_type["row_count"]
    assert (count["kind"], count["failing"], count["observed"], count["sample_rows"]) == ("table", None,
                                                                                          duck["rows"], [])


def test_json_of_a_reused_check_and_of_a_check_stopped_by_ingest(events_repo):
    first, again = _json(events_repo), _json(events_repo)
    assert [s["status"] for s in again["steps"]] == ["cached"] * 3
    assert {k: v for k, v in first.items() if k != "steps"} == {k: v for k, v in again.items() if k != "steps"}
    pl.DataFrame({"event_id": ["x"], "user": ["a"], "amount": [1.0], "at": ["2024-01-01"], "unused": [""]}
                 ).write_parquet(events_repo / "data/events.parquet")
    stopped = _json(events_repo)
    assert (stopped["exit_code"], stopped["rules"], stopped["rows"], stopped["passed"]) == (1, [], None, False)
    assert "not integers" in stopped["failed"]


def test_duckdb_above_a_size_runs_a_polars_source_out_of_core(events_repo):
    spec = events_repo / "specs/events.yaml"
    spec.write_text(SPECS.replace("  engine: duckdb\n  duckdb: {memory_limit: 256MiB, threads: 1}\n",
                                  "  duckdb: {above: 1KiB, memory_limit: 256MiB, threads: 1}\n"))
    big = run_charter("check-data", "events-quality", "--store", ".charter/big", "--format", "json", cwd=events_repo)
    assert big.returncode == 0, big.stdout + big.stderr
    spec.write_text(SPECS.replace("  engine: duckdb\n  duckdb: {memory_limit: 256MiB, threads: 1}\n",
                                  "  duckdb: {above: 1GiB, memory_limit: 256MiB}\n"))
    small = run_charter("check-data", "events-quality", "--store", ".charter/small", "--format", "json",
                        cwd=events_repo)
    assert small.returncode == 0, small.stdout + small.stderr
    a, b = json.loads(big.stdout), json.loads(small.stdout)
    assert (a.pop("engine"), b.pop("engine")) == ("duckdb", "polars")  # the file is 10-odd KiB
    assert a["rules"] == b["rules"] and a["rows"] == b["rows"]
    assert a["steps"][0]["detail"] == "read by duckdb in the validate step"
    text = run_charter("check-data", "events-quality", "--store", ".charter/big2", cwd=events_repo)
    assert "read by" not in text.stdout  # at 1 GiB the file stays on polars


def test_engine_spark_without_pyspark_says_what_to_install(events_repo, tmp_path):
    """Exit 2 and the install line, as for a missing runtime extra (a stand-in `pyspark` that is not there)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    fake = tmp_path / "without-pyspark" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'pyspark'\", name='pyspark')\n")
    spec = events_repo / "specs/events.yaml"
    spec.write_text(SPECS.replace("  engine: duckdb\n  duckdb: {memory_limit: 256MiB, threads: 1}\n",
                                  "  engine: spark\n  spark: {master: \"local[1]\"}\n"))
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["PYTHONPATH"] = f"{fake.parent}{os.pathsep}{REPO}"
    result = subprocess.run([sys.executable, "-m", "compiler", "check-data", "events-quality"], cwd=events_repo,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "`engine: spark` needs PySpark" in result.stdout + result.stderr
    assert "pip install 'charter[spark]'" in result.stdout + result.stderr

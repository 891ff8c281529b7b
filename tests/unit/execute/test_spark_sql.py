"""`engine: spark` without a JVM: which patterns go down as Java reads them, the row order, the SQL, the settings.

The engine's results against polars are in tests/integration/test_spark_pushdown.py, on a
local Spark session; these pin the pieces that decide what is sent, and need only SQLGlot.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sqlglot")


from compiler.driver import compile_tree  # noqa: E402
from compiler.execute import plan as p  # noqa: E402
from compiler.execute.engines import spark_session, sparktypes  # noqa: E402
from compiler.execute.engines.spark import SUPPORTED_STEPS, SparkCompiler, java_regex, source, table_name  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.failure import RunError  # noqa: E402
from compiler.validate.rules.engines import STEPS  # noqa: E402
from tests.conftest import REPO  # noqa: E402


def test_validation_and_engine_agree_on_the_steps_spark_runs():
    assert STEPS == SUPPORTED_STEPS


@pytest.mark.parametrize(("pattern", "translated"), [
    ("C[0-9]{6}", r"(?dU)\A(?:C[0-9]{6})\z"),
    (r"[a-z]+\.\d*", r"(?dU)\A(?:[a-z]+\.\d*)\z"),  # \d as Python's: any Unicode digit, by (?U)
    ("a.b|c", r"(?dU)\A(?:a.b|c)\z"),  # `.` skips only `\n`, by (?d)
    ("x{2,}", r"(?dU)\A(?:x{2,})\z"),
])
def test_patterns_that_mean_the_same_in_java_go_down(pattern, translated):
    assert java_regex(pattern) == translated


@pytest.mark.parametrize("pattern", [
    "(?!x)[a-z]*",  # look-ahead: not portable anywhere
    r"\bword\b",
    "[a-z&&[def]]",  # an intersection in Java, three literals in Python
    "[a[bc]]",  # a nested class in Java
    "[]a]",  # a literal `]` in Python, an error in Java
    "x{",  # a literal brace in Python, an error in Java
    "a}",
    r"\v",  # any vertical space in Java, only \x0b in Python
])
def test_patterns_java_would_read_otherwise_fall_back_to_python(pattern):
    assert java_regex(pattern) is None


def test_a_table_name_is_split_on_dots_and_every_part_quoted():
    assert table_name("events").sql("spark") == "`events`"
    assert table_name("lake.events").sql("spark") == "`lake`.`events`"
    assert table_name("cat.lake.events").sql("spark") == "`cat`.`lake`.`events`"
    assert table_name("we`ird").sql("spark") == "`we``ird`"
    with pytest.raises(DataError, match="not a table name"):
        table_name("a.b.c.d")


def test_a_parquet_file_is_numbered_by_its_row_index_and_a_table_by_its_key(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/ev`ents.parquet").write_bytes(b"PAR1")
    ingest = {"source": "events", "format": "parquet", "path": "data/ev`ents.parquet", "limits": {}}
    base, numbered = source(ingest, tmp_path)
    where = str((tmp_path / "data/ev`ents.parquet").resolve()).replace("`", "``")
    assert base.sql("spark") == f"SELECT * FROM `parquet`.`{where}`"
    assert numbered.sql("spark") == f"SELECT *, `_metadata`.`row_index` AS `__charter_row` FROM `parquet`.`{where}`"
    table = {"source": "events", "format": "spark", "table": "lake.events", "primary_key": ["Order", "select"]}
    _, numbered = source(table, tmp_path)
    assert numbered.sql("spark") == ("SELECT *, ROW_NUMBER() OVER (ORDER BY `Order` NULLS LAST, `select` NULLS LAST) "
                                     "- 1 AS `__charter_row` FROM `lake`.`events`")


@pytest.mark.parametrize(("ingest", "message"), [
    ({"format": "csv", "path": "e.csv"}, "Spark gives a CSV file's rows no position"),
    ({"format": "jsonl", "path": "e.jsonl"}, "engine spark cannot check a `jsonl` source"),
    ({"format": "spark", "table": "events", "primary_key": []}, "declare the table's `primary_key`"),
])
def test_what_the_engine_cannot_order_is_refused_before_spark_starts(tmp_path, ingest, message):
    with pytest.raises(DataError, match=message):
        source({"source": "events", "limits": {}, **ingest}, tmp_path)


def _sql(check: str, types: dict[str, str]) -> str:
    node = p.expression(check, types)
    return SparkCompiler(types=types).node(node).sql("spark")


def test_doubles_are_ieee_as_in_polars_not_sparks_errors_or_nulls():
    types = {"x": "float", "n": "integer"}
    division = _sql("x / n", types)
    assert "CASE WHEN CAST(`n` AS DOUBLE) = CAST(0.0 AS DOUBLE)" in division  # x/0: inf, -inf or NaN, not an error
    assert "CAST('inf' AS DOUBLE)" in division and "CAST('nan' AS DOUBLE)" in division
    log = _sql("log(x)", types)
    assert log.startswith("CASE WHEN CAST(`x` AS DOUBLE) = CAST(0.0 AS DOUBLE) THEN CAST('-inf' AS DOUBLE)")
    assert _sql("round(x)", types) == "BROUND(CAST(`x` AS DOUBLE))"  # half to even, as polars
    assert _sql("round(x, 2)", types) == ("BROUND(CAST(`x` AS DOUBLE) * CAST(100.0 AS DOUBLE)) / "
                                          "CAST(100.0 AS DOUBLE)")


def test_literals_are_quoted_by_the_library():
    assert _sql("s != 'it\\'s \\\\ `x`'", {"s": "string"}) == "`s` <> 'it\\'s \\\\ `x`'"
    assert SparkCompiler().node(p.Lit(datetime(2025, 6, 1, 12))).sql("spark") == \
        "CAST('2025-06-01 12:00:00' AS TIMESTAMP_NTZ)"


def test_measures_in_sparks_functions():
    compiler = SparkCompiler()
    quantile = compiler.measure(p.Measure("quantile", "x", quantile=0.9)).sql("spark")
    assert quantile == "PERCENTILE(CAST(`x` AS DOUBLE), 0.9)"
    age = compiler.measure(p.Measure("age", "at", now=datetime(2025, 6, 1))).sql("spark")
    assert age == ("CAST(TIMESTAMPDIFF(MICROSECOND, CAST(MAX(`at`) AS TIMESTAMP_NTZ), "
                   "CAST('2025-06-01 00:00:00' AS TIMESTAMP_NTZ)) DIV 1000000 AS DOUBLE)")


def test_text_declared_as_a_number_is_parsed_behind_a_guard():
    sql = sparktypes.typed({"name": "n", "type": "float"}, "string").sql("spark")
    # the cast only sees what the pattern let through (Java's `\z`: the end of input, not `$`)
    assert sql.startswith("CASE WHEN TRIM(") and "RLIKE '^[+-]?" in sql and "\\\\z' THEN CAST(" in sql
    assert sparktypes.typed({"name": "n", "type": "integer"}, "int").sql("spark") == "CAST(`n` AS BIGINT)"
    assert sparktypes.typed({"name": "t", "type": "datetime"}, "timestamp").sql("spark") == \
        "CAST(`t` AS TIMESTAMP_NTZ)"
    assert sparktypes.castable({"name": "n", "type": "integer"}, "decimal(10,2)")
    assert not sparktypes.castable({"name": "n", "type": "float"}, "decimal(10,2)")


def test_the_master_and_local_threads():
    assert spark_session.master_of({}) == "local[2]"
    assert spark_session.master_of({"master": "sc://spark:15002"}) == "sc://spark:15002"
    assert spark_session._cores("local[3]") == 3
    assert spark_session._cores("local") == 1
    assert spark_session._cores("local[*]") >= 1


def test_without_pyspark_the_engine_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(RunError, match="needs PySpark") as caught:
        spark_session.session({})
    assert caught.value.hint == "pip install 'charter[spark]'"


def test_without_java_a_local_session_says_what_to_install(monkeypatch):
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    with pytest.raises(RunError, match="no Java runtime was found") as caught:
        spark_session._start(SparkSession, "local[2]")
    assert "openjdk-17-jre-headless" in (caught.value.hint or "")


SOURCE = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: lake-events}
spec:
  format: spark
  table: lake.events
  primary_key: [event_id]
  engine: spark
  spark: {master: "spark://spark-master:7077"}
  schema:
    - {name: event_id, type: integer}
---
apiVersion: charter/v1
kind: DataSource
metadata: {name: file-events}
spec:
  format: parquet
  path: data/events.parquet
  engine: spark
  schema:
    - {name: event_id, type: integer}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: lake-owners}
spec:
  covers: [lake-events, file-events]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
"""


def _checks(root: Path) -> dict:
    result, graph = compile_tree(root)
    assert graph is not None, [d.to_dict() for d in result.diagnostics]
    return {c.name: c for c in graph.checks}


def test_the_master_reaches_the_data_check_and_stays_out_of_the_hashes(tmp_path):
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(REPO / "specs", root / "specs")
    (root / "charter.yaml").write_text((REPO / "charter.yaml").read_text() + "  spark: {master: \"local[4]\"}\n")
    (root / "specs/lake.yaml").write_text(SOURCE)
    checks = _checks(root)
    lake, files = checks["lake-events"], checks["file-events"]
    assert lake.step("validate").params["engine_settings"] == {"master": "spark://spark-master:7077"}
    assert lake.step("ingest").params["spark"] == {"master": "spark://spark-master:7077"}
    assert files.step("validate").params["engine_settings"] == {"master": "local[4]"}  # charter.yaml's
    before = {s.name: s.hash for s in lake.steps}
    (root / "specs/lake.yaml").write_text(SOURCE.replace("spark://spark-master:7077", "sc://connect:15002"))
    assert {s.name: s.hash for s in _checks(root)["lake-events"].steps} == before

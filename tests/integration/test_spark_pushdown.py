"""Integration tier: `engine: spark` against polars, on a local Spark session (`local[2]`, a real JVM).

The data and the rules are the engine parity test's (tests/unit/execute/test_engine_parity.py,
also the PostgreSQL pushdown test's): injected violations, nulls, NaN, duplicates, empty and
non-ASCII text, future timestamps and dates. Spark reads them as a Parquet file (rows by
`_metadata.row_index`) and as a table of its catalog (`lake.events`, stored in reverse, read
in `primary_key` order). Every rule type must give the same failing count and the same sample
rows as polars, and every table rule the same verdict and measure. One session serves the
module: starting Spark's JVM takes seconds. Without PySpark or Java this skips, but under
CI=true it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_charter
from tests.integration.conftest import missing

pytestmark = pytest.mark.integration
try:
    import polars as pl
    import sqlglot  # noqa: F401
except ImportError as exc:  # under CI the tier must run, not skip
    if os.environ.get("CI"):
        raise
    pytest.skip(f"{exc.name} is not installed (pip install -e '.[dev,spark]')", allow_module_level=True)


@pytest.fixture(autouse=True, scope="module")
def _pyspark() -> None:
    """PySpark is the `spark` extra, not in `dev`: the README's test command collects this module without it."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        missing("PySpark is not installed (pip install -e '.[dev,spark]')")

from compiler.execute.engines.spark import check_source  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.failure import RunError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from compiler.execute.prepare import apply_prepare, finalize_types  # noqa: E402
from compiler.execute.rules import check_rules, reader  # noqa: E402
from tests.integration.test_postgres_pushdown import GOOD, TEXT_COLUMNS, _texts  # noqa: E402
from tests.unit.execute.test_engine_parity import (  # noqa: E402
    KEY_SCHEMA,
    NOW,
    PREPARE_CASES,
    RULES,
    SCHEMA,
    _data,
    _keys,
    _renamed,
    _same,
    prepare_rules,
    with_keys,
)

TABLE = "lake.events"
KEYED = [{"name": "pk", "type": "integer"}, *SCHEMA]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder holding the parity data as `events.parquet`, and text columns as `texts.parquet`."""
    root = tmp_path_factory.mktemp("spark-data")
    _data().write_parquet(root / "events.parquet", row_group_size=16)  # several row groups: several splits
    pl.DataFrame(_texts()).write_parquet(root / "texts.parquet")
    _keys().write_parquet(root / "keys.parquet")  # the foreign keys' referenced source
    return root


@pytest.fixture(scope="module")
def spark(data):
    """The module's one session, with `lake.events` in its catalog (stored in reverse key order)."""
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        missing("no Java runtime for Spark's JVM (apt-get install openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    from compiler.execute.engines.spark_session import session

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    # the warehouse in the test's folder, and the engine's settings: it then reuses this session
    settings = {"spark.sql.warehouse.dir": str(data / "warehouse"), "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "2",
                "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    builder = SparkSession.builder.master("local[2]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    builder.getOrCreate()
    spark = session({"master": "local[2]"})
    keyed = data / "keyed.parquet"
    _data().with_row_index("pk").with_columns(pl.col("pk").cast(pl.Int32)).write_parquet(keyed)
    spark.sql("CREATE DATABASE IF NOT EXISTS lake")
    spark.read.parquet(str(keyed)).orderBy("pk", ascending=False).coalesce(1).write.mode("overwrite").saveAsTable(
        TABLE)
    keys = data / "keys-keyed.parquet"
    _keys().with_row_index("pk").with_columns(pl.col("pk").cast(pl.Int32)).write_parquet(keys)
    spark.read.parquet(str(keys)).write.mode("overwrite").saveAsTable("lake.keys")
    yield spark
    spark.stop()


def _file(name: str = "events.parquet", schema=None) -> dict:
    return {"source": "events", "format": "parquet", "path": name, "schema": schema or SCHEMA, "limits": {}}


def _table(name: str = TABLE) -> dict:
    return {"source": "events", "format": "spark", "table": name, "primary_key": ["pk"], "schema": KEYED,
            "limits": {}, "spark": {"master": "local[2]"}}


def _both(root: Path, ingest: dict, rules: list[dict], steps: list[dict] | None = None):
    steps = steps or []
    schema = _renamed(ingest["schema"], steps)
    # foreign keys look up a Parquet file beside a file, a table of the catalog beside a table
    keys = {"source": "keys", "format": "parquet", "path": "keys.parquet", "schema": KEY_SCHEMA, "limits": {}} \
        if ingest["format"] == "parquet" else \
        {"source": "keys", "format": "spark", "table": "lake.keys", "primary_key": ["pk"],
         "schema": [{"name": "pk", "type": "integer"}, *KEY_SCHEMA], "limits": {}, "spark": {"master": "local[2]"}}
    rules = with_keys(rules, keys)
    reference = finalize_types(apply_prepare(read_source(ingest, root), steps), schema)
    pushed, rows = check_source(ingest, {"steps": steps, "schema": schema}, rules, {"master": "local[2]"}, root,
                                now=NOW)
    assert rows == reference.height
    return check_rules(reference, rules, now=NOW, read=reader(root)), pushed


@pytest.fixture(scope="module")
def on_file(spark, data):
    """Every rule at once on the Parquet file: (polars' results, Spark's), in rule order."""
    return _both(data, _file(), RULES)


@pytest.fixture(scope="module")
def on_table(spark, data):
    return _both(data, _table(), RULES)


@pytest.mark.parametrize("k", range(len(RULES)), ids=[r["id"] for r in RULES])
def test_rule_agrees_with_polars_on_a_parquet_file(on_file, k):
    polars_results, pushed = on_file
    _same(polars_results[k], pushed[k])


@pytest.mark.parametrize("k", range(len(RULES)), ids=[r["id"] for r in RULES])
def test_rule_agrees_with_polars_on_a_catalog_table_in_key_order(on_table, k):
    polars_results, pushed = on_table
    _same(polars_results[k], pushed[k])


def test_the_data_really_fails(on_file, on_table):
    """A parity of zeros would prove nothing; the table's rows are stored in reverse, so its order is the key's."""
    for _, pushed in (on_file, on_table):
        assert sum(r.failing > 0 for r in pushed) >= 30
    assert [r.sample for r in on_file[1]] == [r.sample for r in on_table[1]]


@pytest.mark.parametrize("case", list(PREPARE_CASES))
def test_prepare_steps_agree(spark, data, case):
    steps = PREPARE_CASES[case]
    for a, b in zip(*_both(data, _file(), prepare_rules(steps), steps), strict=True):
        _same(a, b)


@pytest.mark.parametrize(("column", "kind"), TEXT_COLUMNS, ids=[f"{c}-{k}" for c, k in TEXT_COLUMNS])
def test_declared_types_fail_with_ingests_message(spark, data, column, kind):
    declared = {"name": column, "type": kind, **({"values": ["a", "b"]} if kind == "category" else {})}
    schema = [{"name": "pk", "type": "integer"}, declared]
    rules = [{"id": "x", "severity": "error", "rule": "not_null", "columns": [column]}]
    with pytest.raises(DataError) as polars_error:
        finalize_types(read_source(_file("texts.parquet", schema), data), schema)
    with pytest.raises(DataError) as pushed_error:
        check_source(_file("texts.parquet", schema), {"steps": [], "schema": schema}, rules, {}, data, now=NOW)
    assert str(pushed_error.value) == str(polars_error.value)


@pytest.mark.parametrize("column", list(GOOD))
def test_text_that_converts_is_typed_as_ingest_types_it(spark, data, column):
    """Every spelling ingest takes becomes the same value in Spark, row for row."""
    from sqlglot import exp

    from compiler.execute.engines import sparktypes

    kind, values = GOOD[column]
    path = data / f"good-{column}.parquet"
    pl.DataFrame({"pk": list(range(len(values))), column: values}, schema={"pk": pl.Int64, column: pl.String}
                 ).write_parquet(path)
    declared = {"name": column, "type": kind}
    table = exp.Table(this=exp.to_identifier(str(path), quoted=True), db=exp.to_identifier("parquet"))
    query = exp.select(exp.alias_(sparktypes.typed(declared, "string"), "v")).from_(table).order_by("pk")
    pushed = [row[0] for row in spark.sql(query.sql("spark")).collect()]
    schema = [{"name": "pk", "type": "integer"}, declared]
    expected = finalize_types(read_source(_file(path.name, schema), data), schema).get_column(column).to_list()
    assert [repr(v) for v in pushed] == [repr(v) for v in expected]


def test_hostile_names_and_literals_are_quoted_not_run(spark, data):
    values = [("x'); drop table lake.events; --", 3, "100%"), ("a\"b", 1, "it's; select 1"), (None, 2, "%s"),
              ("ok", 2, "\\' or 1=1 --"), ("ok", None, "ünïcødé"), ("`tick`", 4, "back\\slash\\u0041")]
    pl.DataFrame({"select": [v[0] for v in values], "Order": [v[1] for v in values],
                  "user": [v[2] for v in values]}).write_parquet(data / "hostile.parquet")
    schema = [{"name": "select", "type": "string"}, {"name": "Order", "type": "integer"},
              {"name": "user", "type": "string"}]
    rules = [{"id": "in", "severity": "error", "rule": "in_set", "column": "select",
              "values": ["x'); drop table lake.events; --", 'a"b', "ok", "`tick`"]},
             {"id": "re", "severity": "error", "rule": "regex", "column": "user", "pattern": "[^;']*%?"},
             {"id": "ex", "severity": "error", "rule": "expression",
              "check": "user != \"it's; select 1\" and select + '%' != 'ok%' and user != 'back\\\\slash\\\\u0041'"},
             {"id": "u", "severity": "error", "rule": "unique", "columns": ["Order"]},
             {"id": "n", "severity": "error", "rule": "not_null", "columns": ["select", "Order"]}]
    polars_results, pushed = _both(data, _file("hostile.parquet", schema), rules)
    for a, b in zip(polars_results, pushed, strict=True):
        _same(a, b)
    assert [r.failing for r in pushed] == [0, 2, 5, 1, 2]
    assert spark.sql("SELECT COUNT(*) FROM lake.events").collect()[0][0] == len(_data())


PATTERNS = [r"\d+", r"\w+", "a.b", "[^a]+", r"\s*[a-z]+\s*", "(?!x)[a-z]*", "x{", r"a{2,}", r"[\d]{2}",
            r"\v", "[]a]+", "é|ü+"]


def test_regex_reads_as_pythons_whether_it_goes_down_or_falls_back(spark, data):
    values = ["12", "١٢", "a\nb", "axb", "a\rb", "ab_é", " abc ", "", "xyz", "def", "x{", "aaa", "\x0b", "]a",
              "éüü", None]
    pl.DataFrame({"text": values}).write_parquet(data / "texts-re.parquet")
    schema = [{"name": "text", "type": "string"}]
    rules = [{"id": f"re-{k}", "severity": "error", "rule": "regex", "column": "text", "pattern": pattern}
             for k, pattern in enumerate(PATTERNS)]
    polars_results, pushed = _both(data, _file("texts-re.parquet", schema), rules)
    for a, b in zip(polars_results, pushed, strict=True):
        _same(a, b)


def test_what_spark_cannot_read_is_a_clear_error(spark, data):
    rules = [{"id": "n", "severity": "error", "rule": "not_null", "columns": ["id"]}]
    prep = {"steps": [], "schema": KEYED}
    with pytest.raises(DataError, match=r"cannot read `lake.nowhere`: \[TABLE_OR_VIEW_NOT_FOUND\]"):
        check_source(_table("lake.nowhere"), prep, rules, {}, data, now=NOW)
    with pytest.raises(DataError, match=r"declared column\(s\) missing from the data: `pk`"):
        check_source(_file(schema=KEYED), prep, rules, {}, data, now=NOW)
    with pytest.raises(DataError, match="Spark gives a CSV file's rows no position"):
        check_source(dict(_file(), format="csv", path="events.csv"), prep, rules, {}, data, now=NOW)
    with pytest.raises(RunError, match=r"table `lake.events` has 60 rows, above the limit `max_rows: 10`"):
        check_source(dict(_table(), limits={"max_rows": 10}), prep, rules, {}, data, now=NOW)


SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: events}
spec:
  format: parquet
  path: data/events.parquet
  engine: spark
  spark: {master: "local[1]"}
  schema:
    - {name: id, type: integer}
    - {name: amount, type: float}
    - {name: name, type: string}
    - {name: seen, type: datetime}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: events-quality}
spec:
  source: events
  prepare:
    - drop_null: {columns: [seen]}
  rules:
    - {rule: unique, columns: [id], severity: warn}
    - {rule: between, column: amount, min: 0, max: 40, severity: warn}
    - {rule: regex, column: name, pattern: "[a-z]+", severity: warn}
    - {rule: expression, check: "amount / 0 > 1 or id // 4 != 2", severity: warn}
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


def test_check_data_reports_the_same_document_on_both_engines(spark, example_repo):
    """The command end to end, in its own process (and so its own JVM), against polars."""
    specs = example_repo / "specs/events.yaml"
    specs.write_text(SPECS)
    _data().write_parquet(example_repo / "data-events.parquet")
    (example_repo / "data").mkdir(exist_ok=True)
    shutil.move(example_repo / "data-events.parquet", example_repo / "data/events.parquet")
    assert run_charter("validate", cwd=example_repo).returncode == 0
    pushed = run_charter("check-data", "events-quality", "--format", "json", cwd=example_repo)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    # the JVM's start says nothing but errors, and Spark's warehouse folder stays under .charter/
    assert " WARN " not in pushed.stderr and "log4j" not in pushed.stderr, pushed.stderr
    assert not (example_repo / "spark-warehouse").exists() and (example_repo / ".charter/spark-warehouse").is_dir()
    specs.write_text(SPECS.replace("  engine: spark\n", ""))
    local = run_charter("check-data", "events-quality", "--format", "json", cwd=example_repo)
    assert local.returncode == 0, local.stdout + local.stderr
    a, b = json.loads(pushed.stdout), json.loads(local.stdout)
    assert (a["engine"], b["engine"]) == ("spark", "polars")
    assert a["rules"] == b["rules"] and a["rows"] == b["rows"]
    assert sum(not r["passed"] for r in a["rules"]) >= 3

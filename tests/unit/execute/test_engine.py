"""The data engine on good and bad data: rules, cleaning steps, ingest formats, and their errors.

Every rule type runs on passing and failing data; every cleaning step and every ingest format is
covered, and so are the errors bad data gets.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

pl = pytest.importorskip("polars")

from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.expressions import to_polars  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from compiler.execute.prepare import apply_prepare, finalize_types  # noqa: E402
from compiler.execute.rules import check_rules  # noqa: E402

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
DF = pl.DataFrame({
    "id": ["a1", "a2", "a3", "a3", None],
    "n": [1, 5, 10, None, 3],
    "x": [1.0, 2.0, 3.0, 4.0, 100.0],
    "y": [0.5, 2.0, 1.0, 5.0, 1.0],
    "cat": ["red", "blue", "red", "green", "red"],
    "when": [datetime(2025, 1, 1), datetime(2025, 1, 9), None, datetime(2025, 2, 1), datetime(2024, 12, 1)],
})


def one(rule: dict):
    [result] = check_rules(DF, [{"id": rule["rule"], "severity": "error", **rule}], now=NOW)
    return result


@pytest.mark.parametrize(("rule", "failing", "sample"), [
    ({"rule": "not_null", "columns": ["id"]}, 1, [5]),
    ({"rule": "not_null", "columns": ["x"]}, 0, []),
    ({"rule": "unique", "columns": ["id"]}, 1, [4]),
    ({"rule": "unique", "columns": ["id", "n"]}, 0, []),
    ({"rule": "between", "column": "x", "min": 0, "max": 10}, 1, [5]),
    ({"rule": "between", "column": "n", "min": 1, "max": 10, "strict": True}, 2, [1, 3]),
    ({"rule": "between", "column": "n", "min": 0}, 0, []),
    ({"rule": "in_set", "column": "cat", "values": ["red", "blue"]}, 1, [4]),
    ({"rule": "in_set", "column": "n", "values": [1, 5, 10, 3]}, 0, []),
    ({"rule": "regex", "column": "id", "pattern": "a[12]"}, 2, [3, 4]),
    ({"rule": "regex", "column": "id", "pattern": r"(a)\d(?<=\d)"}, 0, []),  # look-behind: Python fallback
    ({"rule": "length", "column": "cat", "min": 4}, 3, [1, 3, 5]),
    ({"rule": "compare", "left": "x", "op": ">=", "right": "y"}, 1, [4]),
    ({"rule": "not_in_future", "column": "when"}, 1, [4]),
    ({"rule": "not_in_future", "column": "when", "tolerance": "30d"}, 0, []),
    ({"rule": "monotonic", "column": "n"}, 1, [5]),  # 3 after 10: the null between is skipped
    ({"rule": "monotonic", "column": "x", "strict": True}, 0, []),
    ({"rule": "monotonic", "column": "y"}, 2, [3, 5]),
    ({"rule": "monotonic", "column": "y", "by": ["cat"]}, 0, []),  # red: 0.5, 1.0, 1.0
    ({"rule": "monotonic", "column": "y", "by": ["cat"], "strict": True}, 1, [5]),
    ({"rule": "monotonic", "column": "when", "order_by": ["n"]}, 1, [5]),  # by n: Jan 1, Dec 1 (fails), Jan 9
    ({"rule": "expression", "check": "lag(x, 2) < x"}, 2, [1, 2]),  # no row two before: cannot be confirmed
    ({"rule": "expression", "check": "diff(n) > 0"}, 3, [1, 4, 5]),
    ({"rule": "expression", "check": "diff(n) > 0 or lag(n) == null", "by": ["cat"]}, 1, [5]),  # red: 1, 10, 3
    ({"rule": "expression", "check": "lag(cat) != cat", "order_by": ["y", "x"]}, 3, [1, 3, 5]),  # red red red blue
    ({"rule": "expression", "check": "x < 50 and cat != 'green'"}, 2, [4, 5]),
    ({"rule": "expression", "check": "n > 0"}, 1, [4]),  # null cannot be confirmed: fails
])
def test_row_rules(rule, failing, sample):
    result = one(rule)
    assert (result.failing, result.sample, result.passed) == (failing, sample, failing == 0)
    assert result.total == 5


@pytest.mark.parametrize(("rule", "passed", "observed"), [
    ({"rule": "row_count", "min": 5}, True, 5),
    ({"rule": "row_count", "min": 6}, False, 5),
    ({"rule": "null_fraction", "column": "n", "max": 0.2}, True, 0.2),
    ({"rule": "null_fraction", "column": "n", "max": 0.1}, False, 0.2),
    ({"rule": "distinct_count", "column": "cat", "max": 3}, True, 3),
    ({"rule": "distinct_count", "column": "cat", "min": 4}, False, 3),
    ({"rule": "mean_between", "column": "x", "min": 20, "max": 30}, True, 22),
    ({"rule": "mean_between", "column": "x", "max": 10}, False, 22),
    ({"rule": "stdev_between", "column": "y", "max": 1}, False, None),
    ({"rule": "quantile_between", "column": "x", "quantile": 0.5, "min": 3, "max": 3}, True, 3),
    ({"rule": "freshness", "column": "when", "max_age": "1d"}, True, None),
])
def test_table_rules(rule, passed, observed):
    result = one(rule)
    assert result.passed is passed, result.message
    if observed is not None:
        assert result.observed == pytest.approx(observed)


def test_freshness_fails_for_stale_data():
    stale = DF.with_columns(pl.col("when").dt.offset_by("-60d"))
    [r] = check_rules(stale, [{"id": "f", "rule": "freshness", "column": "when", "max_age": "7d", "severity": "warn"}],
                      now=NOW)
    assert not r.passed and r.severity == "warn" and "old" in r.message


def test_prepare_steps():
    raw = pl.DataFrame({"k": ["1", "2", "2", "3", "4"], "flag": ["Yes", " y ", "N", "maybe", None],
                        "v": [1.0, None, 3.0, 100.0, 5.0], "g": ["M", "f", "x", None, "M"]})
    steps = [
        {"standardize": {"column": "flag", "true": ["yes", "Y"], "false": ["no", "n"], "case_insensitive": True}},
        {"standardize": {"column": "g", "mapping": {"m": "male", "f": "female"}, "case_insensitive": True}},
        {"deduplicate": {"keys": ["k"], "keep": "last"}},
        {"fill_null": {"columns": ["v"], "strategy": "median"}},
        {"clip": {"column": "v", "min": 0, "max": 50}},
        {"rename": {"mapping": {"g": "gender"}}},
        {"drop_columns": {"columns": ["k"]}},
    ]
    out = apply_prepare(raw, steps)
    assert out.columns == ["flag", "v", "gender"]
    assert out.get_column("flag").to_list() == [True, False, None, None]
    assert out.get_column("gender").to_list() == ["male", "x", None, "male"]
    assert out.get_column("v").to_list() == [1.0, 3.0, 50.0, 5.0]
    kept = apply_prepare(raw, [{"deduplicate": {"keys": ["k"], "keep": "first"}}, {"drop_null": {"columns": ["v"]}},
                               {"fill_null": {"columns": ["g"], "value": "unknown"}}])
    assert kept.get_column("k").to_list() == ["1", "3", "4"]
    assert kept.get_column("g").to_list() == ["M", "unknown", "M"]
    quantiles = apply_prepare(pl.DataFrame({"v": [float(i) for i in range(101)]}),
                              [{"clip": {"column": "v", "quantiles": [0.1, 0.9]}}])
    assert quantiles.get_column("v").min() == 10.0 and quantiles.get_column("v").max() == 90.0


def test_finalize_types_casts_booleans_after_standardize():
    df = pl.DataFrame({"b": ["true", "0", None]})
    assert finalize_types(df, [{"name": "b", "type": "boolean"}]).get_column("b").to_list() == [True, False, None]
    with pytest.raises(DataError, match=r"column `b` \(boolean\).*`yes`"):
        finalize_types(pl.DataFrame({"b": ["true", "yes"]}), [{"name": "b", "type": "boolean"}])


SCHEMA = [{"name": "id", "type": "string"}, {"name": "n", "type": "integer"}, {"name": "x", "type": "float"},
          {"name": "d", "type": "date"}, {"name": "t", "type": "datetime"}]


def _params(fmt: str, path: str, **extra) -> dict:
    return {"source": "s", "format": fmt, "path": path, "query": None, "table": None, "connection": None,
            "csv": None, "schema": SCHEMA, **extra}


def test_ingest_formats(tmp_path):
    (tmp_path / "a.csv").write_text("id,n,x,d,t,extra\nA,1,1.5,2024-01-02,2024-01-02T03:04:05,z\nB,,2,2024-02-03,"
                                    "2024-02-03 10:00,z\n")
    csv = read_source(_params("csv", "a.csv"), tmp_path)
    assert csv.columns == ["id", "n", "x", "d", "t"]  # undeclared `extra` dropped
    assert csv.get_column("n").to_list() == [1, None]
    assert csv.schema["t"] == pl.Datetime("us")
    csv.write_parquet(tmp_path / "a.parquet")
    assert read_source(_params("parquet", "a.parquet"), tmp_path).equals(csv)
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"id": "A", "n": 1, "x": 1.5, "d": "2024-01-02", "t": "2024-01-02T03:04:05"},
        {"id": "B", "n": None, "x": 2, "d": "2024-02-03", "t": "2024-02-03 10:00"}]) + "\n")
    assert read_source(_params("jsonl", "a.jsonl"), tmp_path).equals(csv)
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("create table t (id text, n integer, x real, d text, t text)")
        conn.executemany("insert into t values (?,?,?,?,?)", [("A", 1, 1.5, "2024-01-02", "2024-01-02T03:04:05"),
                                                              ("B", None, 2.0, "2024-02-03", "2024-02-03 10:00")])
    assert read_source(_params("sql", "a.db", table="t"), tmp_path).equals(csv)
    assert read_source(_params("sql", "a.db", query="select * from t where n = 1"), tmp_path).height == 1


def test_type_errors_name_column_and_rows(tmp_path):
    (tmp_path / "b.csv").write_text("id,n,x,d,t\nA,1,1,2024-01-01,2024-01-01T00:00:00\nB,x,1,2024-01-01,"
                                    "2024-01-01T00:00:00\nC,2.5,1,2024-01-01,2024-01-01T00:00:00\n")
    with pytest.raises(DataError) as info:
        read_source(_params("csv", "b.csv"), tmp_path)
    assert info.value.column == "n"
    assert str(info.value) == ("source `s`: column `n` (integer): 2 value(s) are not integers, e.g. `x`, `2.5`, "
                               "first at rows 2, 3")


def test_missing_columns_outside_paths_and_unset_urls(tmp_path):
    (tmp_path / "c.csv").write_text("id\nA\n")
    with pytest.raises(DataError, match="missing from the data: `n`, `x`, `d`, `t`"):
        read_source(_params("csv", "c.csv"), tmp_path)
    with pytest.raises(DataError, match="leaves the repository"):
        read_source(_params("csv", "../c.csv"), tmp_path / "sub")
    params = _params("sql", None, query="select 1", connection={"url_env": "CHARTER_TEST_UNSET_URL"})
    with pytest.raises(DataError, match="`CHARTER_TEST_UNSET_URL` is not set"):
        read_source(params, tmp_path)


@pytest.mark.parametrize(("text", "expected"), [
    ("x > 1 and x < 4", [False, True, True, False, False]),
    ("1 < x < 4", [False, True, True, False, False]),
    ("cat in ['red'] or n == null", [True, False, True, True, True]),  # `== null` tests for null
    ("n != null and n > 2", [False, True, True, False, True]),
    ("cat not in ['red']", [False, True, False, True, False]),
    ("abs(-x) + sqrt(4) == x + 2", [True] * 5),
    ("length(upper(cat)) == 3", [True, False, True, False, True]),
    ("is_null(n)", [False, False, False, True, False]),
    ("coalesce(n, 0) >= 0", [True] * 5),
    ("max(x, y) == x", [True, True, True, False, True]),
    ("round(x / 3, 1) == 0.3", [True, False, False, False, False]),
])
def test_expressions(text, expected):
    assert DF.select(to_polars(text).alias("r")).get_column("r").to_list() == expected

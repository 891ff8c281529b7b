"""The data report's versioned shape, and a store written before it had one."""

from __future__ import annotations

from compiler.execute.report import FORMAT_VERSION, data_report, stored_report
from compiler.execute.rules import RuleResult

RESULTS = [RuleResult("n", "not_null", "error", False, 2, 10, [3, 7], None, "2 row(s) have nulls"),
           RuleResult("m", "mean_between", "warn", False, 1, 1, [], float("nan"), "observed nan, expected >= 0")]


def test_row_and_table_rules_have_one_shape():
    doc = data_report(RESULTS, 10, "duckdb")
    assert (doc["format_version"], doc["engine"], doc["rows"], doc["passed"]) == (FORMAT_VERSION, "duckdb", 10, False)
    row, table = doc["rules"]
    assert row == {"id": "n", "type": "not_null", "kind": "row", "severity": "error", "passed": False, "failing": 2,
                   "rows_checked": 10, "sample_rows": [3, 7], "observed": None, "message": "2 row(s) have nulls"}
    assert (table["kind"], table["failing"], table["observed"], table["sample_rows"]) == ("table", None, None, [])


def test_a_report_stored_before_format_version_1_reads_as_today():
    old = {"rows": 10, "rules": [{"id": r.id, "rule": r.rule, "severity": r.severity, "passed": r.passed,
                                  "failing": r.failing, "total": r.total, "sample": r.sample,
                                  "observed": r.observed, "message": r.message} for r in RESULTS]}
    assert stored_report(old, "polars") == data_report(RESULTS, 10, "polars")
    assert stored_report(data_report(RESULTS, 10, "polars"), "polars") == data_report(RESULTS, 10, "polars")

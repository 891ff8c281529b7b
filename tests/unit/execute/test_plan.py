"""The rule plan and its SQL: typed nodes per rule, and SQL where SQLGlot quotes every name and value."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

pytest.importorskip("polars")
sqlglot = pytest.importorskip("sqlglot")

from compiler.execute import plan as p  # noqa: E402
from compiler.execute.engines.sql import Compiler  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _one(rule: dict, types: dict | None = None):
    return p.compile_rules([{"id": "r", "severity": "error", **rule}], types or {}, now=NOW).rules[0]


def test_row_rules_become_failing_predicates():
    assert _one({"rule": "not_null", "columns": ["a"]}).failing == p.IsNull(p.Col("a"))
    assert _one({"rule": "unique", "columns": ["a", "b"]}).failing == p.Duplicate(("a", "b"))
    between = _one({"rule": "between", "column": "x", "min": 0.0, "strict": True}).failing
    assert between == p.Logic("and", (p.IsNull(p.Col("x"), negated=True), p.Cmp("<=", p.Col("x"), p.Lit(0.0))))
    compare = _one({"rule": "compare", "left": "a", "op": "<", "right": "b"}).failing
    assert compare == p.Not(p.FillFalse(p.Cmp("<", p.Col("a"), p.Col("b"))))


def test_not_in_future_compares_dates_with_a_date():
    node = _one({"rule": "not_in_future", "column": "d", "tolerance": "1d"}, {"d": "date"}).failing
    assert node.args[1] == p.Cmp(">", p.Col("d"), p.Lit(date(2025, 1, 2)))


def test_in_set_values_take_the_column_type():
    node = _one({"rule": "in_set", "column": "n", "values": [1, "2", 2.7, "x", True]}, {"n": "integer"}).failing
    assert node.args[1] == p.Not(p.InList(p.Col("n"), (1, 2, 2, 1)))


def test_table_rules_become_measures_and_the_plan_lists_its_columns():
    plan = p.compile_rules([{"id": "q", "severity": "warn", "rule": "quantile_between", "column": "x",
                             "quantile": 0.9, "max": 1},
                            {"id": "e", "severity": "error", "rule": "expression", "check": "a + b > c"}],
                           {}, now=NOW)
    assert plan.rules[0].measure == p.Measure("quantile", "x", 0.9, datetime(2025, 1, 1))
    assert plan.columns == ("a", "b", "c", "x")


def test_expression_types_decide_text_joins_and_integer_division():
    assert p.expression("a + b", {"a": "string", "b": "string"}) == p.Arith("+", p.Col("a"), p.Col("b"), "string")
    assert p.expression("a // 2", {"a": "integer"}).kind == "integer"
    assert p.expression("x == null or 1 < x < 3") == p.Logic("or", (
        p.IsNull(p.Col("x")), p.Logic("and", (p.Cmp("<", p.Lit(1), p.Col("x")), p.Cmp("<", p.Col("x"), p.Lit(3))))))
    with pytest.raises(DataError):
        p.expression("__import__('os')")


@pytest.mark.parametrize("name, value", [
    ('we"ird; DROP TABLE t; --', "it's"),
    ("naïve col", "'); SELECT 1; --"),
])
def test_sql_quotes_every_identifier_and_literal(name, value):
    rule = {"id": "r", "severity": "error", "rule": "in_set", "column": name, "values": [value]}
    plan = p.compile_rules([rule, {**rule, "rule": "regex", "pattern": value}], {name: "string"}, now=NOW)
    sql = Compiler().query(plan, sqlglot.exp.to_table("prepared")).sql("duckdb")
    parsed = sqlglot.parse_one(sql, read="duckdb")  # one statement, whatever the names hold
    columns = {c.name for c in parsed.find_all(sqlglot.exp.Column)}
    strings = {s.this for s in parsed.find_all(sqlglot.exp.Literal) if s.is_string}
    assert name in columns and value in strings


def test_the_dialect_is_a_switch():
    plan = p.compile_rules([{"id": "q", "severity": "warn", "rule": "quantile_between", "column": "x",
                             "quantile": 0.5, "max": 1},
                            {"id": "e", "severity": "error", "rule": "expression", "check": "round(x, 1) > 2"}],
                           {"x": "float"}, now=NOW)
    duck = Compiler("duckdb").query(plan, sqlglot.exp.to_table("t")).sql("duckdb")
    postgres = Compiler("postgres").query(plan, sqlglot.exp.to_table("t")).sql("postgres")
    assert "QUANTILE_CONT" in duck and "ROUND_EVEN" in duck
    assert "PERCENTILE_CONT(0.5) WITHIN GROUP" in postgres and "ROUND(" in postgres

"""`engine: postgres` without a server: which patterns go down as they are, the query's row order, the SQL.

The engine's results against polars are in tests/integration/test_postgres_pushdown.py, on a
real PostgreSQL; these pin the pieces that decide what is sent.
"""

from __future__ import annotations

import pytest

pytest.importorskip("polars")
sqlglot = pytest.importorskip("sqlglot")

from compiler.execute import plan as p  # noqa: E402
from compiler.execute.engines.postgres import PostgresCompiler, parse_query, portable_regex, source  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402
from compiler.validate.rules.engines import top_level_order_by  # noqa: E402


@pytest.mark.parametrize(("pattern", "translated"), [
    ("C[0-9]{6}", "^(?:C[0-9]{6})$"),
    (r"[a-z]+\.\d*", r"^(?:[a-z]+\.\d*)$"),
    ("[^;']*%?", "^(?:[^;']*%?)$"),
    ("a.b|c", "(?p)^(?:a.b|c)$"),  # `.` skips newlines, as in Python
    ("(?:ab)+", "^(?:(?:ab)+)$"),
])
def test_patterns_that_mean_the_same_in_both_go_down(pattern, translated):
    assert portable_regex(pattern) == translated


@pytest.mark.parametrize("pattern", [
    r"\bword\b",  # a word boundary in Python, a backspace in PostgreSQL
    r"\x41",  # two hex digits in Python, any number in PostgreSQL
    "(?!x)[a-z]*",  # look-ahead
    r"(a)\1",  # a back-reference
    "(?i)abc",  # flags
    "a.[^b]",  # `.` and `[^b]` disagree on newlines in every PostgreSQL mode
    "[[:alpha:]]+",  # a POSIX class in PostgreSQL, a set of `[:alph` in Python
    "^abc$",  # anchors inside a full match
    r"\u00e9",
])
def test_patterns_that_would_mean_otherwise_fall_back_to_python(pattern):
    assert portable_regex(pattern) is None


@pytest.mark.parametrize(("query", "ordered"), [
    ("select * from t order by id", True),
    ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 5", True),
    ("select * from t", False),
    ("select row_number() over (order by id) from t", False),
    ("with x as (select * from t order by id) select * from x", False),
    ("select * from (select * from t order by id) s", False),
    ("select * from t -- order by id", False),
    ("select * from t /* order by /* nested */ id */", False),
    ("select 'order by' as s from t", False),
    ('select "order by" from t', False),
    ("select $$ order by $$ from t", False),
    ("select $q$ ) order by ( $q$ from t", False),
    ("select E'it\\'s order by' from t", False),
    ("select string_agg(a, ',' order by a) from t", False),
    ("select * from t\norder\n  by id desc", True),
])
def test_a_top_level_order_by_is_found_outside_parentheses_comments_and_text(query, ordered):
    assert top_level_order_by(query) is ordered


def _ingest(**spec) -> dict:
    return {"source": "events", "format": "sql", "connection": {"url_env": "X"}, "primary_key": [], **spec}


def test_a_table_is_numbered_in_key_order_with_every_name_quoted():
    base, numbered = source(_ingest(table="Events", primary_key=["Order", "select"]))
    assert base.sql("postgres") == 'SELECT * FROM "Events"'
    assert numbered.sql("postgres") == ('SELECT *, ROW_NUMBER() OVER (ORDER BY "Order", "select") - 1 AS '
                                        '"__charter_row" FROM "Events"')


def test_a_query_is_one_select_with_its_own_order():
    base, numbered = source(_ingest(query="select * from events where a > 1 order by id"))
    assert numbered.sql("postgres").startswith("SELECT *, ROW_NUMBER() OVER () - 1 AS \"__charter_row\" FROM "
                                               "(SELECT * FROM events WHERE a > 1 ORDER BY id")
    with pytest.raises(DataError, match="one SELECT"):
        parse_query(_ingest(query="select 1 order by 1; drop table events"))
    with pytest.raises(DataError, match="one SELECT"):
        parse_query(_ingest(query="delete from events returning *"))
    with pytest.raises(DataError, match="end the query with ORDER BY"):
        parse_query(_ingest(query="select * from events"))
    with pytest.raises(DataError, match="cannot parse the query"):
        parse_query(_ingest(query="select from from where"))


def test_literals_are_quoted_and_doubles_never_raise():
    compiler = PostgresCompiler(types={"name": "string"})
    hostile = p.InList(p.Col("name"), ("x'); drop table t; --",))
    assert compiler.node(hostile).sql("postgres") == "\"name\" IN ('x''); drop table t; --')"
    division = compiler.node(p.Arith("/", p.Col("a"), p.Col("b"))).sql("postgres")
    assert division.startswith('CASE WHEN CAST("b" AS DOUBLE PRECISION) = CAST(0.0 AS DOUBLE PRECISION) THEN')
    log = compiler.node(p.Call("log", (p.Col("a"),))).sql("postgres")
    assert "CAST('-inf' AS DOUBLE PRECISION)" in log and "LN(" in log
    ordered = compiler.node(p.Cmp("<", p.Col("name"), p.Lit("b"))).sql("postgres")
    assert ordered == "\"name\" COLLATE \"C\" < 'b'"  # byte order, as polars compares text

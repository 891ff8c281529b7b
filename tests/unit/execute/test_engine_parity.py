"""Every rule type on polars and on DuckDB over the same files: identical failing counts and sample rows.

The data holds injected violations, nulls, NaN, duplicates, empty and non-ASCII text, future
timestamps and dates. Polars is the reference (today's engine); DuckDB reads the same Parquet
and CSV files itself. Table rules must agree on their verdict and on the measure (to rounding).
"""

from __future__ import annotations

import math
import typing
from datetime import UTC, date, datetime

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("duckdb")

from compiler.execute.engines.duckdb import SUPPORTED_STEPS, check_source  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from compiler.execute.prepare import apply_prepare, finalize_types  # noqa: E402
from compiler.execute.rules import check_rules, reader  # noqa: E402
from compiler.spec.suite import Rule  # noqa: E402
from compiler.validate.rules.engines import STEPS  # noqa: E402

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
N = 60
SCHEMA = [{"name": "id", "type": "integer"}, {"name": "amount", "type": "float"},
          {"name": "name", "type": "string"}, {"name": "code", "type": "category"},
          {"name": "seen", "type": "datetime"}, {"name": "day", "type": "date"},
          {"name": "flag", "type": "boolean"}, {"name": "limit", "type": "float"}]  # fmt: skip


def _data() -> pl.DataFrame:
    ids = [i if i % 11 else None for i in range(N)]
    ids[7] = ids[8] = 3  # duplicates
    amount = [round((i - 10) * 1.25, 2) if i % 9 else None for i in range(N)]
    amount[13] = float("nan")
    names = [["ann", "Bob", "é-zoë", "", "x" * 12, "c3po", None][i % 7] for i in range(N)]
    codes = [["a", "b", "c", None][i % 4] for i in range(N)]
    seen = [datetime(2025, 5, 1 + i % 28, i % 24, 30) if i % 6 else None for i in range(N)]
    seen[20] = datetime(2026, 1, 1)  # in the future
    days = [date(2025, 1 + i % 12, 1 + i % 27) if i % 5 else None for i in range(N)]
    days[21] = date(2025, 6, 2)
    flags = [[True, False, None][i % 3] for i in range(N)]
    limit = [float(i % 8) if i % 10 else None for i in range(N)]
    return pl.DataFrame({"id": ids, "amount": amount, "name": names, "code": codes, "seen": seen, "day": days,
                         "flag": flags, "limit": limit})


KEY_SCHEMA = [{"name": "k_code", "type": "string"}, {"name": "k_flag", "type": "boolean"},
              {"name": "k_id", "type": "integer"}]  # fmt: skip


def _keys() -> pl.DataFrame:
    """The referenced source of the foreign keys: some of the codes, flags and ids, a null, a repeat."""
    return pl.DataFrame({"k_code": ["a", "b", None, "a", "z"], "k_flag": [True, False, True, None, True],
                         "k_id": [1, 2, 3, 3, None]}).vstack(pl.DataFrame(
        {"k_code": ["b"] * 20, "k_flag": [None] * 20, "k_id": list(range(10, 30))},
        schema={"k_code": pl.String, "k_flag": pl.Boolean, "k_id": pl.Int64}))


def with_keys(rules: list[dict], ingest: dict) -> list[dict]:
    """The rules with every foreign key's referenced source read by `ingest` (as the IR gives it)."""
    return [{**r, "references": {**r["references"], "ingest": ingest}} if r["rule"] == "foreign_key" else r
            for r in rules]


CASES = {
    "not_null": [{"rule": "not_null", "columns": ["id"]}, {"rule": "not_null", "columns": ["name", "flag"]}],
    "unique": [{"rule": "unique", "columns": ["id"]}, {"rule": "unique", "columns": ["code", "flag"]}],
    "between": [{"rule": "between", "column": "amount", "min": 0, "max": 40},
                {"rule": "between", "column": "id", "min": 5, "strict": True},
                {"rule": "between", "column": "limit", "max": 6.5}],
    "in_set": [{"rule": "in_set", "column": "code", "values": ["a", "b"]},
               {"rule": "in_set", "column": "id", "values": [1, "2", 3.0, "x", 50]}],
    "regex": [{"rule": "regex", "column": "name", "pattern": "[a-z]+"},
              {"rule": "regex", "column": "name", "pattern": "(?!x)[a-z0-9]*"},  # look-ahead: Python's re
              {"rule": "regex", "column": "id", "pattern": "[0-4]+"}],
    "length": [{"rule": "length", "column": "name", "min": 1, "max": 5}],
    "compare": [{"rule": "compare", "left": "amount", "op": "<=", "right": "limit"},
                {"rule": "compare", "left": "id", "op": "!=", "right": "limit"}],
    "not_in_future": [{"rule": "not_in_future", "column": "seen"},
                      {"rule": "not_in_future", "column": "day"},
                      {"rule": "not_in_future", "column": "seen", "tolerance": "400d"}],
    "monotonic": [{"rule": "monotonic", "column": "id"},
                  {"rule": "monotonic", "column": "amount", "strict": True},  # NaN, then a number
                  {"rule": "monotonic", "column": "seen", "by": ["code"]},
                  {"rule": "monotonic", "column": "day", "by": ["flag", "code"], "order_by": ["limit"]},  # ties
                  {"rule": "monotonic", "column": "limit", "strict": True, "order_by": ["seen", "id"]},
                  {"rule": "monotonic", "column": "id", "max_step": 1},  # no gaps in a sequence
                  {"rule": "monotonic", "column": "amount", "max_step": 2.5, "by": ["code"]},  # NaN too
                  {"rule": "monotonic", "column": "seen", "max_step": "2d", "order_by": ["seen"]},
                  {"rule": "monotonic", "column": "day", "max_step": "36h", "by": ["flag"], "order_by": ["day"]}],
    "foreign_key": [{"rule": "foreign_key", "columns": ["code"], "references": {"source": "keys",
                                                                                "columns": ["k_code"]}},
                    {"rule": "foreign_key", "columns": ["id"], "references": {"source": "keys", "columns": ["k_id"]}},
                    {"rule": "foreign_key", "columns": ["code", "flag"],
                     "references": {"source": "keys", "columns": ["k_code", "k_flag"]}},
                    {"rule": "foreign_key", "columns": ["limit"],  # a float looked up among integers
                     "references": {"source": "keys", "columns": ["k_id"]}}],
    "expression": [{"rule": "expression", "check": "amount * 0.1 < limit + 1"},
                   {"rule": "expression", "check": "id // 4 + id % 3 != 2 and not (name == 'ann')"},
                   {"rule": "expression", "check": "(amount - 10) % 3 < 1.5 or amount / 0 > 1"},
                   {"rule": "expression", "check": "name + '!' != 'Bob!' and length(lower(name)) < 5"},
                   {"rule": "expression", "check": "round(amount * 0.5) == round(amount / 2, 0)"},
                   {"rule": "expression", "check": "abs(min(amount, limit, 3)) <= max(id, 2) ** 2"},
                   {"rule": "expression", "check": "coalesce(limit, -1) >= 0 and code in ['a', 'c']"},
                   {"rule": "expression", "check": "sqrt(abs(amount)) + log(id + 1) > exp(0) or flag"},
                   {"rule": "expression", "check": "id == null or 0 < id < 40"},
                   {"rule": "expression", "check": "upper(code) not in ['B'] and is_null(flag) == false"},
                   {"rule": "expression", "check": "not_null(seen) and -id < -2"},
                   {"rule": "expression", "check": "diff(id) >= 0 or lag(id) == null"},
                   {"rule": "expression", "check": "lag(amount, 2) < amount + 5", "by": ["code"]},
                   {"rule": "expression", "check": "lag(seen) <= seen or is_null(lag(seen, 3))", "order_by": ["day"]},
                   {"rule": "expression", "check": "abs(diff(limit, 3)) <= 4 and lag(name) != name",
                    "by": ["flag"], "order_by": ["amount", "id"]},
                   {"rule": "expression", "check": "diff(day) == null or lag(flag)", "by": ["code", "flag"]}],
    "row_count": [{"rule": "row_count", "min": 10, "max": 20}],
    "null_fraction": [{"rule": "null_fraction", "column": "amount", "max": 0.05}],
    "distinct_count": [{"rule": "distinct_count", "column": "name", "min": 3, "max": 5}],
    "mean_between": [{"rule": "mean_between", "column": "limit", "min": 0, "max": 10}],
    "stdev_between": [{"rule": "stdev_between", "column": "limit", "max": 1}],
    "quantile_between": [{"rule": "quantile_between", "column": "id", "quantile": 0.9, "max": 40}],
    "freshness": [{"rule": "freshness", "column": "seen", "max_age": "10d"},
                  {"rule": "freshness", "column": "day", "max_age": "1000d"},
                  {"rule": "freshness", "column": "seen", "max_age": "5d", "by": ["code"]},
                  {"rule": "freshness", "column": "seen", "max_age": "9d", "by": ["flag", "code"]},
                  {"rule": "freshness", "column": "day", "max_age": "200d", "by": ["name"]},
                  {"rule": "freshness", "column": "seen", "max_age": "1d", "by": ["limit"]},
                  {"rule": "freshness", "column": "seen", "max_age": "20d", "by": ["id"]}],  # partitions of nulls
}
RULES = [{"id": f"{kind}-{i}", "severity": "error", **r} for kind, rules in CASES.items() for i, r in enumerate(rules)]


def test_every_rule_type_is_covered():
    models = typing.get_args(typing.get_args(Rule)[0])
    declared = {typing.get_args(m.model_fields["rule"].annotation)[0] for m in models}
    assert declared == set(CASES)


def test_validation_and_engine_agree_on_the_steps_duckdb_runs():
    assert STEPS == SUPPORTED_STEPS


def _both(tmp_path, fmt: str, rules: list[dict], steps: list[dict] | None = None, schema=None):
    schema = schema or SCHEMA
    path = tmp_path / f"data.{fmt}"
    df = _data()
    if fmt == "parquet":
        df.write_parquet(path)
    else:
        df.write_csv(path)
    ingest = {"source": "events", "format": fmt, "path": path.name, "schema": schema, "limits": {}}
    keys = tmp_path / f"keys.{fmt}"
    _keys().write_parquet(keys) if fmt == "parquet" else _keys().write_csv(keys)
    rules = with_keys(rules, {"source": "keys", "format": fmt, "path": keys.name, "schema": KEY_SCHEMA,
                              "limits": {}})
    steps = steps or []
    prepared_schema = [c for c in schema]
    reference = finalize_types(apply_prepare(read_source(ingest, tmp_path), steps), prepared_schema)
    polars_results = check_rules(reference, rules, now=NOW, read=reader(tmp_path))
    duck, rows = check_source(ingest, {"steps": steps, "schema": _renamed(prepared_schema, steps)}, rules, {},
                              tmp_path, now=NOW)
    assert rows == reference.height
    return polars_results, duck


def _renamed(schema: list[dict], steps: list[dict]) -> list[dict]:
    mapping = {k: v for s in steps if "rename" in s for k, v in s["rename"]["mapping"].items()}
    return [{**c, "name": mapping.get(c["name"], c["name"])} for c in schema]


def _same(a, b):
    assert (a.id, a.passed, a.failing, a.total, a.sample) == (b.id, b.passed, b.failing, b.total, b.sample)
    if a.observed is None or b.observed is None:
        assert a.observed is b.observed is None
    elif math.isnan(a.observed):
        assert math.isnan(b.observed)
    else:
        assert b.observed == pytest.approx(a.observed, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_rule_agrees_on_both_engines(tmp_path, fmt, rule):
    [a], [b] = _both(tmp_path, fmt, [rule])
    _same(a, b)


def test_rules_fail_somewhere(tmp_path):
    """The data really has violations for the row rules (a parity of zeros would prove nothing)."""
    _keys().write_parquet(tmp_path / "keys.parquet")
    keys = {"source": "keys", "format": "parquet", "path": "keys.parquet", "schema": KEY_SCHEMA, "limits": {}}
    results = check_rules(_data(), with_keys([r for r in RULES if r["rule"] not in ("freshness", "row_count")], keys),
                          now=NOW, read=reader(tmp_path))
    assert sum(r.failing > 0 for r in results) >= len(results) - 3


# Every prepare step a SQL engine runs, alone and combined; the rules read what each one changes.
PREPARE_CASES = {
    "drop_null": [{"drop_null": {"columns": ["id"]}}],
    "dedupe-last": [{"deduplicate": {"keys": ["code", "flag"], "keep": "last"}}],
    "dedupe-first-rename": [{"deduplicate": {"keys": ["id"], "keep": "first"}},
                            {"rename": {"mapping": {"amount": "value"}}}],
    "drop-then-drop_null": [{"drop_columns": {"columns": ["limit"]}}, {"drop_null": {"columns": ["name", "seen"]}}],
    "standardize-boolean": [{"standardize": {"column": "flag", "true": ["TRUE", "1"], "false": ["false"]}}],
    "standardize-exact-case": [{"standardize": {"column": "flag", "true": ["true"], "false": ["False"],
                                                "case_insensitive": False}}],
    "standardize-mapping": [{"standardize": {"column": "name", "mapping": {"ANN": "anne", " bob ": "robert",
                                                                            "": "none"}}}],
    "fill-constant": [{"fill_null": {"columns": ["amount", "limit", "id"], "value": 2}},
                      {"fill_null": {"columns": ["name", "code"], "value": "x"}}],
    "fill-statistics": [{"fill_null": {"columns": ["amount"], "strategy": "mean"}},
                        {"fill_null": {"columns": ["limit"], "strategy": "median"}},
                        {"fill_null": {"columns": ["code", "id", "flag"], "strategy": "mode"}}],
    "clip": [{"clip": {"column": "amount", "min": -3, "max": 40}}, {"clip": {"column": "id", "quantiles": [0.05, 0.8]}},
             {"clip": {"column": "limit", "max": 4.5}}],
    "rename-then-clean": [{"rename": {"mapping": {"amount": "value", "flag": "ok"}}},
                          {"standardize": {"column": "ok", "true": ["true"], "false": ["false"]}},
                          {"fill_null": {"columns": ["value"], "strategy": "median"}},
                          {"clip": {"column": "value", "quantiles": [0.2, 0.7]}}, {"drop_null": {"columns": ["ok"]}}],
}


def prepare_rules(steps: list[dict]) -> list[dict]:
    """Rules over what `steps` change (names after their renames); no bound sits on a clipped quantile."""
    renamed = {k: v for s in steps if "rename" in s for k, v in s["rename"]["mapping"].items()}
    value, flag = renamed.get("amount", "amount"), renamed.get("flag", "flag")
    kept = [c for c in ("id", value, "limit", "name", "code", flag)
            if not any("drop_columns" in s and c in s["drop_columns"]["columns"] for s in steps)]
    rules = [{"id": "u", "severity": "error", "rule": "unique", "columns": ["id"]},
             {"id": "b", "severity": "error", "rule": "between", "column": value, "min": 0, "max": 30},
             {"id": "s", "severity": "warn", "rule": "in_set", "column": "name", "values": ["anne", "robert", "x"]},
             {"id": "r", "severity": "warn", "rule": "regex", "column": "name", "pattern": "[a-z]+"},
             {"id": "c", "severity": "warn", "rule": "in_set", "column": "code", "values": ["a", "x"]},
             {"id": "i", "severity": "warn", "rule": "between", "column": "id", "min": 3.5, "max": 40.5},
             {"id": "m", "severity": "warn", "rule": "mean_between", "column": value, "min": 0},
             {"id": "e", "severity": "warn", "rule": "expression", "check": f"{value} * 2 < 60 or {flag}"}]
    rules += [{"id": f"n-{c}", "severity": "warn", "rule": "not_null", "columns": [c]} for c in kept]
    if "limit" in kept:
        rules.append({"id": "l", "severity": "warn", "rule": "stdev_between", "column": "limit", "max": 1})
    return rules


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("case", list(PREPARE_CASES))
def test_prepare_steps_agree(tmp_path, case, fmt):
    steps = PREPARE_CASES[case]
    for a, b in zip(*_both(tmp_path, fmt, prepare_rules(steps), steps), strict=True):
        _same(a, b)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_type_errors_read_the_same(tmp_path, fmt):
    schema = [dict(c, type="integer") if c["name"] == "amount" else c for c in SCHEMA]
    schema = [dict(c, values=["a", "b"]) if c["name"] == "code" else c for c in schema]
    rules = [{"id": "a", "severity": "error", "rule": "not_null", "columns": ["amount", "code"]}]
    with pytest.raises(DataError) as polars_error:
        _both(tmp_path, fmt, rules, schema=schema)
    path = tmp_path / f"data.{fmt}"
    ingest = {"source": "events", "format": fmt, "path": path.name, "schema": schema, "limits": {}}
    with pytest.raises(DataError) as duck_error:
        check_source(ingest, {"steps": [], "schema": schema}, rules, {}, tmp_path, now=NOW)
    assert str(duck_error.value) == str(polars_error.value)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_quantiles_and_distinct_counts_that_spill_agree(tmp_path, monkeypatch, fmt):
    """Above a size, DuckDB computes these measures as a sort and a GROUP BY (both spill): the same values."""
    from compiler.execute.engines import duckdb as engine

    monkeypatch.setattr(engine, "HOLISTIC_SHARE", 0)  # every table is "large"
    rules = [r for r in RULES if r["rule"] in ("quantile_between", "distinct_count")] + [
        {"id": f"q{q}", "severity": "warn", "rule": "quantile_between", "column": c, "quantile": q, "max": 1e9}
        for c in ("amount", "id", "limit") for q in (0.0, 0.1, 0.5, 0.9, 1.0)] + [
        {"id": f"d-{c}", "severity": "warn", "rule": "distinct_count", "column": c, "max": 1e9}
        for c in ("amount", "code", "seen", "flag")]
    for a, b in zip(*_both(tmp_path, fmt, rules), strict=True):
        _same(a, b)


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_a_statistic_of_text_is_the_same_error_on_both_engines(tmp_path, strategy):
    steps = [{"fill_null": {"columns": ["name"], "strategy": strategy}}]
    rules = [{"id": "n", "severity": "error", "rule": "not_null", "columns": ["name"]}]
    with pytest.raises(DataError) as polars_error:
        apply_prepare(_data(), steps)
    _data().write_parquet(tmp_path / "data.parquet")
    ingest = {"source": "events", "format": "parquet", "path": "data.parquet", "schema": SCHEMA, "limits": {}}
    with pytest.raises(DataError) as duck_error:
        check_source(ingest, {"steps": steps, "schema": SCHEMA}, rules, {}, tmp_path, now=NOW)
    assert str(duck_error.value) == str(polars_error.value) == \
        f"`fill_null` with `{strategy}` needs a numeric column, `name` is not one"

"""Data rules, vectorised: every rule becomes a polars expression, and all of them run in one `select`.

Polars then evaluates them in parallel, in a single pass over the table.

Row rules count failing rows (and sample up to five, as 1-based row numbers of the prepared
table); table rules (row_count, null_fraction, distinct_count, mean/stdev/quantile, freshness)
compare one observed value with their bounds. Nulls are the business of `not_null` and
`null_fraction`: other column rules skip them, except `compare` and `expression`, where a
check that cannot be confirmed counts as failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from compiler.execute.durations import seconds
from compiler.execute.expressions import to_polars

_ROW = {"not_null", "unique", "between", "in_set", "regex", "length", "compare", "not_in_future", "expression"}
_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


@dataclass(frozen=True, slots=True)
class RuleResult:
    id: str
    rule: str
    severity: str
    passed: bool
    failing: int
    total: int
    sample: list[int]
    observed: float | None
    message: str


def _naive(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _outside(value: pl.Expr, low, high, strict: bool = False) -> pl.Expr:
    parts = []
    if low is not None:
        parts.append(value <= low if strict else value < low)
    if high is not None:
        parts.append(value >= high if strict else value > high)
    out = parts[0]
    for p in parts[1:]:
        out = out | p
    return value.is_not_null() & out


def _regex_mask(df: pl.DataFrame, column: str, pattern: str) -> pl.Expr:
    anchored = f"^(?:{pattern})$"
    try:
        df.head(1).select(pl.col(column).cast(pl.String).str.contains(anchored))
        return pl.col(column).is_not_null() & ~pl.col(column).cast(pl.String).str.contains(anchored)
    except pl.exceptions.PolarsError:
        # The Rust regex engine lacks look-around and back-references: match the distinct
        # values with Python's `re` instead (once per value, not per row).
        compiled = re.compile(pattern)
        values = df.get_column(column).cast(pl.String).drop_nulls().unique().to_list()
        bad = [v for v in values if not compiled.fullmatch(v)]
        return pl.col(column).cast(pl.String).is_in(bad)


def _row_mask(df: pl.DataFrame, r: dict, now: datetime) -> pl.Expr:
    kind = r["rule"]
    if kind == "not_null":
        return pl.any_horizontal([pl.col(c).is_null() for c in r["columns"]])
    if kind == "unique":
        cols = r["columns"]
        return ~(pl.col(cols[0]) if len(cols) == 1 else pl.struct(cols)).is_first_distinct()
    if kind == "between":
        return _outside(pl.col(r["column"]), r.get("min"), r.get("max"), r.get("strict", False))
    if kind == "in_set":
        values = pl.Series(r["values"]).cast(df.schema[r["column"]], strict=False).drop_nulls().to_list()
        return pl.col(r["column"]).is_not_null() & ~pl.col(r["column"]).is_in(values)
    if kind == "regex":
        return _regex_mask(df, r["column"], r["pattern"])
    if kind == "length":
        return _outside(pl.col(r["column"]).cast(pl.String).str.len_chars(), r.get("min"), r.get("max"))
    if kind == "compare":
        test = getattr(pl.col(r["left"]), _OPS[r["op"]])(pl.col(r["right"]))
        return ~test.fill_null(False)
    if kind == "not_in_future":
        limit = _naive(now) + timedelta(seconds=seconds(r.get("tolerance") or "0s"))
        col = pl.col(r["column"])
        if df.schema[r["column"]] == pl.Date:
            return col.is_not_null() & (col > limit.date())
        return col.is_not_null() & (col > limit)
    return ~to_polars(r["check"]).fill_null(False)  # expression


def _observed(df: pl.DataFrame, r: dict, now: datetime) -> pl.Expr:
    kind = r["rule"]
    if kind == "row_count":
        return pl.len().cast(pl.Float64)
    col = pl.col(r["column"])
    if kind == "null_fraction":
        return (col.null_count() / pl.len().clip(1)).cast(pl.Float64)
    if kind == "distinct_count":
        return col.drop_nulls().n_unique().cast(pl.Float64)
    if kind == "mean_between":
        return col.cast(pl.Float64).mean()
    if kind == "stdev_between":
        return col.cast(pl.Float64).std()
    if kind == "quantile_between":
        return col.cast(pl.Float64).quantile(r["quantile"], interpolation="linear")
    # freshness: age of the newest value, in seconds
    newest = col.max().cast(pl.Datetime("us"))
    return (pl.lit(_naive(now)).cast(pl.Datetime("us")) - newest).dt.total_seconds().cast(pl.Float64)


def check_rules(df: pl.DataFrame, rules: list[dict], *, now: datetime) -> list[RuleResult]:
    # Pass 1 evaluates every row mask and table statistic in one parallel select; the masks are
    # kept as (bit-packed) boolean columns, so counting failures and sampling failing rows in
    # pass 2 costs almost nothing and no mask is computed twice.
    row_ids = [i for i, r in enumerate(rules) if r["rule"] in _ROW]
    table_ids = [i for i, r in enumerate(rules) if r["rule"] not in _ROW]
    counts: dict = {}
    if row_ids:
        masks = df.select([_row_mask(df, rules[i], now).alias(f"m{i}") for i in row_ids])
        counts = masks.select([pl.col(f"m{i}").sum().alias(f"r{i}") for i in row_ids]
                              + [pl.col(f"m{i}").arg_true().head(5).implode().alias(f"s{i}") for i in row_ids]
                              ).row(0, named=True)
    stats = df.select([_observed(df, rules[i], now).alias(f"r{i}") for i in table_ids]).row(0, named=True) \
        if table_ids else {}
    results = []
    for i, r in enumerate(rules):
        if r["rule"] in _ROW:
            failing = int(counts[f"r{i}"] or 0)
            sample = [k + 1 for k in counts[f"s{i}"]] if failing else []
            results.append(RuleResult(r["id"], r["rule"], r["severity"], failing == 0, failing, df.height, sample,
                                      None, _row_message(r, failing)))
        else:
            results.append(_table_result(r, stats[f"r{i}"], df.height))
    return results


def _row_message(r: dict, failing: int) -> str:
    if not failing:
        return "ok"
    what = {"not_null": "have nulls", "unique": "repeat an earlier key", "between": "are out of bounds",
            "in_set": "are not in the allowed set", "regex": "do not match the pattern",
            "length": "have a length out of bounds",
            "compare": f"break `{r.get('left')} {r.get('op')} {r.get('right')}`",
            "not_in_future": "are in the future", "expression": "break the check"}[r["rule"]]  # fmt: skip
    return f"{failing} row(s) {what}"


def _table_result(r: dict, observed: float | None, rows: int) -> RuleResult:
    kind = r["rule"]
    if kind == "null_fraction":
        low, high = None, r["max"]
    elif kind == "freshness":
        low, high = None, float(seconds(r["max_age"]))
    else:
        low, high = r.get("min"), r.get("max")
    if observed is None:
        passed, message = False, "no values to measure"
    else:
        passed = (low is None or observed >= low) and (high is None or observed <= high)
        bounds = " and ".join(([f">= {low:g}"] if low is not None else [])
                              + ([f"<= {high:g}"] if high is not None else []))
        shown = f"{observed:.6g}" if kind != "freshness" else f"{observed / 3600:.1f}h old"
        message = "ok" if passed else f"observed {shown}, expected {bounds}"
    return RuleResult(r["id"], kind, r["severity"], passed, 0 if passed else 1, 1, [], observed, message)

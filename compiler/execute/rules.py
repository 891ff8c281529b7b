"""Data rules: compiled to the engine-neutral plan (`compiler.execute.plan`), run by an engine, judged here.

On polars, every rule becomes an expression and all of them run in one parallel `select`,
a single pass over the table; `compiler.execute.engines.duckdb` runs the same plan as SQL.

Row rules count failing rows (and sample up to five, as 1-based row numbers of the prepared
table); table rules (row_count, null_fraction, distinct_count, mean/stdev/quantile, freshness)
compare one observed value with their bounds. Nulls are the business of `not_null` and
`null_fraction`: other column rules skip them, except `compare` and `expression`, where a
check that cannot be confirmed counts as failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from compiler.execute.durations import seconds
from compiler.execute.engines import polars as engine
from compiler.execute.errors import DataError
from compiler.execute.plan import compile_rules


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
    row: bool | None = None  # counts failing rows (False: judges one measure; None: as its rule type does)


def check_rules(df: pl.DataFrame, rules: list[dict], *, now: datetime,
                read: Callable[[dict], pl.DataFrame] | None = None) -> list[RuleResult]:
    """The results of `rules` over `df`; `read` reads a foreign key's referenced source (ingest's params) whole."""
    plan = compile_rules(rules, engine.logical_types(df.schema), now=now)
    keys = []
    for ref in plan.references:
        if read is None:  # a caller without a repository (a monitored batch) has nothing to read it from
            raise DataError(f"a foreign key into `{ref.source}` needs that source read")
        keys.append(read(ref.ingest).select(list(ref.columns)))
    counts, stats = engine.evaluate(df, plan, keys)
    return results(plan.rules, counts, stats, df.height)


def reader(root) -> Callable[[dict], pl.DataFrame]:
    """How a check in a repository reads a foreign key's referenced source: as ingest reads it, types final."""
    from compiler.execute.ingest import read_source
    from compiler.execute.prepare import finalize_types

    return lambda ingest: finalize_types(read_source(ingest, root), ingest["schema"])


def results(rules, counts: dict, stats: dict, rows: int) -> list[RuleResult]:
    """The result of every planned rule, from any engine's counts (0-based sample rows) and measures."""
    out = []
    for i, planned in enumerate(rules):
        r = planned.spec
        if i in counts:
            failing, sample = counts[i]
            out.append(RuleResult(r["id"], r["rule"], r["severity"], failing == 0, failing, rows,
                                  [k + 1 for k in sample] if failing else [], None, _row_message(r, failing),
                                  row=True))
        else:
            out.append(_table_result(r, stats[i], rows))
    return out


def _row_message(r: dict, failing: int) -> str:
    if not failing:
        return "ok"
    if r["rule"] == "freshness":  # by partition: one failing row per stale partition, its newest
        by = ", ".join(f"`{c}`" for c in r.get("by") or ())
        return f"{failing} partition(s) of {by} have no `{r.get('column')}` within {r.get('max_age')} (sampled: " \
               "their newest rows)"
    what = {"not_null": "have nulls", "unique": "repeat an earlier key", "between": "are out of bounds",
            "in_set": "are not in the allowed set", "regex": "do not match the pattern",
            "length": "have a length out of bounds",
            "compare": f"break `{r.get('left')} {r.get('op')} {r.get('right')}`",
            "not_in_future": "are in the future", "expression": "break the check",
            "foreign_key": f"have a key ({', '.join(r.get('columns') or ())}) not found in {_target(r)}",
            "monotonic": f"are {'not above' if r.get('strict') else 'below'} the previous row's `{r.get('column')}`"
                         + (f" or more than {r['max_step']:g} above it" if isinstance(r.get("max_step"), int | float)
                            else f" or more than {r['max_step']} after it" if r.get("max_step") else "")
                         + (" in their group" if r.get("by") else "")}[r["rule"]]  # fmt: skip
    return f"{failing} row(s) {what}"


def _target(r: dict) -> str:
    ref = r.get("references") or {}
    return f"`{ref.get('source')}` ({', '.join(ref.get('columns') or ())})"


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
    return RuleResult(r["id"], kind, r["severity"], passed, 0 if passed else 1, 1, [], observed, message, row=False)

"""Validation suite columns, types and patterns (X304, X308, S224, S218).

## What it does
Follows a ValidationSuite's `prepare` steps over its DataSource's schema (renames, dropped
columns, values standardised to booleans), then checks that every step and rule names a column
that exists at that point, that the rule fits the column's type (`mean_between` on numbers,
`regex` on text, `freshness` on timestamps, `monotonic` and its `order_by` on numbers or
times), that `regex` patterns compile, and that `expression` checks are valid boolean
expressions over the columns.

## Why is this bad?
Each of these mistakes otherwise surfaces only when the pipeline runs on real data, after the
change merged; some (a rule on a column that a later rename removed) silently check nothing.

## Example
```yaml
kind: ValidationSuite
spec:
  source: customers
  prepare:
    - rename: {mapping: {tenure: tenure_months}}
  rules:
    - {rule: between, column: tenure, min: 0, max: 600}
    - {rule: regex, column: customer_id, pattern: "C[0-9{6}"}
```

## Use instead
```yaml
kind: ValidationSuite
spec:
  source: customers
  prepare:
    - rename: {mapping: {tenure: tenure_months}}
  rules:
    - {rule: between, column: tenure_months, min: 0, max: 600}
    - {rule: regex, column: customer_id, pattern: "C[0-9]{6}"}
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context
from compiler.validate.frames import (
    NUMERIC,
    TEMPORAL,
    TEXT,
    check_expression,
    prepared_frame,
    source_frame,
    unknown_column,
)  # fmt: skip

CODES = ("X304", "X308", "S224", "S218", "X325")

# rule -> column types it accepts (None: any type)
_NEEDS = {
    "between": NUMERIC, "mean_between": NUMERIC, "stdev_between": NUMERIC,
    "quantile_between": NUMERIC, "regex": TEXT, "length": TEXT, "not_in_future": TEMPORAL,
    "freshness": TEMPORAL, "monotonic": NUMERIC | TEMPORAL,
}  # fmt: skip
_WORDS = {frozenset(NUMERIC): "a number", frozenset(TEXT): "a string", frozenset(TEMPORAL): "a date or datetime",
          frozenset(NUMERIC | TEMPORAL): "a number, date or datetime"}  # fmt: skip


SUBJECT = "ValidationSuite"  # checked one at a time, by `check_one` (memoised: compiler/validate/memo.py)


def check(ctx: Context) -> Iterator[Diagnostic]:
    for suite in ctx.specset.of_kind(SUBJECT):
        yield from check_one(ctx, suite)


def check_one(ctx: Context, suite) -> Iterator[Diagnostic]:
    source = ctx.specset.get("DataSource", suite.model.spec.source)
    if source is None:
        return  # reported by the references rule
    frame, diags = prepared_frame(ctx, suite, source_frame(source), report=True)
    yield from diags
    cols = frame.columns
    for i, rule in enumerate(suite.model.spec.rules):
        base = f"/spec/rules/{i}"
        for field, name in _columns(rule):
            needs = _needs(rule.rule, field)
            if name not in cols:
                yield unknown_column(ctx, suite, f"{base}/{field}", name, cols)
            elif needs is not None and cols[name] not in needs:
                what = f"`{rule.rule}`" if field == "column" else f"`{rule.rule}`'s `{field.split('/')[0]}`"
                yield make("X308", f"{what} needs {_WORDS[frozenset(needs)]} column, `{name}` is {cols[name]}",
                           ctx.span(suite, f"{base}/{field}"), pointer=f"{base}/{field}")
        if rule.rule == "compare" and rule.left in cols and rule.right in cols:
            kinds = {_family(cols[rule.left]), _family(cols[rule.right])}
            if len(kinds) > 1:
                yield make("X308", f"cannot compare `{rule.left}` ({cols[rule.left]}) with `{rule.right}` "
                           f"({cols[rule.right]})", ctx.span(suite, f"{base}/right"), pointer=f"{base}/right")
        elif rule.rule == "regex":
            try:
                re.compile(rule.pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                yield make("S224", f"the pattern does not compile: {getattr(exc, 'msg', exc)}",
                           ctx.span(suite, f"{base}/pattern"), pointer=f"{base}/pattern")
        elif rule.rule == "expression":
            yield from check_expression(ctx, suite, f"{base}/check", rule.check, frame.expr_columns(),
                                        windows=True)
        elif rule.rule == "foreign_key":
            yield from _foreign_key(ctx, suite, base, rule, cols)
        elif rule.rule == "monotonic" and rule.max_step is not None and rule.column in cols:
            duration = isinstance(rule.max_step, str)
            if (cols[rule.column] in TEMPORAL) != duration and cols[rule.column] in NUMERIC | TEMPORAL:
                want = "a duration such as `1d`" if not duration else "a number"
                yield make("X308", f"`max_step` of `{rule.column}` ({cols[rule.column]}) must be {want}",
                           ctx.span(suite, f"{base}/max_step"), pointer=f"{base}/max_step",
                           help="a number column steps by a number (`1` for ids), a date or timestamp column by a "
                                "duration")


def _foreign_key(ctx: Context, suite, base: str, rule, cols: dict[str, str]) -> Iterator[Diagnostic]:
    """The referenced columns exist, pair up with the rule's own, and hold values of the same kind."""
    target = ctx.specset.get("DataSource", rule.references.source)
    if target is None:
        return  # reported by the references rule
    theirs = source_frame(target).columns
    given = rule.references.columns
    refs = given if given is not None else list(target.model.spec.primary_key)
    pointer = f"{base}/references" + ("/columns" if given is not None else "")
    if len(refs) != len(rule.columns):
        what = f"{len(refs)} referenced column(s)" if given is not None else (
            f"`{target.name}`'s primary_key of {len(refs)} column(s)" if refs else
            f"no referenced columns, and `{target.name}` declares no primary_key")
        yield make("X325", f"the foreign key has {len(rule.columns)} column(s) and {what}",
                   ctx.span(suite, pointer), pointer=pointer,
                   help="give `references.columns`, one per column of `columns`, in the same order")
        return
    for k, (mine, other) in enumerate(zip(rule.columns, refs, strict=True)):
        at = f"{base}/references/columns/{k}" if given is not None else f"{base}/references/source"
        if other not in theirs:
            yield unknown_column(ctx, suite, at, other, theirs, where=f"in DataSource `{target.name}`")
        elif mine in cols and _key_family(cols[mine]) != _key_family(theirs[other]):
            yield make("X308", f"the foreign key looks `{mine}` ({cols[mine]}) up in `{target.name}`.`{other}` "
                       f"({theirs[other]}): they can never be equal", ctx.span(suite, at), pointer=at,
                       help="pair columns that hold the same kind of value: numbers, text, dates and times, or "
                            "booleans")


def _key_family(column_type: str) -> str:
    """What a foreign key may pair: text with categories too (both sides are compared as text)."""
    return "text" if column_type in ("string", "category") else _family(column_type)


def _family(column_type: str) -> str:
    return "number" if column_type in NUMERIC else "time" if column_type in TEMPORAL else column_type


def _needs(rule: str, field: str) -> frozenset[str] | None:
    """The column types `field` of a `rule` accepts; None: any type."""
    if field.startswith("order_by/"):  # a text order would sort by the database's collation
        return NUMERIC | TEMPORAL
    return _NEEDS.get(rule) if field in ("column", "left", "right") or field.startswith("columns/") else None


def _columns(rule) -> Iterator[tuple[str, str]]:
    if hasattr(rule, "column"):
        yield "column", rule.column
    for key in ("columns", "by", "order_by"):
        for k, col in enumerate(getattr(rule, key, None) or ()):
            yield f"{key}/{k}", col
    if rule.rule == "compare":
        yield "left", rule.left
        yield "right", rule.right

"""Model data, split, slices and guardrails (X304, X308, X310, S218, S226).

## What it does
Checks a Model against the columns its data has after the validation suite's prepare steps:
the target, features, excluded columns and the time column exist; the target's type fits the
task; the suite checks the same source the model trains on; the split fits the task; slice
and guardrail expressions are valid boolean expressions over the columns.

## Why is this bad?
A model trained on a column that does not exist, or a regression on a text target, fails at
training time; a suite of another source silently checks the wrong table; a stratified split
of a regression target cannot be made; a slice that names a missing column evaluates nothing.

## Example
```yaml
kind: Model
spec:
  task: regression
  data: {source: deliveries, validation: customers-quality, target: weather}
  slices:
    - {name: long, where: "distance > 15"}
```

## Use instead
```yaml
kind: Model
spec:
  task: regression
  data: {source: deliveries, validation: deliveries-quality, target: delivery_minutes}
  slices:
    - {name: long, where: "distance_km > 15"}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.diagnostics.suggest import suggestion
from compiler.validate.context import Context
from compiler.validate.frames import (
    NUMERIC,
    TEMPORAL,
    Frame,
    check_expression,
    prepared_frame,
    source_frame,
    unknown_column,
)

CODES = ("X304", "X308", "X310", "S218", "S226")


def model_frame(ctx: Context, model) -> Frame | None:
    """The columns a model trains on: its source after its suite's prepare steps."""
    source = ctx.specset.get("DataSource", model.model.spec.data.source)
    if source is None:
        return None
    frame = source_frame(source)
    suite_name = model.model.spec.data.validation
    suite = ctx.specset.get("ValidationSuite", suite_name) if suite_name else None
    if suite is not None and suite.model.spec.source == source.name:
        frame, _ = prepared_frame(ctx, suite, frame)
    return frame


SUBJECT = "Model"  # checked one at a time, by `check_one` (memoised: compiler/validate/memo.py)


def check(ctx: Context) -> Iterator[Diagnostic]:
    for model in ctx.specset.of_kind(SUBJECT):
        yield from check_one(ctx, model)


def check_one(ctx: Context, model) -> Iterator[Diagnostic]:
    body = model.model.spec
    data = body.data
    suite = ctx.specset.get("ValidationSuite", data.validation) if data.validation else None
    source_ok = ctx.specset.get("DataSource", data.source) is not None  # else X301/X302 said it
    if suite is not None and source_ok and suite.model.spec.source != data.source:
        yield make("X310", f"validation suite `{suite.name}` checks `{suite.model.spec.source}`, "
                   f"but the model trains on `{data.source}`", ctx.span(model, "/spec/data/validation"),
                   pointer="/spec/data/validation", labels=(ctx.defined_here(suite),),
                   help="use a suite whose `source` is the model's data source")
    frame = model_frame(ctx, model)
    if frame is None:
        return  # unknown source: reported by the references rule
    cols = frame.columns
    yield from _data(ctx, model, body, cols)
    expr_cols = frame.expr_columns()
    seen: set[str] = set()
    for i, sl in enumerate(body.slices):
        if sl.name in seen:
            yield make("S226", f"slice `{sl.name}` is defined twice", ctx.span(model, f"/spec/slices/{i}/name"),
                       pointer=f"/spec/slices/{i}/name")
        seen.add(sl.name)
        yield from check_expression(ctx, model, f"/spec/slices/{i}/where", sl.where, expr_cols)
    for i, g in enumerate(body.guardrails):
        yield from check_expression(ctx, model, f"/spec/guardrails/{i}/when", g.when, expr_cols)
        if body.task == "regression" and (isinstance(g.predict, bool) or not isinstance(g.predict, int | float)):
            yield make("X308", "a regression guardrail must predict a number",
                       ctx.span(model, f"/spec/guardrails/{i}/predict"), pointer=f"/spec/guardrails/{i}/predict")
        elif body.task != "regression":
            yield from _label(ctx, model, f"/spec/guardrails/{i}/predict", g.predict, cols)
    if body.positive_label is not None:
        yield from _label(ctx, model, "/spec/positive_label", body.positive_label, cols)


def _declared_values(ctx: Context, model, target: str) -> list[str] | None:
    """The target's declared `values`, when no prepare step can have changed them."""
    source = ctx.specset.get("DataSource", model.model.spec.data.source)
    column = next((c for c in source.model.spec.columns if c.name == target), None) if source else None
    if column is None or not column.values:
        return None
    suite_name = model.model.spec.data.validation
    suite = ctx.specset.get("ValidationSuite", suite_name) if suite_name else None
    for step in suite.model.spec.prepare if suite is not None else ():
        if step.op in ("standardize", "rename"):  # may map or rename labels: too clever to follow here
            return None
    return [str(v) for v in column.values]


def _label(ctx: Context, model, pointer: str, value, cols: dict[str, str]) -> Iterator[Diagnostic]:
    """A class label written in the spec (a guardrail's `predict`, `positive_label`) fits the target."""
    target = model.model.spec.data.target
    kind = cols.get(target)
    if kind is None:
        return
    fits = {"boolean": isinstance(value, bool) or str(value).lower() in ("true", "false"),
            "integer": isinstance(value, int) and not isinstance(value, bool)}.get(kind, not isinstance(value, bool))
    if not fits:
        shown = str(value).lower() if isinstance(value, bool) else value
        yield make("X308", f"`{shown}` is not a {kind} label, and target `{target}` is {kind}",
                   ctx.span(model, pointer), pointer=pointer)
        return
    values = _declared_values(ctx, model, target)
    if values is not None and str(value) not in values:
        yield make("S206", f"`{value}` is not a label of target `{target}`", ctx.span(model, pointer),
                   pointer=pointer, help=suggestion(str(value), values, "declared values")
                   or "declared values: " + ", ".join(f"`{v}`" for v in values))


def _data(ctx: Context, model, body, cols: dict[str, str]) -> Iterator[Diagnostic]:
    data = body.data
    if data.target not in cols:
        yield unknown_column(ctx, model, "/spec/data/target", data.target, cols)
    else:
        ttype = cols[data.target]
        if body.task == "regression" and ttype not in NUMERIC:
            yield make("X308", f"a regression target must be numeric, `{data.target}` is {ttype}",
                       ctx.span(model, "/spec/data/target"), pointer="/spec/data/target")
        elif body.task != "regression" and ttype in ("float", *TEMPORAL):
            yield make("X308", f"a classification target must be discrete, `{data.target}` is {ttype}",
                       ctx.span(model, "/spec/data/target"), pointer="/spec/data/target",
                       help="use `task: regression`, or a boolean, category, string or integer target")
    for field in ("features", "exclude"):
        for i, name in enumerate(getattr(data, field) or ()):
            if name not in cols:
                yield unknown_column(ctx, model, f"/spec/data/{field}/{i}", name, cols)
            elif name == data.target and field == "features":
                yield make("S226", "the target is also listed as a feature",
                           ctx.span(model, f"/spec/data/features/{i}"),
                           pointer=f"/spec/data/features/{i}", help="remove it; a model must not see its own label")
    split = body.split
    if split.time_column is not None:
        if split.time_column not in cols:
            yield unknown_column(ctx, model, "/spec/split/time_column", split.time_column, cols)
        elif cols[split.time_column] not in TEMPORAL | NUMERIC:
            yield make("X308", f"a time split needs a date, datetime or number column, `{split.time_column}` is "
                       f"{cols[split.time_column]}", ctx.span(model, "/spec/split/time_column"),
                       pointer="/spec/split/time_column")
    if body.task == "regression" and (split.method == "stratified" or split.stratify):
        where = "/spec/split/stratify" if split.stratify else "/spec/split/method"
        yield make("S226", "a regression target cannot be stratified", ctx.span(model, where), pointer=where,
                   help="use `method: random` or `method: time`")
    if split.method == "time" and split.stratify:
        yield make("S226", "a time split cannot be stratified", ctx.span(model, "/spec/split/stratify"),
                   pointer="/spec/split/stratify")

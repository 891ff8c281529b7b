"""Evaluation windows, and the gates that name them (X304, X314, X315, S226).

## What it does
Checks each Model's `windows`: names are unique; a `last` window's `column` exists and holds
dates or timestamps, and the window is no longer than the `retention` its DataSource
declares; a `source` window's DataSource has, after the model's prepare steps, the model's
features and target with the same types. Checks that a gate's `window` is a window
of its model, and that a gate on a slice names a window that evaluates slices.

## Why is this bad?
A window on a column that is not a time can never select rows, and a window over a source
without the model's columns cannot be scored: either would fail the gates on it at run time,
after training, with nothing to learn from.

## Example
```yaml
kind: Model
spec:
  windows:
    - {name: last-30d, last: 30d, column: weather}
---
kind: MetricSet
spec:
  gates:
    - {metric: mae, window: last-7d, max: 8}
```

## Use instead
```yaml
kind: Model
spec:
  windows:
    - {name: last-30d, last: 30d, column: created_at}
---
kind: MetricSet
spec:
  gates:
    - {metric: mae, window: last-30d, max: 8}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.diagnostics.suggest import suggestion
from compiler.spec.compute import seconds
from compiler.spec.frames import features, prepare_steps, source_columns
from compiler.validate.context import Context
from compiler.validate.frames import TEMPORAL, unknown_column
from compiler.validate.rules.models import model_frame

CODES = ("X304", "X314", "X315", "S226")


def check(ctx: Context) -> Iterator[Diagnostic]:
    for model in ctx.specset.of_kind("Model"):
        yield from _windows(ctx, model)
    for ms in ctx.specset.of_kind("MetricSet"):
        owner = ctx.specset.get("Model", ms.model.spec.model)
        if owner is None:
            continue  # X301
        windows = {w.name: w for w in owner.model.spec.windows}
        for i, gate in enumerate(ms.model.spec.gates):
            if gate.window is None:
                continue
            pointer = f"/spec/gates/{i}/window"
            window = windows.get(gate.window)
            if window is None:
                yield make("X315", f"model `{owner.name}` has no evaluation window `{gate.window}`",
                           ctx.span(ms, pointer), pointer=pointer,
                           help=suggestion(gate.window, windows, "windows")
                           or f"declare it in `windows` of Model `{owner.name}`")
            elif gate.slice is not None and not window.slices:
                yield make("X315", f"window `{gate.window}` does not evaluate slices, and this gate reads slice "
                           f"`{gate.slice}`", ctx.span(ms, pointer), pointer=pointer,
                           help="remove `slices: false` from the window, or `slice` from the gate")


def _windows(ctx: Context, model) -> Iterator[Diagnostic]:
    frame = model_frame(ctx, model)
    if frame is None:
        return  # unknown source: X301
    seen: set[str] = set()
    for i, w in enumerate(model.model.spec.windows):
        if w.name in seen:
            yield make("S226", f"window `{w.name}` is defined twice", ctx.span(model, f"/spec/windows/{i}/name"),
                       pointer=f"/spec/windows/{i}/name")
        seen.add(w.name)
        cols = frame.columns
        if w.source is not None:
            source = ctx.specset.get("DataSource", w.source)
            if source is None:
                continue  # X301
            found = list(_source_problems(ctx, model, i, source, frame.columns))
            yield from found
            if found:
                continue
            cols = _prepared(ctx, model, source)[0]
        read = ctx.specset.get("DataSource", w.source or model.model.spec.data.source)
        keep = read.model.spec.retention if read is not None else None
        if read is not None and w.last is not None and keep is not None and seconds(w.last) > seconds(keep):
            pointer = f"/spec/windows/{i}/last"
            yield make("X314", f"window `{w.name}` can never hold {w.last} of rows: DataSource `{read.name}` keeps "
                       f"rows for {keep} (`retention`)", ctx.span(model, pointer), pointer=pointer,
                       labels=(ctx.defined_here(read),), help=f"make the window at most `last: {keep}`")
        if w.column is not None:
            pointer = f"/spec/windows/{i}/column"
            if w.column not in cols:
                yield unknown_column(ctx, model, pointer, w.column, cols,
                                     where=f"in DataSource `{w.source}`" if w.source else "")
            elif cols[w.column] not in TEMPORAL:
                yield make("X314", f"window `{w.name}` can never hold rows: `{w.column}` is {cols[w.column]}, not "
                           "a date or timestamp", ctx.span(model, pointer), pointer=pointer,
                           help="measure the window on a column of `type: date` or `type: datetime`"
                           + _temporal_hint(cols))


def _temporal_hint(cols: dict[str, str]) -> str:
    found = [c for c, t in cols.items() if t in TEMPORAL]
    return f" (here: {', '.join(f'`{c}`' for c in found)})" if found else ""


def _prepared(ctx: Context, model, source) -> tuple[dict[str, str], list[str]]:
    """The window source's columns after the model's prepare steps, and the columns those steps miss."""
    cols = source_columns(source.model)
    name = model.model.spec.data.validation
    suite = ctx.specset.get("ValidationSuite", name) if name else None
    missing = [col for _, col in prepare_steps(suite.model, cols)] if suite is not None else []
    return cols, missing


def _source_problems(ctx: Context, model, i: int, source, trained: dict[str, str]) -> Iterator[Diagnostic]:
    """A window source that cannot be scored: the model's columns missing, or of other types."""
    pointer = f"/spec/windows/{i}/source"
    cols, missing = _prepared(ctx, model, source)
    body = model.model.spec
    needed = [*features(model.model, trained), body.data.target]
    absent = sorted({*missing, *(c for c in needed if c not in cols)})
    if absent:
        yield make("X314", f"window `{body.windows[i].name}` can never be scored: DataSource `{source.name}` has no "
                   + ", ".join(f"`{c}`" for c in absent[:5]) + (" ..." if len(absent) > 5 else ""),
                   ctx.span(model, pointer), pointer=pointer, labels=(ctx.defined_here(source),),
                   help=f"a window source needs the columns that `{body.data.source}` gives the model")
        return
    other = [c for c in needed if cols[c] != trained.get(c)]
    if other:
        c = other[0]
        yield make("X314", f"window `{body.windows[i].name}` can never be scored: `{c}` is {cols[c]} in DataSource "
                   f"`{source.name}` but {trained[c]} in `{body.data.source}`", ctx.span(model, pointer),
                   pointer=pointer, labels=(ctx.defined_here(source),),
                   help="declare the same column types in both sources")

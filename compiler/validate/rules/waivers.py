"""Waivers: the gate a waiver names exists, and the waiver has not expired (X311, S227).

## What it does
Checks every `waivers:` entry. A `gate` waiver must name a gate of the spec it is written on:
a gate of that MetricSet, or of a MetricSet judging that Model. Gate ids are the gate's `id`,
else `METRICSET:METRIC`, with `@SLICE` for a slice and `:drop` for a `max_drop` gate (the ids
`charter run` prints). A waiver whose `expires` date has passed is reported, since `charter
run` and `charter plan` ignore it.

## Why is this bad?
A waiver for a gate id with a typo waives nothing: the gate still fails, and the review that
granted it was for nothing. An expired waiver left in the spec reads as if it still applied.

## Example
```yaml
kind: MetricSet
metadata: {name: churn-quality}
waivers:
  - {gate: "churn-quality:roc-auc", reason: "noisy labels until the re-label", approver: "@risk", expires: 2020-01-31}
```

## Use instead
```yaml
kind: MetricSet
metadata: {name: churn-quality}
waivers:
  - {gate: "churn-quality:roc_auc", reason: "noisy labels until the re-label", approver: "@risk", expires: 2026-12-31}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from compiler.diagnostics import Diagnostic, make
from compiler.diagnostics.suggest import suggestion
from compiler.spec.metricset import gate_ids
from compiler.validate.context import Context

CODES = ("X311", "S227")


def check(ctx: Context) -> Iterator[Diagnostic]:
    today = date.today()
    for spec in ctx.specset:
        waivers = getattr(spec.model, "waivers", None) or []
        if not waivers:
            continue
        if spec.kind == "MetricSet":
            known = gate_ids(spec.name, spec.model.spec.gates)
        elif spec.kind == "Model":
            known = [i for ms in ctx.specset.of_kind("MetricSet") if ms.model.spec.model == spec.name
                     for i in gate_ids(ms.name, ms.model.spec.gates)]
        else:
            known = None
        for i, w in enumerate(waivers):
            if w.gate is not None and (known is None or w.gate not in known):
                where = f"/waivers/{i}/gate"
                what = "gates are waived on a MetricSet or Model" if known is None else \
                    f"`{spec.kind}/{spec.name}` has no gate `{w.gate}`"
                hint = ("write the waiver on the MetricSet or Model whose gate it waives" if known is None
                        else suggestion(w.gate, known) or "gate ids: " + (", ".join(known) or "none"))
                yield make("X311", what, ctx.span(spec, where), pointer=where, help=hint)
            if w.expires < today:
                where = f"/waivers/{i}/expires"
                yield make("S227", f"this waiver expired on {w.expires.isoformat()} and no longer applies",
                           ctx.span(spec, where), pointer=where, help="remove it, or renew it with a new review")

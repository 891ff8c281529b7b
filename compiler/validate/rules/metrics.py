"""Metric sets: metrics for the task, slices, business metrics, drift, schedule (S217, X307, X304, S218, S219, S226).

## What it does
Checks a MetricSet against the Model it judges: every metric and gate applies to the model's
task, a gate's `slice` is one the model defines, business metric expressions use only the
counts available for the task (`tp`, `fp`, `tn`, `fn`, `n` for binary classification; error
sums for regression), drift features are model columns, and the monitoring schedule is a
valid five-field cron expression.

## Why is this bad?
A gate on `rmse` for a classifier can never be computed, so the promotion gate it was meant to
be silently does not exist; a slice or feature that is not there is a typo that hides a check;
a broken schedule means monitoring never runs.

## Example
```yaml
kind: MetricSet
spec:
  model: churn                       # a binary classifier
  gates:
    - {metric: rmse, max: 0.3}
    - {metric: recall, slice: new-customer, min: 0.6}
  monitoring: {schedule: "0 6 * *"}
```

## Use instead
```yaml
kind: MetricSet
spec:
  model: churn
  gates:
    - {metric: roc_auc, min: 0.8}
    - {metric: recall, slice: new-customers, min: 0.6}
  monitoring: {schedule: "0 6 * * *"}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.diagnostics.suggest import suggestion
from compiler.spec.metricset import METRICS
from compiler.validate.context import Context
from compiler.validate.cron import cron_problem
from compiler.validate.frames import check_expression, unknown_column
from compiler.validate.rules.models import model_frame

CODES = ("S217", "X307", "X304", "S218", "S219", "S226")

_CLASSIFICATION_VARS = ("tp", "fp", "tn", "fn", "n", "positives", "negatives", "predicted_positives")
BUSINESS_VARS = {
    "binary_classification": dict.fromkeys(_CLASSIFICATION_VARS, "number"),
    "multiclass_classification": dict.fromkeys(("n", "correct", "errors"), "number"),
    "regression": dict.fromkeys(("n", "sum_error", "sum_abs_error", "sum_squared_error", "mean_prediction",
                                 "mean_target"), "number"),
}  # fmt: skip


SUBJECT = "MetricSet"  # checked one at a time, by `check_one` (memoised: compiler/validate/memo.py)


def check(ctx: Context) -> Iterator[Diagnostic]:
    for ms in ctx.specset.of_kind(SUBJECT):
        yield from check_one(ctx, ms)


def check_one(ctx: Context, ms) -> Iterator[Diagnostic]:
    body = ms.model.spec
    if body.monitoring is not None and (why := cron_problem(body.monitoring.schedule)):
        yield make("S219", f"invalid schedule: {why}", ctx.span(ms, "/spec/monitoring/schedule"),
                   pointer="/spec/monitoring/schedule", help="for example `0 6 * * *` is every day at 06:00 UTC")
    model = ctx.specset.get("Model", body.model)
    task = model.model.spec.task if model is not None else None
    for i, name in enumerate(body.metrics):
        yield from _metric(ctx, ms, f"/spec/metrics/{i}", name, task)
    slices = {s.name for s in model.model.spec.slices} if model is not None else None
    for i, gate in enumerate(body.gates):
        yield from _metric(ctx, ms, f"/spec/gates/{i}/metric", gate.metric, task)
        if gate.slice is not None and slices is not None and gate.slice not in slices:
            yield make("X307", f"model `{body.model}` has no slice `{gate.slice}`",
                       ctx.span(ms, f"/spec/gates/{i}/slice"), pointer=f"/spec/gates/{i}/slice",
                       help=suggestion(gate.slice, slices, "slices"))
    seen: set[str] = set()
    for i, biz in enumerate(body.business):
        if biz.name in seen:
            yield make("S226", f"business metric `{biz.name}` is defined twice",
                       ctx.span(ms, f"/spec/business/{i}/name"), pointer=f"/spec/business/{i}/name")
        seen.add(biz.name)
        if task is not None:
            yield from check_expression(ctx, ms, f"/spec/business/{i}/expression", biz.expression,
                                        BUSINESS_VARS[task], want="number", noun="variable")
    monitoring = body.monitoring
    if model is not None and monitoring is not None and monitoring.drift.features:
        frame = model_frame(ctx, model)
        if frame is not None:
            for i, feature in enumerate(monitoring.drift.features):
                if feature not in frame.columns:
                    yield unknown_column(ctx, ms, f"/spec/monitoring/drift/features/{i}", feature, frame.columns)


def _metric(ctx: Context, ms, pointer: str, name: str, task: str | None) -> Iterator[Diagnostic]:
    if name not in METRICS:
        yield make("S217", f"unknown metric `{name}`", ctx.span(ms, pointer), pointer=pointer,
                   help=suggestion(name, [m for m, (tasks, _) in METRICS.items() if task is None or task in tasks]))
        return
    tasks, _ = METRICS[name]
    if task is not None and task not in tasks:
        fitting = sorted(m for m, (ts, _) in METRICS.items() if task in ts)
        yield make("S217", f"`{name}` does not apply to a {task.replace('_', ' ')} model", ctx.span(ms, pointer),
                   pointer=pointer, help="metrics for this task: " + ", ".join(f"`{m}`" for m in fitting))

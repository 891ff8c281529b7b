"""Estimator parameters above the project's ceilings (S229).

## What it does
Compares the estimator parameters that size a training run with the ceilings of `limits` in
`charter.yaml`: `n_estimators` (default 5000), `max_iter` (100000), `n_jobs` (8),
`n_neighbors` (1000) and `cv` (20). A value above its ceiling is an error, and so is a
negative `n_jobs`, which asks for every CPU of whatever machine runs the job.

Parameters whose default is already unbounded (`max_depth: null`, `max_leaf_nodes: null`) have
no ceiling: a large value asks for no more than the default does.

## Why is this bad?
`n_estimators: 500000` or `max_iter: 1e8` is a typo or a copied benchmark far more often than
a need; it passes scikit-learn's checks and then holds a CI runner or a training pod for hours,
or runs it out of memory. A ceiling in review is cheaper than a cancelled job. When the run
does need more, raising the ceiling in `charter.yaml` is itself a reviewed change.

## Example
```yaml
kind: Model
spec:
  estimator:
    class: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 200000, n_jobs: -1}
```

## Use instead
```yaml
kind: Model
spec:
  estimator:
    class: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 500, n_jobs: 4}
```
or, when the run needs it, raise the ceiling in `charter.yaml`:
```yaml
kind: Project
spec:
  limits: {n_estimators: 200000}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import catalog
from compiler.diagnostics import Diagnostic, Label, make
from compiler.load.document import escape_token
from compiler.spec import Project
from compiler.spec.project import Limits
from compiler.validate.context import Context

CODES = ("S229",)


def check(ctx: Context) -> Iterator[Diagnostic]:
    limits = ctx.project.spec.limits if isinstance(ctx.project, Project) else Limits()
    ceilings = limits.model_dump(exclude={"data"})  # data limits bound ingest, not parameters
    for spec in ctx.specset.of_kind("Model"):
        est = spec.model.spec.estimator
        entry = catalog.estimator(est.class_)
        if entry is None:
            continue  # S213 reports the class; its parameters mean nothing yet
        for name, value in est.params.items():
            ceiling = ceilings.get(name)
            param = entry.params.get(name)
            if ceiling is None or param is None or catalog.check_value(param.constraints, value) is not None:
                continue  # no ceiling, or S214/S215 already report the parameter
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # `cv` may also name a splitter; `None` is the estimator's own default
            if name == "n_jobs" and value < 0:
                message = f"`n_jobs: {value}` asks for every CPU of the machine, above the ceiling of {ceiling}"
            elif value > ceiling:
                message = f"`{name}` is {value}, above the ceiling of {ceiling}"
            else:
                continue
            pointer = f"/spec/estimator/params/{escape_token(name)}"
            yield make("S229", message, ctx.span(spec, pointer), pointer=pointer, labels=_where_set(ctx, name),
                       help=f"use at most {ceiling}, or raise `spec.limits.{name}` in charter.yaml if the run "
                            "needs more")


def _where_set(ctx: Context, name: str) -> tuple[Label, ...]:
    """Point at the ceiling when charter.yaml sets it; a default has no place to point at."""
    doc = ctx.project_doc
    data = doc.data if doc is not None else None
    limits = data.get("spec", {}).get("limits") if isinstance(data, dict) else None
    if doc is None or not isinstance(limits, dict) or name not in limits:
        return ()
    return (Label(doc.span(f"/spec/limits/{name}"), "the ceiling is set here"),)

"""Pod settings no cluster can meet, once `compute` layers are merged (S231).

## What it does
Merges, for every step of every Model (and `monitor`), the `compute` blocks that apply to it:
charter.yaml's, its `steps.<step>`, the Model's, its `steps.<step>`, in that order. It then
reports a CPU or memory limit below its request, and a `retries.max_backoff` shorter than the
first `backoff`. Units and zero amounts are checked where they are written (S230).

## Why is this bad?
Kubernetes refuses a pod whose limit is below its request: every pod of the step would fail to
start, on Argo, Kubeflow, Airflow and in the analysis Job, and only once the pipeline runs. The
two values may sit in different files (a request in charter.yaml, a limit in the Model), so
neither file looks wrong on its own.

## Example
```yaml
kind: Model
spec:
  compute:
    resources: {requests: {cpu: "2"}}
    steps:
      gate:
        resources: {limits: {cpu: 500m}}
```

## Use instead
```yaml
kind: Model
spec:
  compute:
    resources: {requests: {cpu: "2"}}
    steps:
      gate:
        resources: {requests: {cpu: 250m}, limits: {cpu: 500m}}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Label, Span, make
from compiler.spec import Project, Spec
from compiler.spec.compute import STEPS, Layer, effective, layers, memory_bytes, millicores, origin_of, seconds
from compiler.validate.context import Context

CODES = ("S231",)
_PROJECT = "charter.yaml"
_SIZE = {"cpu": millicores, "memory": memory_bytes}


def check(ctx: Context) -> Iterator[Diagnostic]:
    project = ctx.project.spec.compute if isinstance(ctx.project, Project) else None
    found: dict[tuple, dict] = {}  # one diagnostic per pair of places, naming every step it affects
    combos: list[tuple[Spec | None, str | None]] = [(None, None), *((None, s) for s in STEPS)]
    combos += [(spec, s) for spec in ctx.specset.of_kind("Model") if spec.model.spec.compute for s in STEPS]
    for spec, step in combos:
        model = spec.model.spec.compute if spec is not None else None
        if project is None and model is None:
            continue
        stack = layers(project, model, step, project_origin=_PROJECT, model_origin=spec)
        for key, problem in _problems(stack):
            entry = found.setdefault(key, {**problem, "steps": []})
            entry["steps"].append((spec.name if spec is not None else None, step))
    for entry in found.values():
        yield _diagnostic(ctx, entry)


def _problems(stack: list[Layer]) -> Iterator[tuple[tuple, dict]]:
    merged = effective(stack)
    res = merged.get("resources", {})
    for kind, size in _SIZE.items():
        request, limit = res.get("requests", {}).get(kind), res.get("limits", {}).get(kind)
        if request is None or limit is None or size(limit) >= size(request):
            continue
        at = origin_of(stack, "resources", "limits", kind)
        other = origin_of(stack, "resources", "requests", kind)
        yield (kind, _key(at), _key(other)), {
            "message": f"the {kind} limit `{limit}` is below the request `{request}`", "at": at, "other": other,
            "label": "the request is set here",
            "help": f"raise the limit to at least `{request}`, or lower the request"}
    retries = merged.get("retries", {})
    if retries.get("max_backoff") and seconds(retries["max_backoff"]) < seconds(retries["backoff"]):
        at = origin_of(stack, "retries", "max_backoff")
        yield ("backoff", _key(at)), {
            "message": f"`max_backoff: {retries['max_backoff']}` is shorter than the first wait "
                       f"`{retries['backoff']}`", "at": at, "other": None, "label": "",
            "help": "make `max_backoff` at least `backoff`, or leave it out"}


def _key(where: tuple[object, str] | None) -> tuple:
    if where is None:
        return ()
    origin, pointer = where
    return (origin if isinstance(origin, str) else (origin.file, origin.index), pointer)  # type: ignore[attr-defined]


def _span(ctx: Context, where: tuple[object, str] | None) -> Span | None:
    if where is None:
        return None
    origin, pointer = where
    if origin == _PROJECT:
        return ctx.project_doc.span(pointer) if ctx.project_doc is not None else None
    return ctx.span(origin, pointer)  # type: ignore[arg-type]


def _diagnostic(ctx: Context, entry: dict) -> Diagnostic:
    span, other = _span(ctx, entry["at"]), _span(ctx, entry["other"])
    labels = (Label(other, entry["label"]),) if other is not None and other != span else ()
    steps = sorted({s for _, s in entry["steps"] if s is not None}, key=STEPS.index)
    models = {m for m, _ in entry["steps"]}
    where = "every step" if len(steps) >= len(STEPS) else ", ".join(f"`{s}`" for s in steps)
    whose = "every model" if None in models else ", ".join(f"`{m}`" for m in sorted(filter(None, models)))
    notes = (f"for {where} of {whose}",)
    return make("S231", entry["message"], span, pointer=entry["at"][1] if entry["at"] else None, labels=labels,
                notes=notes if steps else (), help=entry["help"])

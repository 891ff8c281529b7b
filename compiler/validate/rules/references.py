"""Unknown and wrong-kind references (X301, X302).

## What it does
Checks that every name one spec uses to refer to another (`source:`, `validation:`, `model:`,
`gates:`) names a spec of the expected kind.

## Why is this bad?
A dangling reference cannot be compiled: the pipeline would have no data, no checks or no
model. A name that exists but belongs to another kind is almost always a copy-paste slip.

## Example
```yaml
kind: Model
spec:
  data: {source: customers-quality, target: churned}   # a ValidationSuite, not a DataSource
```

## Use instead
```yaml
kind: Model
spec:
  data: {source: customers, validation: customers-quality, target: churned}
```
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast

from compiler.diagnostics import Diagnostic, Label, make
from compiler.diagnostics.suggest import did_you_mean
from compiler.validate.context import Context

CODES = ("X301", "X302")

# (kind of the referring spec, pointer of the reference, kind it must name)
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("ValidationSuite", "/spec/source", "DataSource"),
    ("Model", "/spec/data/source", "DataSource"),
    ("DataSource", "/spec/feast/entities", "DataSource"),
    ("Model", "/spec/data/validation", "ValidationSuite"),
    ("MetricSet", "/spec/model", "Model"),
    ("RolloutPolicy", "/spec/model", "Model"),
    ("Ownership", "/spec/covers/*", "*"),
)


def references(ctx: Context) -> Iterator[tuple]:
    """Every (spec, pointer, name, expected kind) reference in the tree, rollout gates included."""
    for kind, pattern, target in REFERENCES:
        for spec in ctx.specset.of_kind(kind):
            if pattern.endswith("/*"):
                base = pattern[:-2]
                for i, name in enumerate(cast(Iterable[str], _get(spec.model, base) or ())):  # a list of names
                    yield spec, f"{base}/{i}", name, target
            else:
                value = _get(spec.model, pattern)
                if value is not None:
                    yield spec, pattern, value, target
    for spec in ctx.specset.of_kind("Model"):
        for i, window in enumerate(spec.model.spec.windows):
            if window.source is not None:
                yield spec, f"/spec/windows/{i}/source", window.source, "DataSource"
    for spec in ctx.specset.of_kind("ValidationSuite"):
        for i, rule in enumerate(spec.model.spec.rules):
            if rule.rule == "foreign_key":
                yield spec, f"/spec/rules/{i}/references/source", rule.references.source, "DataSource"
    for spec in ctx.specset.of_kind("RolloutPolicy"):
        for i, env in enumerate(spec.model.spec.environments):
            if env.strategy.analysis is not None:
                yield spec, f"/spec/environments/{i}/strategy/analysis/gates", env.strategy.analysis.gates, "MetricSet"


def _get(model: object, pointer: str) -> object:
    cur = model
    for part in pointer.strip("/").split("/"):
        cur = getattr(cur, part, None)
        if cur is None:
            return None
    return cur


def check(ctx: Context) -> Iterator[Diagnostic]:
    specs = ctx.specset
    all_names = {s.name for s in specs}
    broken_names = {name for _, name in ctx.broken}
    for spec, pointer, name, target in references(ctx):
        if (target, name) in ctx.broken or (target == "*" and name in broken_names):
            continue  # the referenced spec exists but has errors of its own, reported already
        if target == "*":
            if name in all_names:
                continue
            candidates = all_names
            yield make("X301", f"`{name}` names no spec", ctx.span(spec, pointer), pointer=pointer,
                       help=_help(name, candidates))
            continue
        if specs.get(target, name) is not None:
            continue
        other = next((s for s in specs if s.name == name), None)
        if other is not None:
            yield make("X302", f"`{name}` is a {other.kind}, not a {target}", ctx.span(spec, pointer),
                       pointer=pointer, labels=(ctx.defined_here(other, f"`{name}` is defined here"),),
                       help=_help(name, specs.names(target), target))
            continue
        names = specs.names(target)
        close = did_you_mean(name, names)
        labels: tuple[Label, ...] = ()
        if close and (found := specs.get(target, close[0])) is not None:
            labels = (ctx.defined_here(found, f"`{close[0]}` is defined here"),)
        yield make("X301", f"unknown {_noun(target)} `{name}`", ctx.span(spec, pointer), pointer=pointer,
                   labels=labels, help=_help(name, names, target))


def _noun(kind: str) -> str:
    return {"DataSource": "data source", "ValidationSuite": "validation suite", "Model": "model",
            "MetricSet": "metric set"}.get(kind, kind)  # fmt: skip


def _help(name: str, candidates, kind: str = "") -> str:
    pool = sorted(candidates)
    close = did_you_mean(name, pool)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    if not pool:
        return f"no {kind or 'spec'} is defined; add one" if kind else "no spec is defined"
    shown = ", ".join(f"`{c}`" for c in pool[:10])
    return f"defined {_noun(kind)}s: {shown}" + (" ..." if len(pool) > 10 else "") if kind else f"defined: {shown}"

"""Rollout steps, analysis and environments (S221, S222, X309, S226).

## What it does
Checks a RolloutPolicy: canary traffic steps rise strictly and end at 100, every canary or
blue-green environment has automated `analysis` (a warning otherwise), the analysis gates are
a MetricSet of the same model, and environment names are unique.

## Why is this bad?
A canary that never reaches 100% leaves the new version half-deployed forever; one whose
traffic goes down is almost always a typo. Without analysis, a canary is only a slower
deployment: nothing stops a bad model. Gates of another model judge the wrong thing.

## Example
```yaml
kind: RolloutPolicy
spec:
  model: churn
  environments:
    - name: production
      strategy:
        type: canary
        steps: [{traffic: 50}, {traffic: 10}]
```

## Use instead
```yaml
kind: RolloutPolicy
spec:
  model: churn
  environments:
    - name: production
      strategy:
        type: canary
        steps: [{traffic: 10, pause: 1h}, {traffic: 50, pause: 1h}, {traffic: 100}]
        analysis: {gates: churn-quality, on_failure: rollback}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context

CODES = ("S221", "S222", "X309", "S226")


def check(ctx: Context) -> Iterator[Diagnostic]:
    for policy in ctx.specset.of_kind("RolloutPolicy"):
        seen: set[str] = set()
        for i, env in enumerate(policy.model.spec.environments):
            base = f"/spec/environments/{i}"
            if env.name in seen:
                yield make("S226", f"environment `{env.name}` is listed twice", ctx.span(policy, f"{base}/name"),
                           pointer=f"{base}/name")
            seen.add(env.name)
            strategy = env.strategy
            if strategy.type == "canary" and strategy.steps:
                yield from _steps(ctx, policy, base, strategy.steps)
            if strategy.type in ("canary", "blue-green") and strategy.analysis is None:
                yield make("S222", f"the {strategy.type} rollout to `{env.name}` has no analysis gates",
                           ctx.span(policy, f"{base}/strategy/type"), pointer=f"{base}/strategy/type",
                           help="add `analysis: {gates: <MetricSet>, on_failure: rollback}` so a bad version "
                                "is stopped automatically")
            if strategy.analysis is not None:
                gates = ctx.specset.get("MetricSet", strategy.analysis.gates)
                if gates is not None and gates.model.spec.model != policy.model.spec.model:
                    yield make("X309", f"metric set `{gates.name}` judges model `{gates.model.spec.model}`, "
                               f"not `{policy.model.spec.model}`", ctx.span(policy, f"{base}/strategy/analysis/gates"),
                               pointer=f"{base}/strategy/analysis/gates", labels=(ctx.defined_here(gates),))


def _steps(ctx: Context, policy, base: str, steps) -> Iterator[Diagnostic]:
    previous = 0
    for j, step in enumerate(steps):
        if step.traffic <= previous:
            ptr = f"{base}/strategy/steps/{j}/traffic"
            yield make("S221", f"traffic goes from {previous}% to {step.traffic}%; canary steps must rise",
                       ctx.span(policy, ptr), pointer=ptr)
            return
        previous = step.traffic
    if previous != 100:
        ptr = f"{base}/strategy/steps/{len(steps) - 1}/traffic"
        yield make("S221", f"canary steps end at {previous}% and never reach 100%", ctx.span(policy, ptr), pointer=ptr,
                   help="add a last step `{traffic: 100}`")

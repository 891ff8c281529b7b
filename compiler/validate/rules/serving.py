"""Serving: the prediction log's references (X312), stock runtimes (S232), live analysis (S233), the store (S234).

## What it does
Checks a RolloutPolicy's `prediction_log`: every `exclude` entry is an input column of the
Model (a feature after the declared cleaning, or a column a guardrail reads); `outcomes`
names a DataSource that has the log's `key` column and the Model's target; the `key` is not
one of the model's inputs' names unless it is also an input.

## Why is this bad?
An `exclude` with a typo excludes nothing: the sensitive column the team meant to keep out
of the log is written to the store with every request. An outcome table without the key or
the target can never be joined, so `charter monitor --predictions` would never check the
gates on live data, silently.

## Example
```yaml
kind: RolloutPolicy
spec:
  model: churn
  prediction_log:
    exclude: [e_mail]
    key: customer_id
    outcomes: {source: churn-labels}
```

## Use instead
```yaml
kind: RolloutPolicy
spec:
  model: churn
  prediction_log:
    exclude: [email]
    key: customer_id
    outcomes: {source: churn-labels}   # a DataSource with customer_id and churned
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import expr
from compiler.diagnostics import Diagnostic, make
from compiler.plain import plain_url
from compiler.spec.frames import prepared_columns, source_columns
from compiler.validate.context import Context

CODES = ("X312", "S232", "S233", "S234")


def check(ctx: Context) -> Iterator[Diagnostic]:
    yield from _runtimes(ctx)
    yield from _cluster_store(ctx)
    for policy in ctx.specset.of_kind("RolloutPolicy"):
        log = policy.model.spec.prediction_log
        model = ctx.specset.get("Model", policy.model.spec.model)
        if log is None or model is None:
            continue
        body = model.model.spec
        source = ctx.specset.get("DataSource", body.data.source)
        if source is None:
            continue
        suite = ctx.specset.get("ValidationSuite", body.data.validation) if body.data.validation else None
        columns = prepared_columns(source.model, suite.model if suite else None)
        inputs = {c for c in columns if c != body.data.target and c not in (body.data.exclude or [])}
        if body.data.features:
            inputs = set(body.data.features)
        for g in body.guardrails:
            inputs |= {n for n in expr.names(g.when) if n in columns}
        for i, name in enumerate(log.exclude):
            if name not in inputs:
                where = f"/spec/prediction_log/exclude/{i}"
                yield make("X312", f"`{name}` is not an input of model `{model.name}`, so excluding it keeps "
                           "nothing out of the log", ctx.span(policy, where), pointer=where,
                           help="the inputs: " + ", ".join(f"`{c}`" for c in sorted(inputs)))
        if log.outcomes is None:
            continue
        outcomes = ctx.specset.get("DataSource", log.outcomes.source)
        where = "/spec/prediction_log/outcomes/source"
        if outcomes is None:
            yield make("X312", f"no DataSource named `{log.outcomes.source}` holds the outcomes",
                       ctx.span(policy, where), pointer=where)
            continue
        have = source_columns(outcomes.model)
        missing = [c for c in (log.key, body.data.target) if c not in have]
        if missing:
            yield make("X312", f"DataSource `{outcomes.name}` has no column " + " or ".join(f"`{c}`" for c in missing)
                       + ", so the log can never be joined with its outcomes", ctx.span(policy, where), pointer=where,
                       labels=(ctx.defined_here(outcomes),),
                       help=f"the outcomes need the log's key `{log.key}` and the target `{body.data.target}`")


def _cluster_store(ctx: Context) -> Iterator[Diagnostic]:
    """The kubernetes target serves from the store: it must be one a cluster can read."""
    spec = getattr(ctx.project, "spec", None)
    policies = list(ctx.specset.of_kind("RolloutPolicy"))
    if spec is None or not policies or "kubernetes" not in spec.targets or spec.shared_store:
        return
    store = spec.artifact_store
    if plain_url(store) and not store.startswith("file://"):
        return
    first = min(policies, key=lambda p: (p.file, p.index))
    doc = ctx.project_doc
    data = doc.data if doc is not None else None
    where = doc.span("/spec/artifact_store") if doc is not None and isinstance(data, dict) and \
        "artifact_store" in (data.get("spec") or {}) else None
    yield make("S234", f"the kubernetes target serves `{first.model.spec.model}` from `{store}`, a folder of this "
               "machine that no cluster can read", where or ctx.span(first, "/spec/model"),
               pointer="/spec/artifact_store" if where else "/spec/model",
               help="declare `shared_store: s3://<bucket>/<prefix>` (or gs://, az://...) in charter.yaml: KServe's "
                    "storage initializer reads the served version there; local runs keep `artifact_store`")


def _runtimes(ctx: Context) -> Iterator[Diagnostic]:
    prometheus = getattr(getattr(ctx.project, "spec", None), "prometheus", None)
    for policy in ctx.specset.of_kind("RolloutPolicy"):
        body = policy.model.spec
        runtime = body.serving.runtime
        model = ctx.specset.get("Model", body.model)
        data = ctx.document(policy).data
        serving = data.get("spec", {}).get("serving") if isinstance(data, dict) else None
        where = "/spec/serving/runtime" if isinstance(serving, dict) and "runtime" in serving else "/spec/model"
        if runtime != "charter" and model is not None and model.model.spec.guardrails:
            yield make("S232", f"runtime `{runtime}` serves the bare pipeline: model `{model.name}`'s guardrails "
                       "and input checks would not reach production", ctx.span(policy, where), pointer=where,
                       labels=(ctx.defined_here(model),),
                       help="use `runtime: charter` (the default): the predictor the gates were measured with")
        for i, env in enumerate(body.environments):
            if env.strategy.analysis is None:
                continue
            ptr = f"/spec/environments/{i}/strategy/analysis"
            if runtime != "charter":
                yield make("S233", f"the analysis of `{env.name}` measures the predictor's metrics, which runtime "
                           f"`{runtime}` does not export", ctx.span(policy, ptr), pointer=ptr,
                           help="use `runtime: charter` (the default)")
            elif not prometheus:
                yield make("S233", f"the analysis of `{env.name}` queries Prometheus, and charter.yaml names none",
                           ctx.span(policy, ptr), pointer=ptr,
                           help="set `prometheus: http://prometheus.monitoring.svc:9090` (the address of the "
                                "Prometheus scraping the model servers) in charter.yaml's spec")

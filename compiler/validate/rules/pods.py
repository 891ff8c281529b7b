"""What the orchestrators' pods need to read the data: a database URL (X323) and memory above DuckDB's (X324).

Only for projects whose `targets` include an orchestrator (argo, kubeflow, airflow): their pods
get exactly the environment that `compute` gives them, nothing of the developer's shell.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from compiler.diagnostics import Diagnostic, make
from compiler.spec import Project, Spec
from compiler.spec.compute import effective, layers, memory_bytes
from compiler.spec.datasource import DUCKDB_FORMATS, SQL_PREPARE_STEPS
from compiler.validate.context import Context

CODES = ("X323", "X324")
ORCHESTRATORS = ("argo", "kubeflow", "airflow")
DUCKDB_DEFAULT_MEMORY = 1 << 30  # compiler.execute.engines.duckdb.DEFAULTS, without importing the runtime
SHARE = 0.75  # of the pod's memory limit DuckDB may take: the rest is Python, the reader and the rule results


def check(ctx: Context) -> Iterator[Diagnostic]:
    if not isinstance(ctx.project, Project):
        return
    targets = [t for t in ctx.project.spec.targets if t in ORCHESTRATORS]
    if not targets:
        return
    compute = ctx.project.spec.compute
    for source, pods in sorted(_readers(ctx).items()):
        spec = ctx.specset.get("DataSource", source)
        assert spec is not None
        body = spec.model.spec
        if body.connection is not None:
            variable = body.connection.url_env
            missing = [(who, step) for who, step in pods
                       if variable not in (effective(layers(compute, _compute(ctx, who), step)).get("secrets") or {})]
            if missing:
                yield make("X323", f"DataSource `{source}` reads its URL from `{variable}`, but "
                                   f"{_pods(missing)} on {', '.join(targets)} get no such variable: they would stop "
                                   "at the first read", ctx.span(spec, "/spec/connection/url_env"),
                           pointer="/spec/connection/url_env",
                           help=f"give the pods the URL from a Kubernetes Secret: `compute: {{secrets: {{{variable}: "
                                "{name: <secret>, key: <key>}}}` in charter.yaml (or in the Model's `compute`)")
        engine = body.engine or ctx.project.spec.engine or "polars"
        if engine == "duckdb" or (engine == "polars" and _switches(ctx, spec)):
            yield from _duckdb(ctx, spec, body, [p for p in pods if p[1] in (None, "validate")], targets)


def engine_of(body, ctx: Context) -> str:
    assert isinstance(ctx.project, Project)
    return body.engine or ctx.project.spec.engine or "polars"


def _switches(ctx: Context, spec: Spec) -> bool:
    """Whether `duckdb.above` may move the source's data check to DuckDB (the IR's rule, `ir.build._duckdb_above`)."""
    assert isinstance(ctx.project, Project)
    body = spec.model.spec
    above = (body.duckdb.above if body.duckdb is not None else None) or (
        ctx.project.spec.duckdb.above if ctx.project.spec.duckdb is not None else None)
    suites = [s for s in ctx.specset.of_kind("ValidationSuite") if s.model.spec.source == spec.name]
    return (above is not None and body.format in DUCKDB_FORMATS
            and all(step.op in SQL_PREPARE_STEPS for s in suites for step in s.model.spec.prepare))


def _readers(ctx: Context) -> dict[str, list[tuple[Spec | None, str | None]]]:
    """DataSource name -> the pods that read it: (Model or None for a data check, step)."""
    readers: dict[str, list[tuple[Spec | None, str | None]]] = {}
    for source in ctx.specset.of_kind("DataSource"):
        readers.setdefault(source.name, []).append((None, None))  # its `charter check-data` pod
    monitored = {ms.model.spec.model for ms in ctx.specset.of_kind("MetricSet")
                 if ms.model.spec.monitoring is not None and ms.model.spec.monitoring.enabled}
    for model in ctx.specset.of_kind("Model"):
        body = model.model.spec
        if ctx.specset.get("DataSource", body.data.source) is None:
            continue  # X301
        pods = readers.setdefault(body.data.source, [])
        pods.append((model, "ingest"))
        if body.sample is not None:  # a sampled model's rules read the whole table in the source's engine
            pods.append((model, "validate"))
        if model.name in monitored or (body.retrain is not None and body.retrain.on_data_change):
            pods.append((model, "monitor"))
        for window in body.windows:
            if window.source is not None and ctx.specset.get("DataSource", window.source) is not None:
                readers.setdefault(window.source, []).append((model, "evaluate"))
        suite = ctx.specset.get("ValidationSuite", body.data.validation) if body.data.validation else None
        for rule in suite.model.spec.rules if suite is not None else ():  # a foreign key reads its source
            if rule.rule == "foreign_key" and ctx.specset.get("DataSource", rule.references.source) is not None:
                if (model, "validate") not in readers.setdefault(rule.references.source, []):
                    readers[rule.references.source].append((model, "validate"))
    return readers


def _compute(ctx: Context, model: Spec | None):
    return model.model.spec.compute if model is not None else None


def _pods(pods: list[tuple[Spec | None, str | None]]) -> str:
    """`its check-data pods, the ingest and monitor pods of late`: the pods named once, by model."""
    steps: dict[str, list[str]] = {}
    for who, step in pods:
        if who is not None and step is not None and step not in steps.setdefault(who.name, []):
            steps[who.name].append(step)
    names = ["its `check-data` pods"] if any(who is None for who, _ in pods) else []
    names += [" and ".join(f"`{s}`" for s in found) + f" pods of `{name}`" for name, found in sorted(steps.items())]
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _duckdb(ctx: Context, spec: Spec, body, pods, targets: Sequence[str]) -> Iterator[Diagnostic]:
    assert isinstance(ctx.project, Project)
    own = body.duckdb.memory_limit if body.duckdb is not None else None
    default = ctx.project.spec.duckdb.memory_limit if ctx.project.spec.duckdb is not None else None
    declared = own or default
    wanted = _bytes(declared) if declared is not None else DUCKDB_DEFAULT_MEMORY
    for who, step in pods:
        merged = effective(layers(ctx.project.spec.compute, _compute(ctx, who), step))
        limit = merged.get("resources", {}).get("limits", {}).get("memory")
        if limit is None or wanted <= SHARE * memory_bytes(limit):
            continue
        where = f"the `{step}` pods of `{who.name}`" if who is not None else "its `check-data` pods"
        pointer = ("/spec/duckdb/memory_limit" if own is not None else "/spec/engine" if body.engine is not None
                   else "/spec/duckdb/above" if body.duckdb is not None and body.duckdb.above else "/spec")
        runs = "runs" if engine_of(body, ctx) == "duckdb" else "may run (`duckdb.above`)"
        yield make("X324", f"DataSource `{spec.name}` {runs} on DuckDB with `memory_limit: "
                           f"{declared or '1GiB'}`{'' if declared else ' (the default)'}, above three quarters of "
                           f"the memory limit `{limit}` of {where} on {', '.join(targets)}: the pod would be "
                           "OOM-killed before DuckDB spills", ctx.span(spec, pointer), pointer=pointer,
                   help=f"set `duckdb: {{memory_limit: ...}}` to at most {_text(int(SHARE * memory_bytes(limit)))}, "
                        "or raise the pods' `resources.limits.memory`")
        return  # one per source: the smallest fix covers the other pods once it is made


def _bytes(value: str | int) -> int:
    from compiler.spec.base import size_bytes

    return value if isinstance(value, int) else size_bytes(value)


def _text(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size >= factor:
            return f"{size // factor}{unit}"
    return f"{size}B"

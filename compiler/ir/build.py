"""SpecSet -> PipelineGraph: resolve names, feature lists and owners once.

Every target and the runtime then read the same, already-decided facts.

Step hashes cover only what determines a step's result: spec fields that describe it
(descriptions and labels do not), and the hashes of the steps it needs. The runtime adds the
input data's fingerprint and library versions when it decides whether a step must re-run.
"""

from __future__ import annotations

import marshal
from typing import Any

from pydantic import BaseModel

from compiler.diagnostics import shown
from compiler.ir.graph import (
    STAGE_FALLBACK,
    STAGE_OF_KIND,
    ModelPipeline,
    PipelineGraph,
    Step,
    content_hash,
    order_steps,
)
from compiler.ir.memo import BuildMemo, Lookup, Reads
from compiler.spec import Spec, SpecSet
from compiler.spec.base import size_bytes
from compiler.spec.compute import effective, layers
from compiler.spec.datasource import DATA_LIMIT_DEFAULTS, DUCKDB_FORMATS, SQL_PREPARE_STEPS, DataLimits
from compiler.spec.frames import NUMERIC, TEMPORAL, features, prepared_columns
from compiler.spec.metricset import METRICS, gate_ids

# (name, needs, inputs, outputs)
_TEMPLATE = (
    ("ingest", (), (), ("raw",)),
    ("prepare", ("ingest",), ("raw",), ("prepared",)),
    ("validate", ("prepare",), ("prepared",), ("data_report",)),
    # split reads the prepared table itself: validation only checks it, and passing the table
    # through validate would cost a copy of it per run.
    ("split", ("prepare", "validate"), ("prepared",), ("train_set", "test_set")),
    ("train", ("split",), ("train_set",), ("model",)),
    ("evaluate", ("train", "split"), ("model", "train_set", "test_set"), ("metrics", "profile")),
    ("gate", ("evaluate",), ("metrics",), ("verdict",)),
    ("package", ("gate", "train", "evaluate"), ("model", "metrics", "verdict"), ("package",)),
)


# Documents indexed per build, at most: an edit rebuilds a pipeline or two (a handful of documents),
# where the index saves building the serializers; a build of many pipelines builds each class's
# serializer once (0.3-4 ms) and dumps directly, which is faster than walking every document.
_INDEX_BUDGET = 32


class _Dumps:
    """What one build dumped, by id (holding each object, so that the id is not reused); cleared by each build."""

    def __init__(self) -> None:
        self.parts: dict[int, tuple[object, Any]] = {}  # a model inside an indexed document -> its part of the dump
        self.raci: dict[int, tuple[object, dict]] = {}  # an Ownership document -> its RACI as plain data
        self.documents = 0  # documents indexed, up to _INDEX_BUDGET

    def clear(self) -> None:
        self.parts.clear()
        self.raci.clear()
        self.documents = 0


_DUMPS = _Dumps()


def _dump(model) -> dict:
    """`model_dump(mode="json", by_alias=True)`, from its document's dump when that was indexed.

    A nested model dumped on its own has its serializer built first (pydantic defers it): 0.3-4 ms
    for each of the ~35 classes an edit's rebuilt pipeline dumps, where the document's own
    serializer, built with its validator, gives the same part (`_INDEX_BUDGET` documents per
    build: a build of many pipelines dumps directly). A copy: callers change it.
    """
    found = _DUMPS.parts.get(id(model))
    if found is not None and found[0] is model:
        return marshal.loads(marshal.dumps(found[1]))
    return model.model_dump(mode="json", by_alias=True)


def _indexed(document) -> None:
    """Dump a validated document (a spec's, or charter.yaml's) once, and index the models in it."""
    found = _DUMPS.parts.get(id(document))
    if (found is None or found[0] is not document) and _DUMPS.documents < _INDEX_BUDGET:
        _DUMPS.documents += 1
        _walk(document, document.model_dump(mode="json", by_alias=True))


_PLAIN = (str, int, float, bool, type(None))  # no model inside: not walked


def _walk(value, dumped) -> None:
    if isinstance(value, BaseModel):
        decorators = type(value).__pydantic_decorators__
        if not isinstance(dumped, dict) or decorators.model_serializers:
            return  # a model that dumps itself its own way: dumped on its own
        _DUMPS.parts[id(value)] = (value, dumped)
        own = {name for info in decorators.field_serializers.values() for name in info.info.fields} \
            if decorators.field_serializers else ()
        for name, field in type(value).model_fields.items():
            item = getattr(value, name)
            if isinstance(item, _PLAIN) or name in own:
                continue
            key = field.serialization_alias or field.alias or name
            if key in dumped:
                _walk(item, dumped[key])
    elif isinstance(value, (list, tuple)):
        if isinstance(dumped, list) and len(dumped) == len(value):
            for item, part in zip(value, dumped, strict=True):
                if not isinstance(item, _PLAIN):
                    _walk(item, part)
    elif isinstance(value, dict) and isinstance(dumped, dict):
        for key, item in value.items():
            if isinstance(key, str) and key in dumped and not isinstance(item, _PLAIN):
                _walk(item, dumped[key])


def build_graph(specset: SpecSet, project, memo: BuildMemo | None = None) -> PipelineGraph:
    """Build the IR of a SpecSet that validated without errors.

    With `memo`, a pipeline whose specs, settings and owners are those of the memo's earlier
    build is reused as it was built then (`compiler/ir/memo.py`).
    """
    _DUMPS.clear()
    try:
        return _build_graph(specset, project, memo)
    finally:
        _DUMPS.clear()


def _build_graph(specset: SpecSet, project, memo: BuildMemo | None) -> PipelineGraph:
    if project is not None:
        _indexed(project)
    owners = _ownership(specset, project)
    limits = project.spec.limits.data if project is not None else DataLimits()
    belongs: dict[tuple[str, str], list[Spec]] = {}  # (kind, model) -> its MetricSets or RolloutPolicies
    for kind in ("MetricSet", "RolloutPolicy"):
        for spec in specset.of_kind(kind):
            belongs.setdefault((kind, spec.model.spec.model), []).append(spec)
    settings = _dump(project.spec) if project is not None else {}
    for optional in ("compute", "engine", "duckdb", "spark"):  # left out when unset: a tree without them keeps its hash
        if settings.get(optional) is None:
            settings.pop(optional, None)
    settings["name"] = project.metadata.name if project is not None else "project"
    if memo is not None:
        memo.start(settings)
    models = tuple(_model(specset, m, owners, limits, project, belongs, memo)
                   for m in sorted(specset.of_kind("Model"), key=lambda s: s.name))
    files = {}
    for spec in sorted(specset, key=lambda s: (s.kind, s.name)):
        raci = _dump_raci(spec.model) if spec.kind == "Ownership" else owners.get(spec.name, {})
        files[f"{spec.kind}/{spec.name}"] = {"kind": spec.kind, "name": spec.name, "file": shown(spec.file),
                                             "owners": _file_owners(spec.kind, raci)}  # fmt: skip
    checks = []
    checked = set()
    for suite in sorted(specset.of_kind("ValidationSuite"), key=lambda s: s.name):
        source = specset.get("DataSource", suite.model.spec.source)
        if source is not None:
            checked.add(source.name)
            checks.append(_data_check(source, suite, limits, project, specset, memo))
    for source in sorted(specset.of_kind("DataSource"), key=lambda s: s.name):
        if source.name not in checked:
            checks.append(_data_check(source, None, limits, project, specset, memo))
    return PipelineGraph(settings, models, files, checks=tuple(checks))


def _model(specset: SpecSet, model: Spec, owners: dict, limits: DataLimits, project,
           belongs: dict[tuple[str, str], list[Spec]], memo: BuildMemo | None) -> ModelPipeline:
    """A Model's pipeline: the memo's when what it is built from is unchanged, else built (and recorded)."""
    if memo is None:
        return _pipeline(specset, model, owners, limits, project, belongs)
    metricsets = sorted(belongs.get(("MetricSet", model.name), ()), key=lambda s: s.name)
    policies = sorted(belongs.get(("RolloutPolicy", model.name), ()), key=lambda s: s.name)
    # what `_pipeline` is given besides lookups: its specs, and the owners of its names
    key = memo.key([model, *metricsets, *policies],
                   [owners.get(model.name), *(owners.get(p.name) for p in policies)])
    slot = f"model:{model.name}"
    found = memo.reuse(slot, key, specset)
    if found is not None:
        return found
    reads = Reads(specset)
    built = _pipeline(reads, model, owners, limits, project, belongs)
    memo.keep(slot, key, reads)
    return built


def _data_check(source: Spec, suite: Spec | None, limits: DataLimits, project, specset: SpecSet,
                memo: BuildMemo | None) -> ModelPipeline:
    if memo is None:
        return _check(source, suite, limits, project, specset)
    key = memo.key([source, suite], [])
    slot = f"check:{suite.name if suite is not None else source.name}"
    found = memo.reuse(slot, key, specset)
    if found is not None:
        return found
    reads = Reads(specset)
    built = _check(source, suite, limits, project, reads)
    memo.keep(slot, key, reads)
    return built


def _data_params(source: Spec, suite: Spec | None, limits: DataLimits, specset: Lookup,
                 project) -> dict[str, dict]:
    if suite is not None:
        _indexed(suite.model)
    return {
        "ingest": _ingest(source, limits, specset, _spark_defaults(project)),
        "prepare": {"suite": suite.name if suite else None,
                    "steps": [_prepare_step(s) for s in suite.model.spec.prepare] if suite else [],
                    # The declared types after renames and drops, so the runtime need not redo
                    # the column arithmetic of compiler.spec.frames.
                    "schema": [{"name": n, "type": t} for n, t in
                               prepared_columns(source.model, suite.model if suite else None).items()]},
        "validate": {"suite": suite.name if suite else None,
                     "rules": _rules(suite, specset, limits, project) if suite else []},
    }


# Reader options added after the first release, left out at their defaults so that sources not
# using them keep their step hashes (and their models their versions).
_NEW_DEFAULTS = {"null_values": [], "skip_rows": 0, "comment_prefix": None, "quote_char": '"', "decimal": "."}


def _spark_defaults(project):
    return getattr(getattr(project, "spec", None), "spark", None)


def _ingest(source: Spec, defaults: DataLimits, specset: Lookup, spark=None) -> dict:
    """The reader's params; `spark`, charter.yaml's Spark settings, for a `format: spark` source's session."""
    _indexed(source.model)
    d = {"source": source.name, **_dump(source.model.spec)}
    d["limits"] = _limits(source.model.spec.limits, defaults)
    d.pop("engine", None)  # the engine is the data check's (its validate step), not the reader's
    d.pop("duckdb", None)
    d.pop("spark", None)
    if source.model.spec.format == "spark":  # where the session runs: how, not what is read (out of the hash)
        d["spark"] = _engine_settings(source.model.spec.spark, spark, ("master",))
    d.pop("retention", None)  # what the source keeps is validate's concern (windows), not what is read
    if d.get("watermark") is None:  # declared: what the run records of a database's data, not what it reads
        d.pop("watermark", None)
    if d.get("jsonl") is None:
        d.pop("jsonl", None)
    if d.get("feast") is None:  # left out, so that the other sources keep their step hashes
        d.pop("feast", None)
    else:  # the entity rows are read by Charter's own ingest, with the entity source's reader and types
        entities = specset.get("DataSource", source.model.spec.feast.entities)
        assert entities is not None  # references are validated (X301) before the IR is built
        d["feast"]["entity_source"] = _ingest(entities, defaults, specset, spark)
    if d.get("csv"):
        d["csv"] = {k: v for k, v in d["csv"].items() if k not in _NEW_DEFAULTS or v != _NEW_DEFAULTS[k]}
    return d


def _limits(own: DataLimits | None, defaults: DataLimits) -> dict[str, int | None]:
    """The source's limits, else charter.yaml's, else the built-in default; sizes in bytes."""
    resolved: dict[str, int | None] = {}
    for name in DataLimits.model_fields:
        value = next((v for v in (getattr(own, name, None), getattr(defaults, name), DATA_LIMIT_DEFAULTS.get(name))
                      if v is not None), None)
        resolved[name] = size_bytes(value) if isinstance(value, str) else value if isinstance(value, int) else None
    return resolved


def _prepare_step(step) -> dict:
    # `training_only` appears only when set, so trees that do not use it keep their step hashes.
    d = _dump(step)
    args = d[step.op]
    if not args.get("training_only"):
        args.pop("training_only", None)
    return d


def _steps(name: str, params: dict[str, dict], template) -> tuple[Step, ...]:
    steps: dict[str, Step] = {}
    for step, needs, inputs, outputs in template:
        upstream = [steps[n].hash for n in needs]
        # Limits and an engine's resources decide whether and how fast a step runs, never what it
        # computes: they stay out of the hash.
        hashed = {k: v for k, v in params[step].items()
                  if k not in ("limits", "engine_settings", "watermark", "spark")}
        if "feast" in hashed:  # the entity source's limits, likewise
            entity = {k: v for k, v in hashed["feast"]["entity_source"].items() if k not in ("limits", "spark")}
            hashed["feast"] = {**hashed["feast"], "entity_source": entity}
        if "rules" in hashed and any(r["rule"] == "foreign_key" for r in hashed["rules"]):  # likewise
            hashed["rules"] = [_without_limits(r) if r["rule"] == "foreign_key" else r for r in hashed["rules"]]
        if "windows" in hashed:  # a window's source limits, like ingest's
            hashed["windows"] = [{**w, "source": {k: v for k, v in w["source"].items() if k not in ("limits", "spark")}}
                                 if isinstance(w.get("source"), dict) else w for w in hashed["windows"]]
        digest = content_hash({"step": step, "params": hashed, "needs": upstream})
        steps[step] = Step(f"{name}/{step}", name, step, tuple(f"{name}/{n}" for n in needs), inputs, outputs,
                           params[step], digest)
    return order_steps(list(steps.values()))


def _without_limits(rule: dict) -> dict:
    ingest = {k: v for k, v in rule["references"]["ingest"].items() if k not in ("limits", "spark")}
    return {**rule, "references": {**rule["references"], "ingest": ingest}}


def _check(source: Spec, suite: Spec | None, limits: DataLimits, project, specset: Lookup) -> ModelPipeline:
    name = suite.name if suite is not None else source.name
    files = sorted({shown(s.file) for s in (source, suite, *_referenced(suite, specset)) if s is not None})
    settings = effective(layers(_project_compute(project), None, None))
    params = _data_params(source, suite, limits, specset, project)
    engine = _source_engine(source, project)
    if engine != "polars":  # absent for polars, so the checks of existing trees keep their hashes
        params["validate"]["engine"] = engine
    elif (above := _duckdb_above(source, suite, project)) is not None:  # DuckDB when the file is larger
        params["validate"]["duckdb_above"] = above
        engine = "duckdb"
    _add_engine_settings(params["validate"], source, project, engine)
    return ModelPipeline(name, "data-check", "", _steps(name, params, _TEMPLATE[:3]),
                         tuple(files), {}, compute={"check-data": settings} if settings else {})


def _referenced(suite: Spec | None, specset: Lookup) -> list[Spec | None]:
    """The DataSources a suite's foreign keys read."""
    names = sorted({r.references.source for r in suite.model.spec.rules if r.rule == "foreign_key"}) if suite else []
    return [specset.get("DataSource", n) for n in names]


def _source_engine(source: Spec, project) -> str:
    return source.model.spec.engine or getattr(getattr(project, "spec", None), "engine", None) or "polars"


def _duckdb_above(source: Spec, suite: Spec | None, project) -> int | None:
    """`duckdb.above` in bytes, for a source DuckDB can check (a CSV or Parquet file, SQL prepare steps)."""
    own = source.model.spec.duckdb
    defaults = getattr(getattr(project, "spec", None), "duckdb", None)
    above = next((v for v in (getattr(own, "above", None), getattr(defaults, "above", None)) if v is not None), None)
    if above is None or source.model.spec.format not in DUCKDB_FORMATS:
        return None
    if suite is not None and any(step.op not in SQL_PREPARE_STEPS for step in suite.model.spec.prepare):
        return None
    return size_bytes(above) if isinstance(above, str) else int(above)


def _add_engine_settings(validate: dict, source: Spec, project, engine: str) -> None:
    if engine == "duckdb":
        defaults = getattr(getattr(project, "spec", None), "duckdb", None)
        validate["engine_settings"] = _engine_settings(source.model.spec.duckdb, defaults)
    elif engine == "spark":
        validate["engine_settings"] = _engine_settings(source.model.spec.spark, _spark_defaults(project), ("master",))


def _sample(body, suite: Spec | None) -> dict:
    """The model's training sample, resolved: its size rule, seed, and the column it is stratified by.

    That column is the target as the source names it, before the suite's renames: the draw happens at ingest.
    """
    sample = body.sample
    stratify = sample.stratify if sample.stratify is not None else body.task != "regression"
    column = body.data.target
    for step in reversed(suite.model.spec.prepare if suite is not None else []):
        if step.op == "rename":
            column = {new: old for old, new in step.args.mapping.items()}.get(column, column)
    return {"above": sample.above, "rows": sample.rows if sample.rows is not None or sample.fraction is not None
            else sample.above, "fraction": sample.fraction, "seed": sample.seed,
            "stratify_by": column if stratify else None}


def _engine_settings(own, defaults, names=("memory_limit", "spill_folder", "threads")) -> dict[str, int | str | None]:
    """An engine's settings, field by field: the source's, else charter.yaml's; None means the engine's default."""
    out: dict[str, int | str | None] = {}
    for name in names:
        value = next((v for v in (getattr(own, name, None), getattr(defaults, name, None)) if v is not None), None)
        out[name] = size_bytes(value) if name == "memory_limit" and isinstance(value, str) else value
    return out


def _project_compute(project):
    return getattr(getattr(project, "spec", None), "compute", None)


def _compute(project, model: Spec, steps: tuple[Step, ...]) -> dict:
    """Each step's merged pod settings (and `monitor`'s); kept out of the steps, so out of their hashes."""
    merged = {name: effective(layers(_project_compute(project), model.model.spec.compute, name))
              for name in (*(s.name for s in steps), "monitor")}
    return {name: settings for name, settings in merged.items() if settings}


def _dump_raci(ownership) -> dict:
    """An Ownership's RACI, dumped once per build (for the owners, then for its own file's entry)."""
    found = _DUMPS.raci.get(id(ownership))
    if found is None or found[0] is not ownership:
        found = _DUMPS.raci[id(ownership)] = (ownership, {k: v for k, v in _dump(ownership.spec.raci).items()
                                                    if v is not None})
    return found[1]


def _ownership(specset: SpecSet, project) -> dict[str, dict]:
    """Spec name -> RACI (stage -> roles) of the Ownership covering it, or of the default."""
    default_name = getattr(getattr(project, "spec", None), "default_ownership", None)
    default = specset.get("Ownership", default_name) if default_name else None
    result: dict[str, dict] = {}
    for own in specset.of_kind("Ownership"):
        raci = _dump_raci(own.model)
        for name in own.model.spec.covers:
            result.setdefault(name, raci)
    if default is not None:
        raci = _dump_raci(default.model)
        for spec in specset:
            result.setdefault(spec.name, raci)
    return result




def _file_owners(kind: str, raci: dict) -> list[str]:
    if kind == "Ownership":  # who may change the owners: every Accountable it names
        return sorted({r["accountable"] for r in raci.values()})
    stage = STAGE_OF_KIND.get(kind)
    stage = stage if stage in raci else (STAGE_FALLBACK.get(stage) if stage is not None else None)
    roles = [raci[stage]] if stage in raci else list(raci.values())
    handles = {h for r in roles for h in (*r["responsible"], r["accountable"])}
    return sorted(handles)


def _pipeline(specset: Lookup, model: Spec, owners: dict, limits: DataLimits, project,
              belongs: dict[tuple[str, str], list[Spec]]) -> ModelPipeline:
    body = model.model.spec
    source = specset.get("DataSource", body.data.source)
    suite = specset.get("ValidationSuite", body.data.validation) if body.data.validation else None
    assert source is not None  # references are validated (X301) before the IR is built
    metricsets = sorted(belongs.get(("MetricSet", model.name), ()), key=lambda s: s.name)
    policies = sorted(belongs.get(("RolloutPolicy", model.name), ()), key=lambda s: s.name)
    for document in (model.model, *(ms.model for ms in metricsets)):
        _indexed(document)
    columns = prepared_columns(source.model, suite.model if suite else None)
    feats = features(model.model, columns)
    params = {
        **_data_params(source, suite, limits, specset, project),
        "split": {"task": body.task, "target": body.data.target, **_dump(body.split)},
        "train": {"task": body.task, "target": body.data.target, "features": feats,
                  "numeric": [c for c in feats if columns[c] in NUMERIC or columns[c] == "boolean"],
                  "temporal": [c for c in feats if columns[c] in TEMPORAL],
                  "categorical": [c for c in feats if columns[c] in ("string", "category")],
                  "preprocessing": _dump(body.preprocessing), "estimator": _dump(body.estimator)},
        "evaluate": _evaluate(body, metricsets, feats, columns, _windows(specset, body, limits, project)),
        "gate": {"gates": _gates(metricsets), "business": [
            {"name": b.name, "min": b.min, "max": b.max} for ms in metricsets for b in ms.model.spec.business],
            **_gate_waivers([model, *metricsets])},
        "package": {"model": model.name, "runtimes": sorted({p.model.spec.serving.runtime for p in policies}),
                    "owners": owners.get(model.name, {}), "inputs": _dump(body.inputs)},
    }
    if body.sample is not None:  # only when declared: models without one keep their step hashes
        params["ingest"]["sample"] = _sample(body, suite)
        engine = _source_engine(source, project)
        if engine != "polars":  # a sampled model's data rules see the whole table, in the source's engine
            params["validate"]["full_table"] = engine
            _add_engine_settings(params["validate"], source, project, engine)
    # file names in any bytes: the IR and every file rendered from it are UTF-8
    sources = sorted({shown(s.file) for s in (model, source, suite, *_referenced(suite, specset), *metricsets,
                                              *policies) if s is not None})
    monitoring = next((_dump(ms.model.spec.monitoring) for ms in metricsets if ms.model.spec.monitoring), None)
    steps = _steps(model.name, params, _TEMPLATE)
    return ModelPipeline(model.name, body.task, model.model.metadata.description or "", steps, tuple(sources),
                         owners.get(model.name, {}), monitoring,
                         tuple(_rollout(specset, p, owners, limits, project) for p in policies),
                         _compute(project, model, steps),
                         _retrain(body.retrain) if body.retrain is not None else None)


def _retrain(retrain) -> dict:
    """When the model retrains; the data trigger's keys appear only when it is declared, with its poll resolved."""
    d = retrain.model_dump()
    d.pop("poll")
    if d.pop("on_data_change"):
        d.update(on_data_change=True, poll=retrain.data_poll)
    return d


def _rules(suite: Spec, specset: Lookup, limits: DataLimits, project) -> list[dict]:
    rules: list[dict] = []
    seen: dict[str, int] = {}
    _indexed(suite.model)
    for rule in suite.model.spec.rules:
        d = _dump(rule)
        if d["rule"] == "foreign_key":  # the referenced source's reader, as ingest's, and its key columns
            target = specset.get("DataSource", rule.references.source)
            assert target is not None  # references are validated (X301) before the IR is built
            d["references"]["columns"] = list(rule.references.columns or target.model.spec.primary_key)
            d["references"]["ingest"] = _ingest(target, limits, specset, _spark_defaults(project))
        if d["rule"] == "expression":  # `lag`'s window, only when set: other checks keep their hashes
            for key in ("by", "order_by"):
                if not d[key]:
                    d.pop(key)
        if d["rule"] == "freshness" and not d["by"]:  # likewise, the partitions
            d.pop("by")
        if d["rule"] == "monotonic" and d["max_step"] is None:  # and the largest step
            d.pop("max_step")
        if not d.get("id"):
            cols = d.get("column") or "+".join(d.get("columns") or ()) or (
                f"{d['left']}{d['op']}{d['right']}" if d["rule"] == "compare" else "")
            base = f"{d['rule']}:{cols}" if cols else d["rule"]
            seen[base] = seen.get(base, 0) + 1
            d["id"] = base if seen[base] == 1 else f"{base}#{seen[base]}"
        rules.append(d)
    return rules


def _gates(metricsets: list[Spec]) -> list[dict]:
    gates = []
    for ms in metricsets:
        _indexed(ms.model)
        for g, gid in zip(ms.model.spec.gates, gate_ids(ms.name, ms.model.spec.gates), strict=True):
            d = _dump(g)
            if d.get("window") is None:  # only when set: gates without one keep their hashes
                d.pop("window", None)
            d["metric_set"] = ms.name
            d["higher_is_better"] = METRICS[g.metric][1]
            d["id"] = gid
            gates.append(d)
    return gates


def _gate_waivers(specs: list[Spec]) -> dict:
    """Waivers of gates, in the gate step's params only when there are any.

    That way, a tree without waivers keeps the step hashes, run keys and model versions it had.
    """
    found = [{"gate": w.gate, "reason": w.reason, "approver": w.approver, "expires": w.expires.isoformat(),
              "spec": f"{s.kind}/{s.name}"}
             for s in specs for w in s.model.waivers if w.gate is not None]
    return {"waivers": found} if found else {}


def _windows(specset: Lookup, body, limits: DataLimits, project) -> list[dict]:
    """The model's evaluation windows; a `source` window carries its reader's params, as ingest's."""
    out = []
    for w in body.windows:
        d = {k: v for k, v in _dump(w).items() if v is not None}
        if w.last is None:
            d.pop("relative_to", None)
        if w.source is not None:
            source = specset.get("DataSource", w.source)
            assert source is not None  # references are validated (X301) before the IR is built
            d["source"] = _ingest(source, limits, specset, _spark_defaults(project))
        out.append(d)
    return out


def _evaluate(body, metricsets: list[Spec], feats: list[str], columns: dict[str, str],
              windows: list[dict]) -> dict:
    metrics = sorted({m for ms in metricsets
                      for m in (*ms.model.spec.metrics, *(g.metric for g in ms.model.spec.gates))})
    monitoring = next((ms.model.spec.monitoring for ms in metricsets if ms.model.spec.monitoring), None)
    drift_features = (monitoring.drift.features if monitoring and monitoring.drift.features else feats)
    # `positive_label` only when given, so models without one keep their step hashes.
    positive = {"positive_label": body.positive_label} if body.positive_label is not None else {}
    # `windows` only when declared, so models without them keep their step hashes.
    return {"task": body.task, "target": body.data.target, "metrics": metrics, **positive,
            **({"windows": windows} if windows else {}),
            "slices": [_dump(s) for s in body.slices], "guardrails": [_dump(g) for g in body.guardrails],
            "business": [{"name": b.name, "expression": b.expression}
                         for ms in metricsets for b in ms.model.spec.business],
            "profile": {"features": list(drift_features),
                        "types": {c: columns[c] for c in drift_features}}}  # fmt: skip


def _rollout(specset: Lookup, policy: Spec, owners: dict, limits: DataLimits, project) -> dict:
    _indexed(policy.model)
    body = policy.model.spec
    deployment = owners.get(policy.name, {}).get("deployment") or owners.get(body.model, {}).get("deployment")
    envs = []
    for env in body.environments:
        d = _dump(env)
        if not d.get("auto_merge"):  # only when set: other environments keep their hashes (and deployments)
            d.pop("auto_merge", None)
        if isinstance(env.approval, list):
            d["approvers"] = sorted(env.approval)
        elif env.approval == "accountable" and deployment:
            d["approvers"] = [deployment["accountable"]]
        elif env.approval == "responsible" and deployment:
            d["approvers"] = sorted(deployment["responsible"])
        else:
            d["approvers"] = []
        d["namespace"] = env.namespace or env.name
        analysis = env.strategy.analysis
        if analysis is not None:
            ms = specset.get("MetricSet", analysis.gates)
            d["strategy"]["analysis"]["gate_list"] = _gates([ms]) if ms else []
        envs.append(d)
    out = {"name": policy.name, "serving": _dump(body.serving), "environments": envs}
    if body.fallback is not None:  # only when set: other policies keep their hashes
        fallback = _dump(body.fallback)
        if fallback.get("judge") == "data":  # the default, left out: earlier policies keep their hashes
            fallback.pop("judge")
            fallback.pop("since", None)
        out["fallback"] = {**fallback, "reviewers": [deployment["accountable"]] if deployment else []}
    if body.prediction_log is not None:
        log = out["prediction_log"] = _dump(body.prediction_log)
        outcomes = specset.get("DataSource", body.prediction_log.outcomes.source) if body.prediction_log.outcomes \
            else None
        if outcomes is not None:  # what `monitor --predictions` reads the labels with
            log["outcomes"]["ingest"] = _ingest(outcomes, limits, specset, _spark_defaults(project))
    return out

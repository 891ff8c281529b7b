"""One function per IR step kind: read its inputs from the store, write its outputs to `out`.

Each returns a short detail for the progress line, or raises `StepFailed` (a verdict the user
must act on: failing data rules, failing gates) or `DataError` (unreadable or mistyped data).
Tables between steps are Parquet files; the model is saved with skops.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from compiler.execute.errors import DataError
from compiler.execute.store import read_json, write_json


class StepFailed(Exception):
    def __init__(self, message: str, report: str = ""):
        super().__init__(message)
        self.message, self.report = message, report


def _in_engine(pipeline, root: Path) -> str | None:
    """The engine a data check runs in, when it is not polars: ingest and prepare then happen there too.

    With `duckdb.above`, a source left on polars runs in DuckDB when its file is larger (the same
    results: the engines agree rule for rule); a file that is missing stays with polars, whose
    ingest says so.
    """
    validate = pipeline.step("validate")
    if validate is None or pipeline.task != "data-check":
        return None
    if (above := validate.params.get("duckdb_above")) is not None:
        from compiler.execute.fingerprint import source_path

        try:
            return "duckdb" if source_path(pipeline.step("ingest").params, root).stat().st_size > above else None
        except (DataError, OSError):
            return None
    return validate.params.get("engine")


def run_ingest(runner, pipeline, step, inputs, out: Path | None) -> str:
    from compiler.execute.ingest import read_source

    if (engine := _in_engine(pipeline, runner.root)) is not None:
        return f"read by {engine} in the validate step"

    if step.params.get("sample"):
        from compiler.execute.ingest import read_training

        df, sampled = read_training(step.params, runner.root, runner.fingerprints.get(pipeline.name, ""))
        _keep_sample(runner, out, sampled)
        if sampled is not None:
            _keep(runner, out, "raw", df)
            return (f"sample of {df.height} of {sampled['of']} rows (seed {sampled['seed']}"
                    + (f", stratified by {sampled['stratified_by']}" if sampled["stratified_by"] else "")
                    + f"), {df.width} columns")
    else:
        df = read_source(step.params, runner.root)
    _keep(runner, out, "raw", df)
    return f"{df.height} rows, {df.width} columns"


SAMPLE_FILE = "sample.json"


def _keep_sample(runner, out: Path | None, sampled: dict | None) -> None:
    """What the ingest drew, passed on to the steps that record it (through the store when a step runs alone)."""
    runner.memory["sample"] = sampled
    if out is not None:
        write_json(out / SAMPLE_FILE, {"sample": sampled})


def _sample(runner, inputs, name: str) -> dict | None:
    if "sample" in runner.memory:
        return runner.memory["sample"]
    stored = inputs[name] / SAMPLE_FILE
    return read_json(stored)["sample"] if stored.exists() else None


def run_prepare(runner, pipeline, step, inputs, out: Path | None) -> str:
    from compiler.execute.prepare import apply_prepare, finalize_types

    if (engine := _in_engine(pipeline, runner.root)) is not None:
        return f"run by {engine} in the validate step"
    raw = _table(runner, inputs, "raw")
    runner.memory.pop("raw", None)
    df = finalize_types(apply_prepare(raw, step.params["steps"]), step.params["schema"])
    _keep(runner, out, "prepared", df)
    if pipeline.step("ingest").params.get("sample"):
        _keep_sample(runner, out, _sample(runner, inputs, "raw"))
    return f"{raw.height} -> {df.height} rows"


def _keep(runner, out: Path | None, name: str, df: pl.DataFrame) -> None:
    """Keep an ephemeral step's table in memory for the rest of this run.

    When the step runs alone (`--step`, one pod per step) it goes to the store too, for the
    step that needs it next.
    """
    runner.memory[name] = df
    if out is not None:
        df.write_parquet(out / f"{name}.parquet")


def run_validate(runner, pipeline, step, inputs, out: Path) -> str:
    from compiler.execute.report import data_report
    from compiler.execute.rules import check_rules

    now = runner.now or datetime.now(UTC)
    engine = _in_engine(pipeline, runner.root)
    ingest = pipeline.step("ingest").params
    sampled = _sample(runner, inputs, "prepared") if ingest.get("sample") else None
    where = ""
    if sampled is not None:  # a sampled model's rules see the whole table in its engine; else the sample
        engine = step.params.get("full_table")
        where = " of the whole table" if engine else f" on the sample of {sampled['rows']} rows"
    if engine in ("duckdb", "postgres", "spark"):
        check_source = _engine(engine)
        unsampled = {k: v for k, v in ingest.items() if k != "sample"}
        results, rows = check_source(unsampled, pipeline.step("prepare").params, step.params["rules"],
                                     step.params.get("engine_settings") or {}, runner.root, now=now)
    else:
        from compiler.execute.rules import reader

        df = _table(runner, inputs, "prepared")
        results = check_rules(df, step.params["rules"], now=now, read=reader(runner.root))
        rows = df.height
    report = runner.result.data = data_report(results, rows, engine or "polars")
    errors = [r for r in results if not r.passed and r.severity == "error"]
    warnings = [r for r in results if not r.passed and r.severity != "error"]
    if errors:
        raise StepFailed(f"{len(errors)} data rule(s) failed", rules_table(results))
    write_json(out / "data_report.json", report)
    passed = sum(r.passed for r in results)
    return (f"{passed}/{len(results)} rules passed{where}"
            + (f", {len(warnings)} warning(s)" if warnings else ""))


def _engine(name: str):
    """The `check_source` of a SQL engine; its libraries are an extra (`charter[duckdb]`, `[postgres]`, `[spark]`)."""
    from compiler.execute.failure import RunError

    try:
        if name == "duckdb":
            from compiler.execute.engines.duckdb import check_source
        elif name == "spark":
            from compiler.execute.engines.spark import check_source
        else:
            from compiler.execute.engines.postgres import check_source
    except ImportError as exc:
        raise RunError(f"`engine: {name}` needs `{exc.name}`, which is not installed",
                       hint=f"pip install 'charter[{name}]'") from None
    return check_source


def rules_table(results) -> str:
    rows = [("rule", "severity", "failing", "sample rows", "message")]
    for r in sorted(results, key=lambda r: (r.passed, r.severity != "error", r.id)):
        if r.passed:
            continue
        rows.append((r.id, r.severity, f"{r.failing}/{r.total}", ", ".join(map(str, r.sample)), r.message))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def run_split(runner, pipeline, step, inputs, out: Path) -> str:
    from compiler.execute.train import split

    df = _table(runner, inputs, "prepared")
    train, test = split(df, step.params)
    train.write_parquet(out / "train_set.parquet")
    test.write_parquet(out / "test_set.parquet")
    if pipeline.step("ingest").params.get("sample"):  # kept with the sets it made, for evaluate's record
        sampled = _sample(runner, inputs, "prepared")
        write_json(out / SAMPLE_FILE, {"sample": sampled})
        runner.memory["sample"] = sampled
    runner.memory["train_set"], runner.memory["test_set"] = train, test  # later steps of this run
    return f"{train.height} train / {test.height} test"


def _table(runner, inputs, name: str) -> pl.DataFrame:
    cached = runner.memory.get(name)
    return cached if cached is not None else pl.read_parquet(inputs[name] / f"{name}.parquet")


def run_train(runner, pipeline, step, inputs, out: Path) -> str:
    from compiler.execute.package import save_model
    from compiler.execute.train import fit

    train = _table(runner, inputs, "train_set")
    model = fit(train, step.params)
    save_model(model, out, [])
    runner.memory["model"] = model
    return step.params["estimator"]["class"].rsplit(".", 1)[-1]


def run_evaluate(runner, pipeline, step, inputs, out: Path) -> str:
    from compiler.execute.evaluate import evaluate, slice_warnings
    from compiler.execute.package import load_model
    from compiler.execute.predict import Predictor, pipeline_contract

    # Within one run the model and the sets are still in memory; reading them back (skops
    # load with type checks) would only cost time.
    model = runner.memory.get("model") or load_model(inputs["model"])
    train = _table(runner, inputs, "train_set")
    test = _table(runner, inputs, "test_set")
    sets = None
    if step.params.get("windows"):
        from compiler.execute.windows import window_sets

        sets = window_sets(step.params, pipeline.step("prepare").params, test, train, runner.now or datetime.now(UTC),
                           runner.root)
    metrics, profile, served = evaluate(Predictor(model, pipeline_contract(pipeline)), test, train, step.params,
                                        sets)
    if pipeline.step("ingest").params.get("sample"):
        sampled = _sample(runner, inputs, "train_set")
        if sampled is not None:  # the lock records it with the metrics; the card says so
            metrics["sample"] = sampled
    write_json(out / "metrics.json", metrics)
    write_json(out / "profile.json", profile)
    _predictions(served).write_parquet(out / "predictions.parquet")  # row for row with test_set.parquet
    shown = ", ".join(f"{k}={v:.3f}" for k, v in sorted(metrics["metrics"].items()) if v is not None)
    missing = ", ".join(f"{k} n/a ({why})" for k, why in sorted(metrics["not_computable"].items()))
    from compiler.execute.windows import warnings as window_warnings

    notes = "; ".join(["warning: " + w for w in slice_warnings(metrics) + window_warnings(metrics)]
                      + ([missing] if missing else []))
    return shown[:120] + (f"\n    {notes}" if notes else "")


def _predictions(served) -> pl.DataFrame:
    from compiler.execute.predict import label_text

    columns = {"prediction": served.labels.tolist(), "guardrail": pl.Series(served.decided_by, dtype=pl.String)}
    for i, c in enumerate(served.classes or []):
        columns[f"probability_{label_text(c)}"] = served.proba[:, i] if served.proba is not None else None
    return pl.DataFrame({k: v for k, v in columns.items() if v is not None})


def run_gate(runner, pipeline, step, inputs, out: Path) -> str:
    from compiler.execute.gate import check_gates, table, verdict

    metrics = read_json(inputs["metrics"] / "metrics.json")
    results = check_gates(step.params, metrics, runner.baselines(pipeline.name))
    runner.remember(pipeline.name, metrics)
    doc = runner.result.gates = verdict(results)
    if not doc["passed"]:
        failed = [r for r in results if not r.passed]
        raise StepFailed(f"{len(failed)} gate(s) failed; the model is not promoted", table(results))
    write_json(out / "verdict.json", doc)
    return f"{len(results)} gate(s) passed"


def run_package(runner, pipeline, step, inputs, out: Path) -> str:
    import shutil

    from compiler.execute.package import model_card, write_package

    shutil.copy2(inputs["model"] / "model.skops", out / "model.skops")
    shutil.copy2(inputs["metrics"] / "profile.json", out / "profile.json")  # what `charter monitor` compares with
    model = None
    if {"kserve-sklearn", "kserve-mlserver"} & set(step.params["runtimes"]):
        from compiler.execute.package import load_model, save_model

        model = load_model(inputs["model"])
        save_model(model, out, step.params["runtimes"])
    metrics = read_json(inputs["metrics"] / "metrics.json")
    verdict = read_json(inputs["verdict"] / "verdict.json")
    version = runner.current_key[:12]
    ingest = pipeline.step("ingest").params
    fingerprint = runner.fingerprints[pipeline.name]
    card = model_card(pipeline.name, pipeline.description, pipeline.task, pipeline.step("train").params, metrics,
                      verdict, step.params["owners"], ingest, version)
    timings = {o.id.split("/", 1)[1]: {"status": o.status, "seconds": round(o.seconds, 3)}
               for o in runner.result.outcomes}
    record = {"model": pipeline.name, "version": version, "data_fingerprint": fingerprint,
              "inputs": {"source": ingest["source"], "format": ingest["format"], "path": ingest.get("path")},
              "steps": {s.name: s.hash for s in pipeline.steps}, "run_keys": dict(runner.keys),
              "versions": runner.versions, "sources": list(pipeline.sources), "timings": timings,
              "import_seconds": round(runner.result.import_seconds, 3)}  # fmt: skip
    from compiler.execute.predict import CONTRACT_FILE, pipeline_contract

    write_package(out, {"metrics.json": metrics, "verdict.json": verdict, "model_card.md": card, "run.json": record,
                        CONTRACT_FILE: pipeline_contract(pipeline)})
    return f"version {version}"

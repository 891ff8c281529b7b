"""Monitor: compare a new batch of data with the training profile of the promoted model.

Drift per feature is the population stability index (PSI, over the training quantile bins
or category shares) or, with `method: ks`, the two-sample Kolmogorov-Smirnov statistic for
numbers and the Jensen-Shannon distance (base 2, from 0 to 1 like KS) for categories; each
feature says which statistic it got. A feature with fewer than `min_rows` values in the batch
is `too_few_rows`, never `ok`: an empty comparison is not a healthy one. When the batch
carries labels, the gates are checked again with the promoted model. `monitor_predictions`
does the same for what a server logged (its live inputs; with outcomes, the gates on live
data). This is what the
generated scheduled monitoring jobs run. The JSON report is versioned (`format_version`) and
documented in docs/runtime.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from compiler.execute.failure import RunError
from compiler.execute.lock import read_lock
from compiler.execute.store import open_store, read_json, store_uri

FORMAT_VERSION = 1
_EPS = 1e-4  # floor for empty bins, the usual PSI convention
_DEFAULT_DRIFT = {"method": "psi", "alert_above": 0.2, "min_rows": 100}
_STATISTIC = {("psi", "numeric"): "psi", ("psi", "categorical"): "psi",
              ("ks", "numeric"): "ks", ("ks", "categorical"): "jensen_shannon"}  # fmt: skip


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(values: pl.Series, kind: str) -> np.ndarray:
    if kind in ("date", "datetime"):
        values = values.cast(pl.Datetime("us")).dt.epoch("s")
    return values.drop_nulls().cast(pl.Float64).to_numpy()


def feature_drift(method: str, ref: dict, column: pl.Series, kind: str, min_rows: int = 1) -> dict:
    """The drift of one feature: `statistic`, `value` (None when not compared), `rows` compared, `status`."""
    numeric = ref["type"] == "numeric"
    values = _numeric(column, kind) if numeric else None
    labels = None if numeric else column.drop_nulls().cast(pl.String)
    rows = int(values.size) if values is not None else int(labels.len()) if labels is not None else 0
    out: dict = {"statistic": _STATISTIC[(method, ref["type"])], "value": None, "rows": rows}
    if not ref["fractions"]:
        return {**out, "status": "no_reference", "note": "the training data had no values"}
    if rows < min_rows:
        return {**out, "status": "too_few_rows", "note": f"{rows} value(s), fewer than min_rows {min_rows}"}
    if values is not None:
        return {**out, "value": _numeric_drift(method, ref, values)}
    assert labels is not None
    return {**out, "value": _categorical_drift(method, ref, labels)}


def _numeric_drift(method: str, ref: dict, values: np.ndarray) -> float:
    if method == "ks":
        from scipy.stats import ks_2samp

        return float(ks_2samp(np.asarray(ref["sample"]), values).statistic)
    idx = np.searchsorted(ref["edges"], values, side="right")
    actual = np.bincount(idx, minlength=len(ref["edges"]) + 1) / values.size
    return psi(ref["fractions"], actual.tolist())


def _categorical_drift(method: str, ref: dict, labels: pl.Series) -> float:
    shares = {str(k): n / labels.len() for k, n in labels.value_counts(name="n").rows()}
    categories = sorted(set(ref["fractions"]) | set(shares))
    expected = [ref["fractions"].get(c, 0.0) for c in categories]
    observed = [shares.get(c, 0.0) for c in categories]
    if method == "ks":  # KS has no meaning without an order: the Jensen-Shannon distance, also in [0, 1]
        from scipy.spatial.distance import jensenshannon

        return float(jensenshannon(expected, observed, base=2))
    return psi(expected, observed)


def batch_steps(steps: list[dict], target: str, labelled: bool) -> tuple[list[dict], list[dict]]:
    """The prepare steps that apply to a batch, and the ones skipped (with the reason).

    Training-only steps never apply; on a batch without labels, steps about the target lose it
    (a `drop_null` on the label would otherwise drop every row of an unlabelled batch).
    """
    kept, skipped = [], []
    for step in steps:
        op, args = next((k, v) for k, v in step.items() if v is not None)
        if args.get("training_only"):
            skipped.append({"step": op, "reason": "training_only"})
            continue
        if labelled:
            kept.append(step)
            continue
        args = dict(args)
        if op in ("drop_null", "fill_null", "drop_columns") and target in args["columns"]:
            args["columns"] = [c for c in args["columns"] if c != target]
        elif op == "rename":
            args["mapping"] = {k: v for k, v in args["mapping"].items() if target not in (k, v)}
        if (args.get("column") == target or target in args.get("keys", ())
                or ("columns" in args and not args["columns"]) or ("mapping" in args and not args["mapping"])):
            skipped.append({"step": op, "reason": f"needs the label `{target}`, which the batch does not have"})
            continue
        kept.append({op: args})
    return kept, skipped


def load_batch(pipeline, data: str, root: Path, graph) -> tuple[pl.DataFrame, dict]:
    """Read `data` like the model's ingest, then apply the model's prepare steps that fit a batch.

    `data` is a file path, or a DataSource name of the graph. Returns the batch and an account
    of its rows: read, dropped by each step, skipped steps.
    """
    from compiler.execute.ingest import read_source
    from compiler.execute.prepare import apply_prepare, finalize_types

    params = dict(pipeline.step("ingest").params)
    other = next((m.step("ingest").params for m in graph.models if m.step("ingest").params["source"] == data), None)
    if other is not None:
        params = dict(other)
    else:
        suffix = Path(data).suffix.lower()
        fmt = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}.get(suffix)
        if fmt is None:
            raise RunError(f"`{data}` is neither a data source nor a .csv, .parquet, .jsonl or .json file")
        params.update(format=fmt, path=data, query=None, table=None, connection=None,
                      csv=params.get("csv") if fmt == "csv" else None)
    target = pipeline.step("train").params["target"]
    df = read_source(params, root, allow_missing=[target])  # a batch may come without labels
    labelled = target in df.columns and df.get_column(target).null_count() < df.height
    prepare = pipeline.step("prepare").params
    steps, skipped = batch_steps(prepare["steps"], target, labelled)
    read, dropped = df.height, []
    for step in steps:
        before = df.height
        df = apply_prepare(df, [step])
        if df.height < before:
            dropped.append({"step": next(k for k, v in step.items() if v is not None), "rows": before - df.height})
    rows = {"read": read, "dropped": dropped, "skipped_steps": skipped, "labelled": labelled}
    return finalize_types(df, prepare["schema"]), rows


def monitor(graph, root: Path, model: str, data: str, store: str | None = None) -> dict:
    """Compare a batch with the training profile of `model`'s promoted version.

    The package is read from the artifact store that `store_uri` resolves (`--store`, then
    `$CHARTER_STORE`, then charter.yaml), never from a path recorded by the machine that
    trained it, and checked against the digest in `charter.lock`.
    """
    return _monitor(graph, root, model, data, store)


def promoted_package(graph, root: Path, model: str, entry: dict, store: str | None) -> Path:
    """The promoted package of `model` (its lock `entry`) from the store, verified."""
    uri = store_uri(store, graph.project)
    folder = open_store(uri, root).model_dir(model, entry["version"])
    if folder is None:
        raise RunError(f"version {entry['version']} of `{model}` is not in the artifact store `{uri}`",
                       hint="point --store (or CHARTER_STORE) at the store the model was promoted in, or run "
                            f"`charter run {model}` to train it into this one")
    record = read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    if record.get("version") != entry["version"] or record.get("steps", {}).get("package") != entry.get("spec_hash"):
        raise RunError(f"the package under version {entry['version']} of `{model}` in `{uri}` is not the one "
                       "charter.lock records", hint="the store was changed by hand, or belongs to another project")
    return folder


def _monitor(graph, root: Path, model: str, data: str, store) -> dict:
    pipeline = graph.model(model)
    if pipeline is None:
        raise RunError(f"no model named `{model}`")
    entry = read_lock(root)["models"].get(model)
    if entry is None:
        raise RunError(f"`{model}` has no promoted version in charter.lock", hint=f"run `charter run {model}` first")
    folder = promoted_package(graph, root, model, entry, store)
    if not (folder / "profile.json").is_file():
        raise RunError(f"the promoted artifact of `{model}` has no training profile at {folder}",
                       hint=f"re-run `charter run {model} --force` to package it again")
    profile = read_json(folder / "profile.json")
    drift_spec = {**_DEFAULT_DRIFT, **((pipeline.monitoring or {}).get("drift") or {})}
    method, limit, min_rows = drift_spec["method"], drift_spec["alert_above"], drift_spec["min_rows"]
    batch, rows = load_batch(pipeline, data, root, graph)
    types = pipeline.step("evaluate").params["profile"]["types"]
    drift = _drift(profile, batch, types, drift_spec, absent=("missing", True, "missing from the batch"))
    report = {"format_version": FORMAT_VERSION, "model": model, "version": entry["version"], "rows": batch.height,
              "rows_read": rows["read"], "rows_dropped": rows["dropped"], "skipped_steps": rows["skipped_steps"],
              "labelled": rows["labelled"], "method": method, "alert_above": limit, "min_rows": min_rows,
              "drift": drift, "gates": None}  # fmt: skip
    target = pipeline.step("train").params["target"]
    if target in batch.columns and batch.get_column(target).null_count() < batch.height:
        from compiler.execute.evaluate import evaluate
        from compiler.execute.gate import check_gates, verdict
        from compiler.execute.package import load_model
        from compiler.execute.predict import CONTRACT_FILE, Predictor, pipeline_contract

        # The package's own contract (what is deployed); packages from before it existed use the specs'.
        predictor = (Predictor.load(folder) if (folder / CONTRACT_FILE).is_file()
                     else Predictor(load_model(folder), pipeline_contract(pipeline)))
        metrics, _, _ = evaluate(predictor, batch.filter(pl.col(target).is_not_null()), batch,
                                 pipeline.step("evaluate").params)
        results = check_gates(pipeline.step("gate").params, metrics, {"production": entry["metrics"], "previous": None})
        report["metrics"] = metrics["metrics"]
        report["gates"] = verdict(results)
    return _verdict(report)


def monitor_predictions(graph, root: Path, model: str, store: str | None = None, since: str | None = None,
                        environment: str = "production", version: str | None = None,
                        now: datetime | None = None) -> dict:
    """Compare what `model` served in `environment` (its prediction log) with the training profile.

    With the RolloutPolicy's `outcomes`, the logged predictions joined with the labels that
    arrived since are scored and the gates checked again: the model judged on live traffic.
    """
    from compiler.execute.durations import seconds
    from compiler.execute.predict import CONTRACT_FILE, Predictor, RequestError, pipeline_contract
    from compiler.execute.predlog import read_log

    pipeline = graph.model(model)
    if pipeline is None:
        raise RunError(f"no model named `{model}`")
    entry = read_lock(root)["models"].get(model)
    if entry is None:
        raise RunError(f"`{model}` has no promoted version in charter.lock", hint=f"run `charter run {model}` first")
    policy = next((r["prediction_log"] for r in pipeline.rollouts if r.get("prediction_log")), None)
    if policy is None:
        raise RunError(f"`{model}` declares no prediction log",
                       hint="add `prediction_log: {}` to its RolloutPolicy; `charter serve` then logs what it serves")
    folder = promoted_package(graph, root, model, entry, store)
    profile = read_json(folder / "profile.json")
    predictor = (Predictor.load(folder) if (folder / CONTRACT_FILE).is_file()
                 else Predictor(None, pipeline_contract(pipeline)))
    uri = store_uri(store, graph.project)
    window = timedelta(seconds=seconds(since)) if since else None
    logged = read_log(open_store(uri, root), model, environment, window, version, now=now)
    data: dict[str, list] = {}
    for c in predictor.columns:
        if c["name"] not in policy.get("exclude", []) and logged:
            data[c["name"]] = [r["inputs"].get(c["name"]) for r in logged]
    try:
        batch = predictor.columns_frame(data, partial=True) if logged else pl.DataFrame()
    except RequestError as exc:
        raise RunError(f"the prediction log of `{model}` holds a row the model's contract refuses: {exc}") from None
    drift_spec = {**_DEFAULT_DRIFT, **((pipeline.monitoring or {}).get("drift") or {})}
    method, limit, min_rows = drift_spec["method"], drift_spec["alert_above"], drift_spec["min_rows"]
    types = pipeline.step("evaluate").params["profile"]["types"]
    drift = _drift(profile, batch, types, drift_spec, absent=("too_few_rows", False, "no rows logged"),
                   excluded=set(policy.get("exclude", [])))
    versions = sorted({r["version"] for r in logged})
    report = {"format_version": FORMAT_VERSION, "model": model, "version": version or entry["version"],
              "source": "predictions", "environment": environment, "since": since, "versions_logged": versions,
              "rows": batch.height, "rows_read": len(logged), "rows_dropped": [], "skipped_steps": [],
              "labelled": False, "method": method, "alert_above": limit, "min_rows": min_rows, "drift": drift,
              "gates": None}  # fmt: skip
    outcomes = (policy.get("outcomes") or {}).get("ingest")
    if outcomes is not None and logged:
        _score_live(report, pipeline, entry, logged, batch, outcomes, policy["key"], predictor, root)
    return _verdict(report)


def _drift(profile: dict, batch: pl.DataFrame, types: dict, spec: dict, absent: tuple[str, bool, str],
           excluded: frozenset[str] | set[str] = frozenset()) -> dict[str, dict]:
    """Drift of each profiled feature; `absent` is (status, alert, note) of one the batch lacks."""
    method, limit, min_rows = spec["method"], spec["alert_above"], spec["min_rows"]
    drift: dict[str, dict] = {}
    for name, ref in sorted(profile["features"].items()):
        status, alert, note = ("not_logged", False, "excluded from the prediction log") if name in excluded \
            else absent if name not in batch.columns else (None, False, "")
        if status is not None:
            drift[name] = {"statistic": _STATISTIC[(method, ref["type"])], "value": None, "rows": 0,
                           "status": status, "alert": alert, "note": note}
            continue
        d = feature_drift(method, ref, batch.get_column(name), types.get(name, "string"), min_rows)
        if "status" not in d:
            d["status"] = "alert" if d["value"] > limit else "ok"
        d["alert"] = d["status"] in ("alert", "missing")
        drift[name] = d
    return drift


def keep_report(graph, root: Path, report: dict, store: str | None = None, now: datetime | None = None) -> str:
    """Keep a report in the store as `monitor/<model>/latest.json`; return where.

    Wrapped with the time it was made (`recorded`, UTC): the site shows the latest one, and a
    scheduled job's report lands in the shared store it runs against.
    """
    from datetime import UTC

    from compiler.execute.store import json_text

    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rel = f"monitor/{report['model']}/latest.json"
    doc = {"format_version": FORMAT_VERSION, "recorded": stamp, "report": report}
    open_store(store_uri(store, graph.project), root).put(rel, json_text(doc).encode("utf-8"))
    return rel


def _verdict(report: dict) -> dict:
    """`alert`, `insufficient` and `status` of a report, the same for a batch and for a prediction log."""
    drift = report["drift"].values()
    report["alert"] = any(d["alert"] for d in drift) or bool(report["gates"] and not report["gates"]["passed"])
    report["insufficient"] = report["rows"] < report["min_rows"] or any(
        d["status"] in ("too_few_rows", "no_reference") for d in drift)
    report["status"] = "alert" if report["alert"] else "insufficient" if report["insufficient"] else "ok"
    return report


def _score_live(report: dict, pipeline, entry: dict, logged: list[dict], batch: pl.DataFrame, outcomes: dict,
                key: str, predictor, root: Path) -> None:
    """The gates on the logged predictions whose outcome has arrived (joined on `key`)."""
    from compiler.execute.evaluate import score
    from compiler.execute.gate import check_gates, verdict
    from compiler.execute.ingest import read_source
    from compiler.execute.predict import Prediction, spec_label
    from compiler.execute.prepare import apply_prepare, finalize_types

    target = pipeline.step("train").params["target"]
    # The model's own cleaning, as far as the outcome table has its columns (`standardize` of a
    # messy label, say), then the declared types: labels as the model learned them.
    raw = read_source(outcomes, root)
    prepare = pipeline.step("prepare").params
    steps = [st for st in prepare["steps"] if _step_columns(st) <= set(raw.columns)]
    cleaned = finalize_types(apply_prepare(raw, steps), [c for c in prepare["schema"] if c["name"] in raw.columns])
    labels = cleaned.select(pl.col(key).cast(pl.String), pl.col(target)).drop_nulls()
    labels = labels.unique(subset=[key], keep="last")
    index = {k: i for i, k in enumerate(labels.get_column(key).to_list())}
    truth = labels.get_column(target).to_list()
    keep = [i for i, r in enumerate(logged) if r.get("key") is not None and str(r["key"]) in index]
    report["outcomes"] = {"source": outcomes["source"], "rows_logged": len(logged), "rows_with_outcome": len(keep)}
    if not keep:
        return
    rows = [logged[i] for i in keep]
    task = pipeline.task
    classes = predictor.classes
    y = np.asarray([truth[index[str(r["key"])]] for r in rows], dtype=float if task == "regression" else None)
    pred = np.asarray([spec_label(r["prediction"], classes, task) for r in rows],
                      dtype=float if task == "regression" else None)
    proba = None
    if classes and all("probabilities" in r for r in rows):
        from compiler.execute.predict import label_text

        names = [label_text(c) for c in classes]
        proba = np.asarray([[r["probabilities"][n] for n in names] for r in rows], dtype=float)
    decided = [r.get("guardrail") for r in rows]
    overrides = {g: decided.count(g) for g in {d for d in decided if d}}
    served = Prediction(pred, proba, classes, decided, overrides)
    frame = batch[keep] if batch.height else batch
    metrics = score(pipeline.step("evaluate").params, frame, y, served)
    results = check_gates(pipeline.step("gate").params, metrics, {"production": entry["metrics"], "previous": None})
    report["labelled"] = True
    report["metrics"] = metrics["metrics"]
    report["gates"] = verdict(results)


def _step_columns(step: dict) -> set[str]:
    op, args = next((k, v) for k, v in step.items() if v is not None)
    names = set(args.get("columns") or ()) | set(args.get("keys") or ())
    if op == "rename":
        names |= set(args.get("mapping") or {})
    if args.get("column"):
        names.add(args["column"])
    return names


def format_report(report: dict) -> str:
    dropped = ", ".join(f"{d['rows']} by {d['step']}" for d in report["rows_dropped"])
    origin = (f" (prediction log, {report['environment']}" + (f", last {report['since']}" if report["since"] else "")
              + ")" if report.get("source") == "predictions" else "")
    lines = [f"{report['model']} version {report['version']}{origin}: {report['rows_read']} rows read, "
             f"{report['rows']} compared" + (f" ({dropped})" if dropped else "")
             + f"; drift by {report['method']} (alert above {report['alert_above']}, min_rows {report['min_rows']})"]
    lines += [f"  skipped prepare step `{s['step']}`: {s['reason'].replace('_', ' ')}" for s in report["skipped_steps"]]
    for name, d in report["drift"].items():
        value = "n/a" if d["value"] is None else f"{d['value']:.4f}"
        status = {"ok": "ok", "alert": "ALERT", "missing": "ALERT"}.get(d["status"], d["status"].upper())
        note = "  " + d["note"] if d.get("note") else ""
        lines.append(f"  {name:<28} {d['statistic']:<15} {value:>8}  {d['rows']:>7} rows  {status}{note}")
    if report["gates"] is not None:
        lines.append("gates: " + ("passed" if report["gates"]["passed"] else "FAILED"))
        for g in report["gates"]["gates"]:
            if not g["passed"]:
                lines.append(f"  {g['id']}: {g['value']} (needs {g['threshold']})")
    elif report.get("source") == "predictions" and report.get("outcomes"):
        lines.append(f"gates: not checked (no logged row has an outcome in `{report['outcomes']['source']}` yet)")
    elif not report["labelled"]:
        lines.append("gates: not checked (the batch has no labels)")
    lines.append(report["status"])
    return "\n".join(lines) + "\n"

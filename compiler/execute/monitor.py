"""Monitor: compare a new batch of data with the training profile of the promoted model.

Drift per feature is the population stability index (PSI, over the training quantile bins
or category shares) or the two-sample Kolmogorov-Smirnov statistic, as the MetricSet's
`monitoring.drift.method` says; when the batch carries labels, the gates are checked again
with the promoted model. This is what the generated scheduled monitoring jobs run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from compiler.execute.failure import RunError
from compiler.execute.lock import read_lock
from compiler.execute.store import open_store, read_json, store_uri

_EPS = 1e-4  # floor for empty bins, the usual PSI convention


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(values: pl.Series, kind: str) -> np.ndarray:
    if kind in ("date", "datetime"):
        values = values.cast(pl.Datetime("us")).dt.epoch("s")
    return values.drop_nulls().cast(pl.Float64).to_numpy()


def feature_drift(method: str, ref: dict, column: pl.Series, kind: str) -> float | None:
    if ref["type"] == "numeric":
        values = _numeric(column, kind)
        if values.size == 0 or not ref["fractions"]:
            return None
        if method == "ks":
            from scipy.stats import ks_2samp

            return float(ks_2samp(np.asarray(ref["sample"]), values).statistic)
        idx = np.searchsorted(ref["edges"], values, side="right")
        actual = np.bincount(idx, minlength=len(ref["edges"]) + 1) / values.size
        return psi(ref["fractions"], actual.tolist())
    labels = column.drop_nulls().cast(pl.String)
    if labels.len() == 0:
        return None
    counts = labels.value_counts(name="n")
    shares = {str(k): n / labels.len() for k, n in counts.rows()}
    categories = sorted(set(ref["fractions"]) | set(shares))
    expected = [ref["fractions"].get(c, 0.0) for c in categories]
    observed = [shares.get(c, 0.0) for c in categories]
    if method == "ks":  # for categories, KS degenerates to the largest share difference
        return float(max(abs(x - y) for x, y in zip(expected, observed, strict=True)))
    return psi(expected, observed)


def load_batch(pipeline, data: str, root: Path, graph) -> pl.DataFrame:
    """Read `data` like the model's ingest, then apply the model's prepare steps.

    `data` is a file path, or a DataSource name of the graph.
    """
    from compiler.execute.ingest import read_source
    from compiler.execute.prepare import apply_prepare, finalize_types

    params = dict(pipeline.step("ingest").params)
    other = next((m.step("ingest").params for m in graph.models if m.step("ingest").params["source"] == data), None)
    if other is not None:
        params = dict(other)
    else:
        suffix = Path(data).suffix.lower()
        fmt = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
        if fmt is None:
            raise RunError(f"`{data}` is neither a data source nor a .csv, .parquet or .jsonl file")
        params.update(format=fmt, path=data, query=None, table=None, connection=None,
                      csv=params.get("csv") if fmt == "csv" else None)
    target = pipeline.step("train").params["target"]
    df = read_source(params, root, allow_missing=[target])  # a batch may come without labels
    prepare = pipeline.step("prepare").params
    return finalize_types(apply_prepare(df, prepare["steps"]), prepare["schema"])


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
    monitoring = pipeline.monitoring or {"drift": {"method": "psi", "alert_above": 0.2}}
    method, limit = monitoring["drift"]["method"], monitoring["drift"]["alert_above"]
    batch = load_batch(pipeline, data, root, graph)
    types = pipeline.step("evaluate").params["profile"]["types"]
    drift: dict[str, dict] = {}
    for name, ref in sorted(profile["features"].items()):
        if name not in batch.columns:
            drift[name] = {"value": None, "alert": True, "note": "missing from the batch"}
            continue
        value = feature_drift(method, ref, batch.get_column(name), types.get(name, "string"))
        drift[name] = {"value": value, "alert": value is not None and value > limit}
    report = {"model": model, "version": entry["version"], "rows": batch.height, "method": method,
              "alert_above": limit, "drift": drift, "gates": None}  # fmt: skip
    target = pipeline.step("train").params["target"]
    if target in batch.columns and batch.get_column(target).null_count() < batch.height:
        from compiler.execute.evaluate import evaluate
        from compiler.execute.gate import check_gates, verdict
        from compiler.execute.package import load_model

        metrics, _ = evaluate(load_model(folder), batch.filter(pl.col(target).is_not_null()), batch,
                              pipeline.step("evaluate").params, pipeline.step("train").params)
        results = check_gates(pipeline.step("gate").params, metrics, {"production": entry["metrics"], "previous": None})
        report["metrics"] = metrics["metrics"]
        report["gates"] = verdict(results)
    report["alert"] = any(d["alert"] for d in drift.values()) or bool(report["gates"] and not report["gates"]["passed"])
    return report


def format_report(report: dict) -> str:
    lines = [f"{report['model']} version {report['version']}: {report['rows']} rows, drift by {report['method']} "
             f"(alert above {report['alert_above']})"]
    for name, d in report["drift"].items():
        value = "n/a" if d["value"] is None or (isinstance(d["value"], float) and math.isnan(d["value"])) \
            else f"{d['value']:.4f}"
        note = "  " + d.get("note", "") if d.get("note") else ""
        lines.append(f"  {name:<28} {value:>8}  {'ALERT' if d['alert'] else 'ok'}{note}")
    if report["gates"] is not None:
        lines.append("gates: " + ("passed" if report["gates"]["passed"] else "FAILED"))
        for g in report["gates"]["gates"]:
            if not g["passed"]:
                lines.append(f"  {g['id']}: {g['value']} (needs {g['threshold']})")
    lines.append("alert" if report["alert"] else "ok")
    return "\n".join(lines) + "\n"

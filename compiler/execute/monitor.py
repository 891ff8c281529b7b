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
from compiler.execute.store import read_json

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


def _local_artifact(uri: str, root: Path) -> Path:
    """The promoted package as a local folder, downloaded first from a remote store."""
    if "://" not in uri or uri.startswith("file://"):
        path = Path(uri.removeprefix("file://"))
        return path if path.is_absolute() else root / path
    import tempfile

    import fsspec

    fs, remote = fsspec.core.url_to_fs(uri)
    folder = Path(tempfile.mkdtemp(prefix="charter-monitor-"))
    _downloads.append(folder)
    for path in fs.find(remote):
        fs.get_file(path, str(folder / path.rstrip("/").rsplit("/", 1)[-1]))
    return folder


def monitor(graph, root: Path, model: str, data: str, store) -> dict:
    entry = read_lock(root)["models"].get(model)
    uri = (entry or {}).get("artifact_uri", "")
    remote = "://" in uri and not uri.startswith("file://")
    try:
        return _monitor(graph, root, model, data, store)
    finally:
        if remote:  # the downloaded copy of a remote package is ours to remove
            import shutil

            for folder in _downloads:
                shutil.rmtree(folder, ignore_errors=True)
            _downloads.clear()


_downloads: list[Path] = []


def _monitor(graph, root: Path, model: str, data: str, store) -> dict:
    pipeline = graph.model(model)
    if pipeline is None:
        raise RunError(f"no model named `{model}`")
    entry = read_lock(root)["models"].get(model)
    if entry is None:
        raise RunError(f"`{model}` has no promoted version in charter.lock", hint=f"run `charter run {model}` first")
    folder = _local_artifact(entry["artifact_uri"], root)
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

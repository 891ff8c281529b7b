"""Evaluate: metrics overall and per slice after guardrails, business metrics, and the training profile.

The training profile is what drift checks compare new data against.

The positive class of a binary task is `True` for a boolean target, `1` for 0/1 labels, and
otherwise the last label in sorted order (documented in docs/runtime.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from compiler.execute.expressions import to_polars
from compiler.execute.train import target, to_pandas


def _positive(classes: np.ndarray):
    values = list(classes)
    for candidate in (True, 1, "1", "true", "yes"):
        if any(v is candidate or (type(v) is type(candidate) and v == candidate) for v in values):
            return next(v for v in values if type(v) is type(candidate) and v == candidate)
    return values[-1]


def _metric(name: str, y, pred, proba, classes, positive) -> float | None:
    from sklearn import metrics as m

    try:
        if name in ("accuracy", "balanced_accuracy"):
            return float(getattr(m, f"{name}_score")(y, pred))
        if name in ("precision", "recall", "f1"):
            return float(getattr(m, f"{name}_score")(y, pred, pos_label=positive, zero_division=0))
        if name.endswith(("_macro", "_weighted")):
            base, avg = name.rsplit("_", 1)
            return float(getattr(m, f"{base}_score")(y, pred, average=avg, zero_division=0))
        if proba is not None and name in ("roc_auc", "average_precision", "brier_score", "log_loss", "roc_auc_ovr"):
            if name == "log_loss":
                return float(m.log_loss(y, proba, labels=classes))
            if name == "roc_auc_ovr":
                return float(m.roc_auc_score(y, proba, multi_class="ovr", labels=classes))
            p = proba[:, list(classes).index(positive)]
            truth = np.asarray([v == positive for v in y])
            if name == "brier_score":
                return float(m.brier_score_loss(truth, p))
            if len(set(truth.tolist())) < 2:
                return None  # undefined on a single class
            return float(m.roc_auc_score(truth, p) if name == "roc_auc" else m.average_precision_score(truth, p))
        y = np.asarray(y, dtype=float)
        pred = np.asarray(pred, dtype=float)
        regression = {
            "mae": lambda: m.mean_absolute_error(y, pred),
            "mse": lambda: m.mean_squared_error(y, pred),
            "rmse": lambda: math.sqrt(m.mean_squared_error(y, pred)),
            "r2": lambda: m.r2_score(y, pred),
            "mape": lambda: m.mean_absolute_percentage_error(y, pred),
            "median_absolute_error": lambda: m.median_absolute_error(y, pred),
            "explained_variance": lambda: m.explained_variance_score(y, pred),
        }
        return float(regression[name]()) if name in regression and len(y) > 1 else None
    except ValueError:
        return None  # e.g. a slice holding one class only: reported as "not computable"


def _mask(df: pl.DataFrame, text: str) -> np.ndarray:
    return df.select(to_polars(text).fill_null(False).alias("m")).get_column("m").to_numpy().astype(bool)


def evaluate(pipeline, test: pl.DataFrame, train: pl.DataFrame, params: dict, train_params: dict) -> tuple[dict, dict]:
    """Returns (metrics document, training profile)."""
    task = params["task"]
    X = to_pandas(test, train_params)
    y = target(test, train_params)
    pred = pipeline.predict(X)
    classes: Any = getattr(pipeline, "classes_", None)  # a classifier's labels; scikit-learn is untyped
    proba = pipeline.predict_proba(X) if task != "regression" and hasattr(pipeline, "predict_proba") else None
    positive = _positive(classes) if task == "binary_classification" else None
    guardrails = {}
    for g in params["guardrails"]:
        hit = _mask(test, g["when"])
        value = _label(g["predict"], classes, task)
        pred = np.where(hit, value, pred) if task == "regression" else _assign(pred, hit, value)
        if proba is not None:
            proba = proba.copy()
            proba[hit] = 0.0
            if value in list(classes):
                proba[hit, list(classes).index(value)] = 1.0
        guardrails[g["name"]] = int(hit.sum())
    names = params["metrics"]
    overall = {n: _metric(n, y, pred, proba, classes, positive) for n in names}
    slices = {}
    for s in params["slices"]:
        hit = _mask(test, s["where"])
        sub_proba = proba[hit] if proba is not None else None
        slices[s["name"]] = {"rows": int(hit.sum()),
                             "metrics": {n: _metric(n, y[hit], pred[hit], sub_proba, classes, positive) if hit.any()
                                         else None for n in names}}  # fmt: skip
    counts = _counts(task, y, pred, positive)
    business = {b["name"]: _business(b["expression"], counts) for b in params["business"]}
    doc = {"task": task, "rows": {"train": train.height, "test": test.height}, "metrics": overall,
           "slices": slices, "guardrails": guardrails, "business": business, "counts": counts,
           "positive_label": _jsonable(positive)}  # fmt: skip
    return doc, profile(train, params["profile"])


def _label(value, classes, task):
    if task == "regression" or classes is None:
        return value
    for c in classes:  # match the spec's literal to the label type the model learned
        if c == value or str(c).lower() == str(value).lower():
            return c
    return value


def _assign(pred: np.ndarray, hit: np.ndarray, value) -> np.ndarray:
    out = pred.copy()
    out[hit] = value
    return out


def _counts(task: str, y, pred, positive) -> dict:
    n = len(y)
    if task == "binary_classification":
        t = np.asarray([v == positive for v in y])
        p = np.asarray([v == positive for v in pred])
        tp, fp = int((t & p).sum()), int((~t & p).sum())
        tn, fn = int((~t & ~p).sum()), int((t & ~p).sum())
        return {"n": n, "tp": tp, "fp": fp, "tn": tn, "fn": fn, "positives": tp + fn, "negatives": tn + fp,
                "predicted_positives": tp + fp}  # fmt: skip
    if task == "multiclass_classification":
        correct = int(sum(a == b for a, b in zip(y, pred, strict=True)))
        return {"n": n, "correct": correct, "errors": n - correct}
    err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
    return {"n": n, "sum_error": float(err.sum()), "sum_abs_error": float(np.abs(err).sum()),
            "sum_squared_error": float((err**2).sum()), "mean_prediction": float(np.mean(pred)),
            "mean_target": float(np.mean(y))}  # fmt: skip


def _business(expression: str, counts: dict) -> float | None:
    frame = pl.DataFrame({k: [float(v)] for k, v in counts.items()})
    value = frame.select(to_polars(expression).alias("v")).item()
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


def _jsonable(value):
    return value.item() if hasattr(value, "item") else value


def profile(train: pl.DataFrame, params: dict, bins: int = 10, sample: int = 5000) -> dict:
    """Reference distribution per feature, for the drift checks.

    Quantile bins (PSI) and a sample (KS) for numbers, category frequencies for text.
    """
    features: dict[str, dict] = {}
    for name in params["features"]:
        kind = params["types"][name]
        col = train.get_column(name).drop_nulls()
        if kind in ("integer", "float", "date", "datetime"):
            values = col.cast(pl.Datetime("us")).dt.epoch("s") if kind in ("date", "datetime") else col
            values = values.cast(pl.Float64).sort()
            if values.len() == 0:
                features[name] = {"type": "numeric", "edges": [], "fractions": [], "sample": []}
                continue
            qs = np.unique(np.quantile(values.to_numpy(), np.linspace(0, 1, bins + 1)))
            edges = [float(e) for e in qs[1:-1]]
            idx = np.searchsorted(edges, values.to_numpy(), side="right")
            fractions = np.bincount(idx, minlength=len(edges) + 1) / values.len()
            step = max(1, values.len() // sample)
            features[name] = {"type": "numeric", "edges": edges, "fractions": [float(f) for f in fractions],
                              "sample": [float(v) for v in values.to_numpy()[::step][:sample]]}  # fmt: skip
        else:
            freq = col.cast(pl.String).value_counts(sort=True, name="n")
            total = max(1, int(freq.get_column("n").sum()))
            features[name] = {"type": "categorical",
                              "fractions": {str(r[0]): r[1] / total for r in freq.sort([pl.col("n"), pl.col(name)],
                                                                                     descending=[True, False]).rows()}}
    return {"rows": train.height, "features": features}

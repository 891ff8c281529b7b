"""Evaluate: metrics overall and per slice after guardrails, business metrics, and the training profile.

The training profile is what drift checks compare new data against.

The positive class of a binary task is the Model's `positive_label` when given, else `True`
for a boolean target, `1` for 0/1 labels, and otherwise the last label in sorted order
(documented in docs/runtime.md).

A metric that cannot be computed (a slice without rows or with one class, a library warning
such as scikit-learn's `UndefinedMetricWarning`, a non-finite result) is `None` with a reason
in `not_computable`, the same way for every task: no NaN or infinity ever reaches JSON.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import polars as pl

from compiler.execute.errors import DataError
from compiler.execute.expressions import to_polars
from compiler.execute.failure import RunError
from compiler.execute.predict import Prediction, spec_label
from compiler.execute.train import reason, target

_AVERAGED = re.compile(r"(precision|recall|f1)_(macro|micro|weighted)\Z")
_MULTI_AUC = re.compile(r"roc_auc_(ovr|ovo)(?:_(weighted))?\Z")
TINY_SLICE = 30  # test rows below which a slice's metrics are flagged as noisy


def _positive(classes, declared=None):
    values = list(classes)
    if declared is not None:
        found = spec_label(declared, classes, "binary_classification")
        if not any(type(v) is type(found) and v == found for v in values):
            raise DataError(f"`positive_label` `{declared}` is not a label of the training data",
                            hint="labels seen: " + ", ".join(f"`{v}`" for v in values))
        return found
    for candidate in (True, 1, "1", "true", "yes"):
        if any(v is candidate or (type(v) is type(candidate) and v == candidate) for v in values):
            return next(v for v in values if type(v) is type(candidate) and v == candidate)
    return values[-1]


def _metric(name: str, y, pred, proba, classes, positive) -> tuple[float | None, str | None]:
    """(value, None), or (None, why it cannot be computed)."""
    if len(y) == 0:
        return None, "no rows"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = _compute(name, y, pred, proba, classes, positive)
        except ValueError as exc:  # e.g. a slice holding one class only
            return None, _reason(str(exc))
    if isinstance(value, str):
        return None, value
    if caught:
        return None, _reason(str(caught[0].message))
    if value is None or not math.isfinite(value):
        return None, "the result is not a finite number"
    return value, None


_ILL_DEFINED = re.compile(r"(\w[\w-]*) is ill-defined and (?:being )?set to \S+ (?:in labels with no|due to no) "
                          r"([^.]+)")


def _reason(text: str) -> str:
    # In the user's terms: "precision is undefined: no predicted samples", not the library's
    # advice on its own parameters (`zero_division`, `labels=`).
    if ill := _ILL_DEFINED.search(text):
        return f"{ill.group(1).lower()} is undefined: no {ill.group(2).strip()}"
    first = re.split(r"\.\s|\n", text.strip())[0].rstrip(".")
    return first[:200] or "cannot be computed"


def _compute(name: str, y, pred, proba, classes, positive) -> float | str | None:
    from sklearn import metrics as m

    if name in ("accuracy", "balanced_accuracy"):
        return float(getattr(m, f"{name}_score")(y, pred))
    if name in ("precision", "recall", "f1"):
        return float(getattr(m, f"{name}_score")(y, pred, pos_label=positive, zero_division="warn"))
    if averaged := _AVERAGED.match(name):
        base, avg = averaged.groups()
        return float(getattr(m, f"{base}_score")(y, pred, average=avg, labels=list(classes), zero_division="warn"))
    auc = _MULTI_AUC.match(name)
    if auc or name in ("roc_auc", "average_precision", "brier_score", "log_loss"):
        if proba is None:
            return "the estimator gives no probabilities"
        if name == "log_loss":
            return float(m.log_loss(y, proba, labels=classes))
        if auc:
            present = set(np.asarray(y).tolist())
            if len(present) < len(classes):
                return f"{len(classes) - len(present)} class(es) missing from these rows"
            return float(m.roc_auc_score(y, proba, multi_class=auc.group(1), average=auc.group(2) or "macro",
                                         labels=classes))
        p = proba[:, list(classes).index(positive)]
        truth = equal_to(y, positive)
        if name == "brier_score":
            return float(m.brier_score_loss(truth, p))
        if len(set(truth.tolist())) < 2:
            return "only one class in these rows"
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
    if name in ("r2", "explained_variance") and len(y) < 2:
        return "needs at least two rows"
    return float(regression[name]()) if name in regression else f"unknown metric `{name}`"


def _mask(df: pl.DataFrame, text: str) -> np.ndarray:
    return df.select(to_polars(text).fill_null(False).alias("m")).get_column("m").to_numpy().astype(bool)


def evaluate(predictor, test: pl.DataFrame, train: pl.DataFrame, params: dict,
             windows: list | None = None) -> tuple[dict, dict, Prediction]:
    """Returns (metrics document, training profile, the test set's predictions).

    The predictions come from the same `Predictor` that serves the model: one pass of the
    pipeline, then the guardrails, so the gates measure what is deployed. `windows` (the
    `WindowSet`s of compiler.execute.windows) are scored by the same code, each on its own.
    """
    task = params["task"]
    served = _predict(predictor, test, "the test set")
    doc = score(params, test, target(test, predictor.spec["train"]), served)
    doc["rows"] = {"train": train.height, "test": test.height}
    if windows:
        doc["windows"] = {w.name: _window(predictor, params, w) for w in windows}
    reference = profile(train, params["profile"])
    kind = "float" if task == "regression" else "string"  # the served predictions' reference
    reference["target"] = profile(train.select(params["target"]), {"features": [params["target"]],
                                                                  "types": {params["target"]: kind}})["features"][
        params["target"]]
    return doc, reference, served


def _predict(predictor, frame: pl.DataFrame, what: str) -> Prediction:
    try:
        return predictor.predict(frame)
    except (ValueError, TypeError, ArithmeticError) as exc:  # a refusal is a failed step, exit 1
        raise RunError(f"evaluation failed: the model cannot predict {what}: {reason(exc)}",
                       hint="these rows differ from the training rows in a way the estimator refuses; check "
                            "the data and the preprocessing", exit_code=1) from None


def _window(predictor, params: dict, found) -> dict:
    """One window's metrics document: `score` of its rows, with its bounds and row count."""
    from compiler.execute import windows

    window = next(w for w in params["windows"] if w["name"] == found.name)
    own = {**params, "slices": params["slices"] if window.get("slices", True) else []}
    if found.frame.height == 0:
        doc = windows.empty(own, bool(own["slices"]))
    else:
        served = _predict(predictor, found.frame, f"window `{found.name}`")
        doc = score(own, found.frame, target(found.frame, predictor.spec["train"]), served)
        for drop in ("task", "positive_label", "counts"):
            doc.pop(drop)
    return {**doc, **windows.describe(window, found)}


def score(params: dict, frame: pl.DataFrame, y, served: Prediction) -> dict:
    """The metrics document of predictions `served` for the rows of `frame` with labels `y`.

    The evaluate step scores the test set; `charter monitor --predictions` scores the logged
    live predictions joined with their outcomes.
    """
    task = params["task"]
    pred, proba, classes = served.labels, served.proba, served.classes
    positive = _positive(classes, params.get("positive_label")) if task == "binary_classification" else None
    names = params["metrics"]
    overall, why = _metrics(names, y, pred, proba, classes, positive)
    slices = {}
    for s in params["slices"]:
        hit = _mask(frame, s["where"]) if all(c in frame.columns for c in _names(s["where"])) else None
        if hit is None:
            slices[s["name"]] = {"rows": 0, "metrics": dict.fromkeys(names), "not_computable": dict.fromkeys(
                names, "a column of the slice is not in these rows")}
            continue
        sub_proba = proba[hit] if proba is not None else None
        values, reasons = _metrics(names, y[hit], pred[hit], sub_proba, classes, positive)
        slices[s["name"]] = {"rows": int(hit.sum()), "metrics": values, "not_computable": reasons}
    counts = _counts(task, y, pred, positive)
    business = {b["name"]: _business(b["expression"], counts) for b in params["business"]}
    return {"task": task, "rows": {"scored": frame.height}, "metrics": overall, "not_computable": why,
            "slices": slices, "guardrails": served.overrides, "business": business, "counts": counts,
            "positive_label": _jsonable(positive)}  # fmt: skip


def _names(text: str) -> set[str]:
    from compiler import expr

    return expr.names(text)


def _metrics(names, y, pred, proba, classes, positive) -> tuple[dict, dict]:
    values, reasons = {}, {}
    for n in names:
        values[n], why = _metric(n, y, pred, proba, classes, positive)
        if why is not None:
            reasons[n] = why
    return values, reasons


def slice_warnings(metrics: dict) -> list[str]:
    """One line per slice with no test rows or fewer than TINY_SLICE, with its row count."""
    return [f"slice `{name}` has {'no' if not s['rows'] else 'only ' + str(s['rows'])} test row(s)"
            for name, s in sorted(metrics["slices"].items()) if s["rows"] < TINY_SLICE]


def equal_to(values, value) -> np.ndarray:
    """`[v == value for v in values]` as a boolean array, vectorised (Python's `==` on object arrays)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "OUS" or isinstance(value, str):
        arr = arr.astype(object)
    out = arr == value
    if np.ndim(out) == 0:  # numpy declined to compare elementwise: do what the list did
        return np.fromiter((v == value for v in arr), dtype=bool, count=len(arr))
    return np.asarray(out, dtype=bool)


def _elementwise_equal(a, b) -> np.ndarray:
    left, right = np.asarray(a), np.asarray(b)
    if left.dtype != right.dtype:
        left, right = left.astype(object), right.astype(object)
    out = left == right
    if np.ndim(out) == 0:
        return np.fromiter((x == y for x, y in zip(left, right, strict=True)), dtype=bool, count=len(left))
    return np.asarray(out, dtype=bool)


def _counts(task: str, y, pred, positive) -> dict:
    n = len(y)
    if task == "binary_classification":
        t, p = equal_to(y, positive), equal_to(pred, positive)
        tp, fp = int((t & p).sum()), int((~t & p).sum())
        tn, fn = int((~t & ~p).sum()), int((t & ~p).sum())
        return {"n": n, "tp": tp, "fp": fp, "tn": tn, "fn": fn, "positives": tp + fn, "negatives": tn + fp,
                "predicted_positives": tp + fp}  # fmt: skip
    if task == "multiclass_classification":
        correct = int(_elementwise_equal(y, pred).sum())
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

"""Split and train: from the validated table to a fitted scikit-learn Pipeline.

The estimator class is looked up in scikit-learn's own registry (`all_estimators`), never
imported from an arbitrary path, and the pipeline is seeded everywhere so that two runs on
the same data give the same model and the same metrics.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import polars as pl

from compiler.execute.failure import RunError


def split(df: pl.DataFrame, params: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train/test split by `method` (random, stratified, time), deterministic for a seed."""
    target = params["target"]
    df = df.filter(pl.col(target).is_not_null())
    n = df.height
    n_test = int(round(n * params["test_size"]))
    if n < 4 or n_test < 1 or n - n_test < 2:
        raise RunError(f"{n} labelled rows are too few to split with test_size {params['test_size']}",
                       hint="at least 4 labelled rows, with one for the test set and two for training", exit_code=1)
    if params["method"] == "time":
        ordered = df.with_row_index("__row").sort([params["time_column"], "__row"])
        return ordered.head(n - n_test).drop("__row"), ordered.tail(n_test).drop("__row")
    from sklearn.model_selection import train_test_split

    stratify = None
    if params["method"] == "stratified" or params.get("stratify"):
        labels = df.get_column(target).to_numpy()
        _, counts = np.unique(labels.astype(str), return_counts=True)
        if counts.min() < 2:
            raise RunError(f"cannot stratify on `{target}`: a class has a single row",
                           hint="use `method: random`, or collect more data for that class", exit_code=1)
        stratify = labels
    index = np.arange(n)
    train_idx, test_idx = train_test_split(index, test_size=n_test, random_state=params["seed"], stratify=stratify)
    return df[np.sort(train_idx)], df[np.sort(test_idx)]


def estimator_class(path: str):
    """The scikit-learn class at a public path the estimator catalog lists (what validate checked).

    The catalog names the public path, so only that module is imported: scikit-learn's own
    registry (`all_estimators`) imports every scikit-learn module, 0.4 s of each run.
    """
    from sklearn.base import BaseEstimator

    from compiler.catalog import estimator

    module_name, _, class_name = path.rpartition(".")
    if estimator(path) is None or not module_name.startswith("sklearn."):
        raise RunError(f"`{path}` is not a scikit-learn estimator")
    try:
        cls = getattr(importlib.import_module(module_name), class_name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise RunError(f"`{path}` is not a scikit-learn estimator of the installed scikit-learn",
                       hint="install the scikit-learn that requirements/constraints.txt pins")
    return cls


CONSOLIDATE_ROWS = 4096  # from this many rows, the feature frame is one block per dtype


def to_pandas(df: pl.DataFrame, params: dict) -> pd.DataFrame:
    """Feature frame for scikit-learn: numbers as float, dates as epoch seconds, text as object.

    Built column by column from numpy arrays, not through `DataFrame.to_pandas` (Arrow), whose
    fixed cost is most of a one-row request's (the server predicts with this too).
    """
    columns: dict[str, np.ndarray] = {}  # Series operations: eager, without a query plan per call
    for c in params["numeric"]:
        columns[c] = df.get_column(c).cast(pl.Float64).to_numpy()  # nulls become NaN
    for c in params["temporal"]:
        columns[c] = df.get_column(c).cast(pl.Datetime("us")).dt.epoch("s").cast(pl.Float64).to_numpy()
    for c in params["categorical"]:
        # SimpleImputer and the encoders want np.nan for missing text, not None or pandas' NA.
        values = np.asarray(df.get_column(c).cast(pl.String).to_list(), dtype=object)
        values[pd.isna(values)] = np.nan
        columns[c] = values
    # A large frame is made one block per dtype (copy=True consolidates): scikit-learn then fits
    # faster (HistGradientBoosting on 800,000 rows: 4.1-4.3 s -> 3.7 s, for 0.07 s of copying).
    # A request's few rows skip the copy (20 us of a one-row frame's 55).
    return pd.DataFrame({c: columns[c] for c in params["features"]}, index=pd.RangeIndex(df.height),
                        copy=df.height >= CONSOLIDATE_ROWS)


def target(df: pl.DataFrame, params: dict) -> np.ndarray:
    y = df.get_column(params["target"])
    if params["task"] == "regression":
        return y.cast(pl.Float64).to_numpy()
    return y.to_numpy()


def build_pipeline(params: dict):
    """ColumnTransformer (impute, scale, encode) + the declared estimator, seeded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

    prep = params["preprocessing"]
    numeric_steps = []
    if prep["numeric"]["impute"] != "none":
        numeric_steps.append(("impute", SimpleImputer(strategy=prep["numeric"]["impute"])))
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}.get(prep["numeric"]["scale"])
    if scaler is not None:
        numeric_steps.append(("scale", scaler()))
    categorical_steps = []
    cat = prep["categorical"]
    if cat["impute"] != "none":
        categorical_steps.append(("impute", SimpleImputer(strategy=cat["impute"], fill_value="missing")))
    if cat["encode"] == "onehot":
        categorical_steps.append(("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False,
                                                          max_categories=cat.get("max_categories"))))
    else:
        categorical_steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
    numeric = [*params["numeric"], *params["temporal"]]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps) if numeric_steps else "passthrough", numeric))
    if params["categorical"]:
        transformers.append(("categorical", Pipeline(categorical_steps), params["categorical"]))
    cls = estimator_class(params["estimator"]["class"])
    kwargs = dict(params["estimator"]["params"])
    if "random_state" in cls().get_params() and "random_state" not in kwargs:
        kwargs["random_state"] = 0  # seeded everywhere: same data, same model
    return Pipeline([("prepare", ColumnTransformer(transformers, remainder="drop")), ("model", cls(**kwargs))])


def fit(train: pl.DataFrame, params: dict):
    """The fitted pipeline; a fit the data cannot support is a failed step (exit 1), not a traceback."""
    pipeline = build_pipeline(params)
    y = target(train, params)
    if params["task"] != "regression":
        present = set(y.tolist())  # distinct values first, in C: the labels are few, the rows many
        classes = sorted({str(v).lower() if isinstance(v, bool) else str(v) for v in present if v is not None})
        if len(classes) < 2:
            raise RunError(f"training failed: the target `{params['target']}` has a single class "
                           f"({', '.join(f'`{c}`' for c in classes) or 'none'}) in the {train.height} training rows",
                           hint="a classifier needs rows of at least two classes: check the data and the prepare "
                                "steps that filter it", exit_code=1)
    try:
        pipeline.fit(to_pandas(train, params), y)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise RunError(f"training failed: {reason(exc)}",
                       hint="scikit-learn refused to fit: check the estimator's `params` together, and the training "
                            "data", exit_code=1) from None
    return pipeline


def reason(exc: Exception) -> str:
    """scikit-learn's first line, trimmed: it says what is wrong with the data in its own terms."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"

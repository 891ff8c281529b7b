"""The predictor: rows in, predictions out, the same code for the evaluate step and the server.

A `Predictor` holds a fitted pipeline and its *contract* (`predictor.json` in the package):
the input columns (the DataSource schema after the declared cleaning: names, types,
nullability, allowed category values), the Model's guardrails, the task and the positive
label. `predict` takes a typed polars frame, runs the pipeline once and applies the
guardrails in declaration order (a later guardrail wins where two match), exactly as the
gates were measured. `frame` turns request rows (JSON records, or lists in the contract's
column order) into that typed frame, and refuses what the contract does not allow with a
`RequestError` that names the row and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from compiler import expr as language
from compiler.execute.expressions import to_polars
from compiler.execute.store import read_json
from compiler.execute.train import to_pandas

CONTRACT_FILE = "predictor.json"
CONTRACT_VERSION = 1
DEFAULT_MAX_ROWS = 10_000

# scikit-learn classifiers whose `predict` is `classes_[argmax(predict_proba)]`: for them one
# `predict_proba` pass gives both the labels and the probabilities (tests/test_predict.py checks
# each against `predict`). Others (SVC's Platt scaling, for one) are asked for both.
_ARGMAX = frozenset({
    "HistGradientBoostingClassifier", "GradientBoostingClassifier", "RandomForestClassifier",
    "ExtraTreesClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier", "LogisticRegression",
    "KNeighborsClassifier", "GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB", "CategoricalNB",
    "MLPClassifier", "AdaBoostClassifier", "BaggingClassifier", "LinearDiscriminantAnalysis",
    "QuadraticDiscriminantAnalysis",
})  # fmt: skip


class RequestError(ValueError):
    """A request the contract refuses: `code` (machine-readable), `row` (0-based) and `field` where."""

    def __init__(self, message: str, *, code: str, row: int | None = None, field: str | None = None,
                 status: int = 400):
        super().__init__(message)
        self.message, self.code, self.row, self.field, self.status = message, code, row, field, status

    def body(self) -> dict:
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.row is not None:
            out["row"] = self.row
        if self.field is not None:
            out["field"] = self.field
        return out


def contract(ingest: dict, prepare: dict, train: dict, evaluate: dict, inputs: dict | None = None) -> dict:
    """The predictor's contract, from the IR steps' params: JSON, written to the package."""
    declared = {c["name"]: c for c in ingest["schema"]}
    types = {c["name"]: c["type"] for c in prepare["schema"]}
    wanted = list(train["features"])
    for g in evaluate["guardrails"]:  # a guardrail may read a column the model does not
        wanted += sorted(n for n in language.names(g["when"]) if n not in wanted and n in types)
    columns = []
    for name in wanted:
        source = declared.get(name, {})
        values = source.get("values") if types[name] == "category" else None
        columns.append({"name": name, "type": types[name], "nullable": bool(source.get("nullable", True)),
                        "values": list(values) if values else None})
    policy = {"unknown_categories": "reject", "max_rows": DEFAULT_MAX_ROWS, **(inputs or {})}
    return {"format_version": CONTRACT_VERSION, "task": evaluate["task"], "target": evaluate["target"],
            "features": list(train["features"]), "inputs": columns,
            "guardrails": [{"name": g["name"], "when": g["when"], "predict": g["predict"]}
                           for g in evaluate["guardrails"]],
            "positive_label": evaluate.get("positive_label"), "policy": policy,
            "train": {k: train[k] for k in ("features", "numeric", "temporal", "categorical", "target", "task")}}


def pipeline_contract(pipeline) -> dict:
    """The contract of an IR model pipeline: what its evaluate step predicts with and its package ships."""
    return contract(pipeline.step("ingest").params, pipeline.step("prepare").params, pipeline.step("train").params,
                    pipeline.step("evaluate").params, pipeline.step("package").params.get("inputs"))


@dataclass
class Prediction:
    """What one pass over a batch gives: labels (after guardrails), probabilities, which guardrail decided."""

    labels: np.ndarray
    proba: np.ndarray | None
    classes: list | None
    decided_by: list[str | None]
    overrides: dict[str, int] = field(default_factory=dict)


class Predictor:
    def __init__(self, pipeline, spec: dict):
        self.pipeline, self.spec = pipeline, spec
        self.task = spec["task"]
        self.columns = spec["inputs"]
        self.by_name = {c["name"]: c for c in self.columns}
        learned = getattr(pipeline, "classes_", None) if self.task != "regression" else None
        self._class_array = np.asarray(learned) if learned is not None else None
        self.classes: list | None = list(learned) if learned is not None else None
        estimator = pipeline[-1] if hasattr(pipeline, "__getitem__") else pipeline
        self._proba = self.task != "regression" and hasattr(pipeline, "predict_proba")
        self._argmax = self._proba and type(estimator).__name__ in _ARGMAX
        self._guards = [(g["name"], to_polars(g["when"]), spec_label(g["predict"], self.classes, self.task))
                        for g in spec["guardrails"]]

    @classmethod
    def load(cls, folder: Path) -> Predictor:
        """The predictor of a package folder: `model.skops` (exact trusted types) and its contract."""
        from compiler.execute.package import load_model

        return cls(load_model(folder), read_json(folder / CONTRACT_FILE))

    # -- prediction --------------------------------------------------------------------------
    def predict(self, frame: pl.DataFrame) -> Prediction:
        X = to_pandas(frame, self.spec["train"])
        proba = None
        if self._argmax and self._class_array is not None:
            proba = self.pipeline.predict_proba(X)
            labels = self._class_array[np.argmax(proba, axis=1)]
        else:
            labels = self.pipeline.predict(X)
            if self._proba:
                proba = self.pipeline.predict_proba(X)
        decided: list[str | None] = [None] * frame.height
        overrides = {}
        hits = frame.select([when.fill_null(False).alias(f"g{i}") for i, (_, when, _) in enumerate(self._guards)]) \
            if self._guards else None  # one pass of polars for every guardrail
        for i, (name, _, value) in enumerate(self._guards):
            assert hits is not None
            hit = hits.get_column(f"g{i}").to_numpy().astype(bool)
            if self.task == "regression":
                labels = np.where(hit, value, labels)
            else:
                labels = labels.copy()
                labels[hit] = value
            if proba is not None:
                proba = proba.copy()
                proba[hit] = 0.0
                if self.classes is not None and value in self.classes:
                    proba[hit, self.classes.index(value)] = 1.0
            for row in np.flatnonzero(hit).tolist():
                decided[row] = name
            overrides[name] = int(hit.sum())
        return Prediction(labels, proba, self.classes, decided, overrides)

    # -- requests ----------------------------------------------------------------------------
    def frame(self, rows: Any) -> pl.DataFrame:
        """A typed frame from request rows: a list of records, or of lists in `inputs` order."""
        if not isinstance(rows, list):
            raise RequestError("`instances` must be a list of rows", code="wrong_shape")
        if not rows:
            raise RequestError("the request holds no rows", code="no_rows")
        limit = self.spec["policy"]["max_rows"]
        if len(rows) > limit:
            raise RequestError(f"the request holds {len(rows)} rows; this model accepts at most {limit} per request",
                               code="too_many_rows", status=413)
        names = [c["name"] for c in self.columns]
        data: dict[str, list] = {n: [] for n in names}
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                unknown = [k for k in row if k not in self.by_name]
                if unknown:
                    raise RequestError(f"row {i}: unknown column `{unknown[0]}`", code="unknown_column", row=i,
                                       field=str(unknown[0]))
                for n in names:
                    if n not in row:
                        raise RequestError(f"row {i}: missing column `{n}`", code="missing_column", row=i, field=n)
                    data[n].append(row[n])
            elif isinstance(row, list):
                if len(row) != len(names):
                    raise RequestError(f"row {i}: {len(row)} values, but the model takes {len(names)} in this order: "
                                       + ", ".join(names), code="wrong_shape", row=i)
                for n, v in zip(names, row, strict=True):
                    data[n].append(v)
            else:
                raise RequestError(f"row {i}: a row is an object of column values or a list in input order",
                                   code="wrong_shape", row=i)
        return self.columns_frame(data)

    def columns_frame(self, data: dict[str, list], partial: bool = False) -> pl.DataFrame:
        """A typed frame from one list of values per input column (the V2 protocol's tensors).

        `partial`: columns missing from `data` are left out (a prediction log without its
        sensitive columns) instead of refused.
        """
        series = []
        for c in self.columns:
            values = data.get(c["name"])
            if values is None and partial:
                continue
            if values is None:
                raise RequestError(f"missing input `{c['name']}`", code="missing_column", field=c["name"])
            dtype: Any = _DTYPES[c["type"]]
            checked = values if self._plain(c, values) else [self._value(c, v, i) for i, v in enumerate(values)]
            series.append(pl.Series(c["name"], checked, dtype=dtype))
        heights = {s.len() for s in series}
        if len(heights) > 1:
            raise RequestError("the inputs hold different numbers of rows", code="wrong_shape")
        return pl.DataFrame(series)

    def _plain(self, column: dict, values: list) -> bool:
        """Whether every value is already what the column takes (then no per-value check is needed).

        The common case of a well-formed request, decided with set operations; anything else
        goes through `_value`, which says what is wrong and where.
        """
        kinds = set(map(type, values))
        kind = column["type"]
        if type(None) in kinds:
            if not column["nullable"]:
                return False
            kinds.discard(type(None))
        wanted = _EXACT.get(kind)
        if wanted is None or not kinds <= wanted:
            return False
        if kind == "float":
            present = [v for v in values if v is not None]
            if not all(map(math.isfinite, present)):
                return False
        if column["values"] is not None and self.spec["policy"]["unknown_categories"] == "reject":
            return set(values) - {None} <= set(column["values"])
        return True

    def _value(self, column: dict, value: Any, row: int):
        name, kind = column["name"], column["type"]
        if value is None:
            if not column["nullable"]:
                raise RequestError(f"row {row}: `{name}` may not be null", code="null_not_allowed", row=row, field=name)
            return None
        ok = _CHECK[kind](value)
        if ok is _BAD:
            raise RequestError(f"row {row}: `{name}` must be {_WORDS[kind]}, got {_shown(value)}", code="wrong_type",
                               row=row, field=name)
        if column["values"] is not None and ok not in column["values"]:
            if self.spec["policy"]["unknown_categories"] == "reject":
                raise RequestError(f"row {row}: `{name}` is {_shown(value)}, not one of "
                                   + ", ".join(f"`{v}`" for v in column["values"]),
                                   code="unknown_category", row=row, field=name)
        return ok

    def example(self) -> pl.DataFrame:
        """One typed row of plausible values (a declared category, zeros), to warm a server up."""
        values = {"integer": 0, "float": 0.0, "boolean": False, "string": "", "category": "",
                  "date": date(2000, 1, 1), "datetime": datetime(2000, 1, 1)}  # fmt: skip
        return pl.DataFrame([pl.Series(c["name"], [c["values"][0] if c["values"] else values[c["type"]]],
                                       dtype=_DTYPES[c["type"]]) for c in self.columns])

    def metadata(self) -> dict:
        """Input and output names and datatypes, as the Open Inference Protocol's model metadata names them."""
        inputs = [{"name": c["name"], "datatype": V2_TYPES[c["type"]], "shape": [-1]} for c in self.columns]
        outputs = [{"name": "predict", "datatype": self.output_type(), "shape": [-1]},
                   {"name": "guardrail", "datatype": "BYTES", "shape": [-1]}]
        outputs += [{"name": f"probability_{label_text(c)}", "datatype": "FP64", "shape": [-1]}
                    for c in self.classes or []]
        return {"inputs": inputs, "outputs": outputs}

    def output_type(self) -> str:
        if self.task == "regression":
            return "FP64"
        kinds = {type(_plain(c)) for c in self.classes or []}
        return "BOOL" if kinds == {bool} else "INT64" if kinds == {int} else "BYTES"


_BAD = object()
# The Python types a column takes as they are (bool is not an int here: `type` is exact).
_EXACT: dict[str, set] = {"integer": {int}, "float": {float, int}, "boolean": {bool}, "string": {str},
                          "category": {str}}
_DTYPES: dict[str, Any] = {"integer": pl.Int64, "float": pl.Float64, "boolean": pl.Boolean, "string": pl.String,
           "category": pl.String, "date": pl.Date, "datetime": pl.Datetime("us")}  # fmt: skip
V2_TYPES = {"integer": "INT64", "float": "FP64", "boolean": "BOOL", "string": "BYTES", "category": "BYTES",
            "date": "BYTES", "datetime": "BYTES"}  # fmt: skip
_WORDS = {"integer": "an integer", "float": "a number", "boolean": "true or false", "string": "a string",
          "category": "a string", "date": "a date (YYYY-MM-DD)", "datetime": "a timestamp (ISO 8601)"}  # fmt: skip


def _integer(v):
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():  # 3.0, as many JSON writers put 3
        return int(v)
    return v if isinstance(v, int) and not isinstance(v, bool) else _BAD


def _float(v):
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return _BAD
    return float(v)


def _date(v):
    if not isinstance(v, str) or len(v) != 10:
        return _BAD
    try:
        return date.fromisoformat(v)
    except ValueError:
        return _BAD


def _datetime(v):
    if not isinstance(v, str):
        return _BAD
    try:
        parsed = datetime.fromisoformat(v)
    except ValueError:
        return _BAD
    if parsed.tzinfo is not None:  # as ingest does: the wall time in UTC, without the zone
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _text(v):
    return v if isinstance(v, str) else _BAD


_CHECK = {"integer": _integer, "float": _float, "boolean": lambda v: v if isinstance(v, bool) else _BAD,
          "string": _text, "category": _text, "date": _date, "datetime": _datetime}  # fmt: skip


def _shown(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def label_text(value) -> str:
    value = _plain(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec_label(value, classes, task):
    """The spec's literal as the label type the model learned (`false` for a boolean target...)."""
    if task == "regression" or not classes:
        return value
    for c in classes:
        if c == value or str(c).lower() == str(value).lower():
            return c
    return value


def jsonable(value):
    """A numpy scalar as the plain JSON value."""
    return _plain(value)

"""`Model`: what to learn from which data, with which scikit-learn estimator."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from compiler.spec.base import Column, Document, Duration, Name, Strict
from compiler.spec.compute import Compute

Task = Literal["binary_classification", "multiclass_classification", "regression"]


class DataRef(Strict):
    """Which data trains the model."""

    source: Name = Field(description="DataSource to train on.")
    validation: Name | None = Field(None, description="ValidationSuite applied before training.")
    target: Column = Field(description="Column to predict.")
    features: list[Column] | None = Field(
        None, min_length=1, description="Columns to use (default: every column but the target and `exclude`)."
    )
    exclude: list[Column] = Field(default_factory=list, description="Columns never used as features (ids, leaks).")


class Split(Strict):
    """How rows are split into training and test sets."""

    method: Literal["random", "stratified", "time"] = Field("random", description="Split method.")
    test_size: float = Field(0.2, gt=0, lt=1, description="Share of rows held out for evaluation.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed; the same seed gives the same split.")
    stratify: bool = Field(False, description="Keep class proportions (classification only).")
    time_column: Column | None = Field(None, description="Ordering column, for `method: time`.")

    @model_validator(mode="after")
    def _time(self) -> Split:
        if self.method == "time" and self.time_column is None:
            raise PydanticCustomError("charter_option", "a `time` split needs `time_column`")
        if self.method != "time" and self.time_column is not None:
            raise PydanticCustomError("charter_option", "`time_column` applies only to `method: time`")
        return self


class NumericPrep(Strict):
    """Preprocessing of numeric features."""

    impute: Literal["mean", "median", "most_frequent", "constant", "none"] = "median"
    scale: Literal["standard", "minmax", "robust", "none"] = "none"


class CategoricalPrep(Strict):
    """Preprocessing of string, category and boolean features."""

    impute: Literal["most_frequent", "constant", "none"] = "most_frequent"
    encode: Literal["onehot", "ordinal"] = "onehot"
    max_categories: int | None = Field(None, ge=2, le=10000, description="Rarer categories fold into one.")


class Preprocessing(Strict):
    """Feature preprocessing, compiled to a scikit-learn ColumnTransformer."""

    numeric: NumericPrep = Field(default_factory=NumericPrep)
    categorical: CategoricalPrep = Field(default_factory=CategoricalPrep)


class Estimator(Strict):
    """A scikit-learn estimator by its public import path, and its constructor parameters.
    Parameters are checked against the estimator's own constraints when the spec is validated.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    class_: str = Field(alias="class", min_length=1, max_length=200,
                        description="e.g. `sklearn.linear_model.LogisticRegression`.")
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor parameters.")


class Slice(Strict):
    """A named subset of rows, evaluated separately (`where` is an expression)."""

    name: Name
    where: str = Field(min_length=1, max_length=2000)


class Window(Strict):
    """A named evaluation set besides the split's test set, scored by the same predictor.

    `last` keeps the held-out rows whose `column` falls in a rolling window ending at the
    newest row (`relative_to: newest`) or at the end of the run's UTC day (`relative_to: run`);
    `source` scores another DataSource, refreshed on its own, as a whole or through `last`.
    """

    name: Name
    last: Duration | None = Field(None, description="Length of the rolling window, e.g. `30d`: rows with "
                                                     "`column` in (end - last, end].")
    column: Column | None = Field(None, description="Date or timestamp column the window is measured on.")
    relative_to: Literal["newest", "run"] = Field(
        "newest", description="Where the window ends: the newest row of the data (`newest`) or the end of the "
                              "run's UTC day (`run`).")
    source: Name | None = Field(None, description="A DataSource scored as this set instead of the held-out rows "
                                                  "(prepared with the model's suite, training-only steps skipped).")
    slices: bool = Field(True, description="Evaluate the model's slices within this set too.")

    @model_validator(mode="after")
    def _kind(self) -> Window:
        if self.last is None and self.source is None:
            raise PydanticCustomError("charter_option", "a window needs `last` (with `column`) or `source`")
        if (self.last is None) != (self.column is None):
            raise PydanticCustomError("charter_option", "`last` and `column` go together")
        if self.last is None and "relative_to" in self.model_fields_set:
            raise PydanticCustomError("charter_option", "`relative_to` applies only to a `last` window")
        return self


class Guardrail(Strict):
    """A business rule that overrides the model: rows matching `when` get `predict`."""

    name: Name
    when: str = Field(min_length=1, max_length=2000)
    predict: str | int | float | bool


class Inputs(Strict):
    """What the served model accepts: `charter serve` and the deployed predictor refuse the rest with a 4xx."""

    unknown_categories: Literal["reject", "accept"] = Field(
        "reject", description="A value outside a category column's declared `values`: `reject` (400, naming the "
        "row and the column) or `accept` (the encoder treats it as an unseen category).")
    max_rows: int = Field(10_000, ge=1, le=1_000_000, description="Rows one request may hold (more: 413).")
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1024**3,
                                   description="Size of a request body in bytes (more: 413, before it is parsed).")


class Retrain(Strict):
    """When the model retrains on its own, besides the merges that change its specs or data.

    A triggered run is the run after a merge: the same data checks and gates, and a promotion
    proposed as the same reviewed change of `charter.lock` and the manifests.
    """

    schedule: str | None = Field(None, description="Cron expression (five fields, UTC), e.g. `0 3 * * 1`: retrain "
                                                   "on this schedule.")
    on_drift: bool = Field(False, description="Retrain when the scheduled monitoring of the model alerts (needs "
                                              "`monitoring` in a MetricSet of the model).")
    on_data_change: bool = Field(
        False, description="Retrain when the training source's data changed since the run in `charter.lock`: its "
                           "file's bytes, or a database source's `watermark` (`charter status --data`), looked at on "
                           "`poll`.")
    poll: str | None = Field(
        None, description="Cron expression (UTC) on which `on_data_change` looks at the data; default `0 * * * *` "
                          "(hourly).")

    @model_validator(mode="after")
    def _some(self) -> Retrain:
        if self.schedule is None and not self.on_drift and not self.on_data_change:
            raise PydanticCustomError("charter_option",
                                      "`retrain` needs a `schedule`, `on_drift: true` or `on_data_change: true`")
        if self.poll is not None and not self.on_data_change:
            raise PydanticCustomError("charter_option", "`poll` applies only to `on_data_change: true`")
        return self

    @property
    def data_poll(self) -> str | None:
        """The cron on which the data is looked at, when the model retrains on a data change."""
        return (self.poll or DEFAULT_POLL) if self.on_data_change else None


DEFAULT_POLL = "0 * * * *"


class Sample(Strict):
    """Train on a seeded sample of the source when it holds more rows than `above` (docs/engines.md).

    The rows are drawn without replacement by position, in proportion to each class of the
    target (classification), with NumPy's frozen legacy generator: the same data and seed give
    the same sample on every machine. The split then divides the sample, so the model is
    evaluated on held-out rows of the sample that it never trained on.
    """

    above: int = Field(ge=1, le=10**12, description="The row budget: a source with at most this many rows is read "
                                                     "whole; a larger one is sampled.")
    rows: int | None = Field(None, ge=2, le=10**12, description="Rows of the sample (default: `above`).")
    fraction: float | None = Field(None, gt=0, lt=1, description="Or the share of the source's rows to sample.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed; the same data and seed give the same sample.")
    stratify: bool | None = Field(
        None, description="Keep the target's class proportions (default: true for classification; regression "
                          "samples uniformly).")

    @model_validator(mode="after")
    def _size(self) -> Sample:
        if self.rows is not None and self.fraction is not None:
            raise PydanticCustomError("charter_option", "give `rows` or `fraction`, not both")
        if self.rows is not None and self.rows > self.above:
            raise PydanticCustomError("charter_option", "`rows` must be at most `above`: a sample larger than the "
                                                        "budget reads more than the whole-source limit it replaces")
        return self


class ModelSpec(Strict):
    """The `spec` of a Model."""

    task: Task = Field(description="binary_classification, multiclass_classification or regression.")
    data: DataRef
    split: Split = Field(default_factory=Split)
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    estimator: Estimator
    slices: list[Slice] = Field(default_factory=list, description="Subsets evaluated separately.")
    windows: list[Window] = Field(
        default_factory=list, description="Named evaluation sets besides the test set: a rolling time window or "
                                          "another DataSource; gates name them with `window` (docs/runtime.md).")
    guardrails: list[Guardrail] = Field(default_factory=list, description="Rules applied after prediction.")
    positive_label: str | int | bool | None = Field(
        None, description="The positive class of a binary model (default: `true` for a boolean target, `1` for 0/1 "
        "labels, else the last label in sorted order); shown in the model card.")
    inputs: Inputs = Field(default_factory=Inputs, description="What the served model accepts (docs/serving.md).")
    compute: Compute | None = Field(
        None, description="How orchestrators run this model's pods (resources, timeout, retries, placement, "
                          "service account, secrets), over charter.yaml's `compute`; never part of a step's hash.")
    retrain: Retrain | None = Field(
        None, description="When the model retrains without a spec change: on a schedule, on a drift alert; never "
                          "part of a step's hash (docs/maturity.md).")
    sample: Sample | None = Field(
        None, description="Train on a seeded, stratified sample when the source is larger than a row budget "
                          "(docs/engines.md#training-on-a-sample); the data checks still see the whole table.")

    @model_validator(mode="after")
    def _positive(self) -> ModelSpec:
        if self.positive_label is not None and self.task != "binary_classification":
            raise PydanticCustomError("charter_option", "`positive_label` applies only to `binary_classification`")
        if self.sample is not None and self.sample.stratify and self.task == "regression":
            raise PydanticCustomError("charter_option", "`sample.stratify` applies only to classification: a "
                                                        "regression target has no classes")
        return self


class Model(Document):
    """A trained model: task, data, split, preprocessing and a scikit-learn estimator."""

    kind: Literal["Model"]
    spec: ModelSpec

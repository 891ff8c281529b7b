"""`ValidationSuite`: cleaning steps and data-quality rules for one DataSource.

Prepare steps are one-key mappings (`- deduplicate: {keys: [id]}`), rules are tagged by `rule:`.
Both are plain data here; `compiler.execute` runs them vectorised, and `compiler.validate`
checks the columns they name against the source's schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from compiler.spec.base import Column, Document, Duration, Name, Severity, Strict

Scalar = str | int | float | bool


class _Step(Strict):
    training_only: bool = Field(
        False, description="Apply only to training data, never to the batches `charter monitor` compares."
    )


class Standardize(_Step):
    """Map spellings of one value onto one: `"true": [yes, Y, "1"]`, `"false": [no, N, "0"]` for a
    boolean column, or `mapping: {M: male}` for any column. Quote the `"true"`/`"false"` keys:
    Charter reads keys as text either way, but YAML 1.2 editors and tools read a bare `true:`
    key as a boolean.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    column: Column
    true: list[Scalar] | None = Field(None, min_length=1, description="Spellings that mean true.")
    false: list[Scalar] | None = Field(None, min_length=1, description="Spellings that mean false.")
    mapping: dict[str, Scalar] | None = Field(None, min_length=1, description="Value -> replacement.")
    case_insensitive: bool = Field(True, description="Compare spellings ignoring case and surrounding spaces.")

    @model_validator(mode="after")
    def _one_form(self) -> Standardize:
        if self.mapping is None and self.true is None and self.false is None:
            raise PydanticCustomError("charter_option", "`standardize` needs `true`/`false` or `mapping`")
        if self.mapping is not None and (self.true is not None or self.false is not None):
            raise PydanticCustomError("charter_option", "use either `true`/`false` or `mapping`, not both")
        return self


class DropColumns(_Step):
    """Remove columns before checks and training."""

    columns: list[Column] = Field(min_length=1)


class Deduplicate(_Step):
    """Keep one row per key."""

    keys: list[Column] = Field(min_length=1, description="Columns that identify a row.")
    keep: Literal["first", "last"] = Field("last", description="Which duplicate survives.")


class FillNull(_Step):
    """Replace missing values by a constant or a statistic of the column."""

    columns: list[Column] = Field(min_length=1)
    value: Scalar | None = Field(None, description="Constant to fill with.")
    strategy: Literal["mean", "median", "mode"] | None = Field(None, description="Statistic to fill with.")

    @model_validator(mode="after")
    def _one_source(self) -> FillNull:
        if (self.value is None) == (self.strategy is None):
            raise PydanticCustomError("charter_option", "`fill_null` needs exactly one of `value` or `strategy`")
        return self


class DropNull(_Step):
    """Drop rows with a missing value in any of the columns."""

    columns: list[Column] = Field(min_length=1)


class Clip(_Step):
    """Clip outliers to bounds, or to quantiles of the column."""

    column: Column
    min: float | None = None
    max: float | None = None
    quantiles: tuple[float, float] | None = Field(None, description="Lower and upper quantile, e.g. [0.01, 0.99].")

    @model_validator(mode="after")
    def _bounds(self) -> Clip:
        if self.quantiles is not None:
            lo, hi = self.quantiles
            if self.min is not None or self.max is not None:
                raise PydanticCustomError("charter_option", "use either `min`/`max` or `quantiles`, not both")
            if not 0 <= lo < hi <= 1:
                raise PydanticCustomError("charter_option", "`quantiles` must satisfy 0 <= low < high <= 1")
        elif self.min is None and self.max is None:
            raise PydanticCustomError("charter_option", "`clip` needs `min`, `max` or `quantiles`")
        elif self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("charter_option", "`min` is greater than `max`")
        return self


class Rename(_Step):
    """Rename columns: `mapping: {old: new}`."""

    mapping: dict[Column, Column] = Field(min_length=1)


class PrepareStep(Strict):
    """One cleaning step: a mapping with exactly one of the keys below."""

    standardize: Standardize | None = None
    drop_columns: DropColumns | None = None
    deduplicate: Deduplicate | None = None
    fill_null: FillNull | None = None
    drop_null: DropNull | None = None
    clip: Clip | None = None
    rename: Rename | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PrepareStep:
        if len(self.model_fields_set) != 1:
            raise PydanticCustomError(
                "charter_option", "a prepare step holds exactly one of: {steps}", {"steps": ", ".join(STEP_NAMES)}
            )
        return self

    @property
    def op(self) -> str:
        return next(iter(self.model_fields_set))

    @property
    def args(self) -> Strict:
        return getattr(self, self.op)


STEP_NAMES = tuple(PrepareStep.model_fields)


class _Rule(Strict):
    severity: Severity = Field("error", description="`error` stops the run, `warn` only reports.")
    id: Name | None = Field(None, description="Stable id for waivers and reports (default: derived).")
    description: str | None = Field(None, max_length=2000)


class _Bounds(_Rule):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self):
        if self.min is None and self.max is None:
            raise PydanticCustomError("charter_option", "give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("charter_option", "`min` is greater than `max`")
        return self


class NotNull(_Rule):
    """No missing values in the columns."""

    rule: Literal["not_null"]
    columns: list[Column] = Field(min_length=1)


class Unique(_Rule):
    """The columns together identify a row (compound keys allowed)."""

    rule: Literal["unique"]
    columns: list[Column] = Field(min_length=1)


class Between(_Bounds):
    """Every value lies within [min, max] (exclusive when `strict`)."""

    rule: Literal["between"]
    column: Column
    strict: bool = False


class InSet(_Rule):
    """Every value is one of `values`."""

    rule: Literal["in_set"]
    column: Column
    values: list[Scalar] = Field(min_length=1)


class Regex(_Rule):
    """Every value fully matches the regular expression (Python `re` syntax)."""

    rule: Literal["regex"]
    column: Column
    pattern: str = Field(min_length=1, max_length=1000)


class Length(_Bounds):
    """String length lies within [min, max]."""

    rule: Literal["length"]
    column: Column


class NullFraction(_Rule):
    """The share of missing values is at most `max`."""

    rule: Literal["null_fraction"]
    column: Column
    max: float = Field(ge=0, le=1)


class RowCount(_Bounds):
    """The table has between `min` and `max` rows."""

    rule: Literal["row_count"]


class DistinctCount(_Bounds):
    """The number of distinct values lies within [min, max]."""

    rule: Literal["distinct_count"]
    column: Column


class MeanBetween(_Bounds):
    """The column mean lies within [min, max]."""

    rule: Literal["mean_between"]
    column: Column


class StdevBetween(_Bounds):
    """The column standard deviation lies within [min, max]."""

    rule: Literal["stdev_between"]
    column: Column


class QuantileBetween(_Bounds):
    """The `quantile` of the column lies within [min, max]."""

    rule: Literal["quantile_between"]
    column: Column
    quantile: float = Field(ge=0, le=1)


class Compare(_Rule):
    """Row-wise comparison of two columns: `left op right`."""

    rule: Literal["compare"]
    left: Column
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    right: Column


class NotInFuture(_Rule):
    """No timestamp lies in the future (beyond `tolerance`)."""

    rule: Literal["not_in_future"]
    column: Column
    tolerance: Duration = "0s"


class FreshnessRule(_Rule):
    """The newest timestamp is at most `max_age` old, in the whole table or in each `by` partition.

    With `by`, every partition (each distinct combination of the `by` values, null a value of its
    own) must have a value newer than `max_age`: a stale partition fails once, at its newest row
    (the first of them in the table's order; a partition without any value, at its first row), so
    the failing count is the number of stale partitions and the sample shows their newest rows.
    """

    rule: Literal["freshness"]
    column: Column
    max_age: Duration
    by: list[Column] = Field(default_factory=list, max_length=20,
                             description="Partition columns: each partition must be fresh, e.g. `[region]`.")


class Monotonic(_Rule):
    """Each value is at least the one before it (`strict`: above it), in row order, within each `by` group.

    A failing row is one whose value is below the previous row's (or equal to it, when
    `strict`), or, with `max_step`, more than `max_step` above it (a gap). Rows without a value
    are skipped: they never fail, and the next value is compared with the last one present.
    Rows are in the table's order, or sorted by `order_by` (rows without an `order_by` value
    last, ties in table order).
    """

    rule: Literal["monotonic"]
    column: Column = Field(description="The number, date or timestamp column that must not decrease.")
    strict: bool = Field(False, description="Each value must be above the previous one, not only at least it.")
    by: list[Column] = Field(default_factory=list, max_length=20,
                             description="Group columns: the order holds within each group, e.g. `[user_id]`.")
    order_by: list[Column] = Field(
        default_factory=list, max_length=20,
        description="Number, date or timestamp columns that order the rows; default: the table's own order (a "
                    "file's, or a database source's `ORDER BY` or `primary_key`).")
    max_step: float | Duration | None = Field(
        None, description="No gaps: the largest step up from the previous value, a number (`1` for ids) or, for a "
                          "date or timestamp column, a duration (`1d`); a row further above the previous one fails.")

    @model_validator(mode="after")
    def _positive_step(self) -> Monotonic:
        if isinstance(self.max_step, float) and not self.max_step > 0:
            raise PydanticCustomError("charter_option", "`max_step` must be above 0")
        return self


class Reference(Strict):
    """The DataSource a foreign key points at, and the columns of it that hold the keys."""

    source: Name = Field(description="The referenced DataSource (read as declared, without its suite's cleaning).")
    columns: list[Column] | None = Field(
        None, min_length=1, max_length=20,
        description="Its key columns, in the order of the rule's `columns`; default: its `primary_key`.")


class ForeignKey(_Rule):
    """Every key in `columns` exists in another DataSource: referential integrity.

    A failing row is one whose key columns all have a value and whose key is not among the
    referenced source's keys. A row with a null key column does not fail (as SQL's `MATCH
    SIMPLE`): add `not_null` for those. The referenced source is read as declared (its types,
    not its suite's cleaning); with a SQL engine it is read by the same engine, in the same
    database or session.
    """

    rule: Literal["foreign_key"]
    columns: list[Column] = Field(min_length=1, max_length=20, description="The key columns of this source.")
    references: Reference


class Expression(_Rule):
    """A row-wise boolean expression in Charter's expression language holds for every row.

    `lag(x, n)` is `x` of the row `n` rows before (default 1; null for the first rows),
    `diff(x, n)` is `x - lag(x, n)`: rows are in the table's order, or sorted by `order_by`,
    within each `by` group, as for `monotonic`.
    """

    rule: Literal["expression"]
    check: str = Field(min_length=1, max_length=2000)
    by: list[Column] = Field(default_factory=list, max_length=20,
                             description="Group columns of `lag` and `diff`: the row before is in the same group.")
    order_by: list[Column] = Field(
        default_factory=list, max_length=20,
        description="Number, date or timestamp columns that order the rows for `lag` and `diff`; default: the "
                    "table's own order.")


Rule = Annotated[
    NotNull | Unique | Between | InSet | Regex | Length | NullFraction | RowCount | DistinctCount
    | MeanBetween | StdevBetween | QuantileBetween | Compare | NotInFuture | FreshnessRule | Monotonic | ForeignKey
    | Expression,
    Field(discriminator="rule"),
]


class ValidationSuiteSpec(Strict):
    """The `spec` of a ValidationSuite."""

    source: Name = Field(description="The DataSource this suite checks.")
    prepare: list[PrepareStep] = Field(default_factory=list, description="Cleaning steps, applied in order.")
    rules: list[Rule] = Field(default_factory=list, description="Data-quality rules, checked after `prepare`.")


class ValidationSuite(Document):
    """Cleaning steps and data-quality rules for one DataSource."""

    kind: Literal["ValidationSuite"]
    spec: ValidationSuiteSpec

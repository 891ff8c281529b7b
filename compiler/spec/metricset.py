"""`MetricSet`: how a model is judged: metrics, gates, business metrics and monitoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from compiler.spec.base import Column, Document, Finite, Name, Strict

# Metric name -> (tasks it applies to, whether higher is better). No scikit-learn import here;
# the runtime maps these names onto sklearn.metrics.
_B, _M, _R = "binary_classification", "multiclass_classification", "regression"
METRICS: dict[str, tuple[frozenset[str], bool]] = {
    "accuracy": (frozenset({_B, _M}), True),
    "balanced_accuracy": (frozenset({_B, _M}), True),
    "precision": (frozenset({_B}), True),
    "recall": (frozenset({_B}), True),
    "f1": (frozenset({_B}), True),
    "roc_auc": (frozenset({_B}), True),
    "average_precision": (frozenset({_B}), True),
    "log_loss": (frozenset({_B, _M}), False),
    "brier_score": (frozenset({_B}), False),
    # every averaging scikit-learn offers for single-label data (`samples` is for multilabel only)
    **{f"{base}_{avg}": (frozenset({_B, _M}), True)
       for base in ("f1", "precision", "recall") for avg in ("macro", "micro", "weighted")},
    "roc_auc_ovr": (frozenset({_M}), True),
    "roc_auc_ovo": (frozenset({_M}), True),
    "roc_auc_ovr_weighted": (frozenset({_M}), True),
    "roc_auc_ovo_weighted": (frozenset({_M}), True),
    "mae": (frozenset({_R}), False),
    "mse": (frozenset({_R}), False),
    "rmse": (frozenset({_R}), False),
    "r2": (frozenset({_R}), True),
    "mape": (frozenset({_R}), False),
    "median_absolute_error": (frozenset({_R}), False),
    "explained_variance": (frozenset({_R}), True),
}


class Gate(Strict):
    """A threshold the model must pass to be promoted: `min`/`max` on the metric, or at most
    `max_drop` worse than the baseline named by `versus`.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    metric: str = Field(description="A metric valid for the model's task.")
    slice: Name | None = Field(None, description="Evaluate on this slice of the model instead of all rows.")
    window: Name | None = Field(None, description="Evaluate on this evaluation window of the model (its `windows`) "
                                                  "instead of the test set.")
    min: Finite | None = None
    max: Finite | None = None
    max_drop: Finite | None = Field(None, ge=0, description="Largest allowed regression against `versus`.")
    versus: Literal["production", "previous"] | None = Field(None, description="Baseline for `max_drop`.")
    id: Name | None = Field(None, description="Stable id for waivers and reports (default: derived).")

    @model_validator(mode="after")
    def _threshold(self) -> Gate:
        if self.min is None and self.max is None and self.max_drop is None:
            raise PydanticCustomError("charter_option", "a gate needs `min`, `max` or `max_drop`")
        if (self.max_drop is None) != (self.versus is None):
            raise PydanticCustomError("charter_option", "`max_drop` and `versus` go together")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("charter_option", "`min` is greater than `max`")
        return self


class BusinessMetric(Strict):
    """A metric computed from confusion counts (`tp`, `fp`, `tn`, `fn`, `n`) or, for regression,
    from error sums (`n`, `sum_error`, `sum_abs_error`, `sum_squared_error`, `mean_prediction`).
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    name: Name
    expression: str = Field(min_length=1, max_length=2000)
    min: Finite | None = None
    max: Finite | None = None


class Drift(Strict):
    """Feature drift detection against the training profile."""

    method: Literal["psi", "ks"] = Field(
        "psi", description="Population stability index, or Kolmogorov-Smirnov (Jensen-Shannon distance for categories)."
    )
    alert_above: Finite = Field(0.2, gt=0, description="Alert when a feature's drift exceeds this.")
    features: list[Column] | None = Field(None, description="Features to watch (default: all).")
    min_rows: int = Field(
        100, ge=1, le=1_000_000_000,
        description="Fewest values a feature needs in a batch to be compared; fewer is reported, never `ok`.",
    )


class Monitoring(Strict):
    """Scheduled checks of new data against what the model was trained on."""

    drift: Drift = Field(default_factory=Drift)
    schedule: str = Field(description="Cron expression (five fields, UTC), e.g. `0 6 * * *`.")
    enabled: bool = True


class MetricSetSpec(Strict):
    """The `spec` of a MetricSet."""

    model: Name = Field(description="The Model this set judges.")
    metrics: list[str] = Field(default_factory=list, description="Extra metrics to report (gated ones always are).")
    gates: list[Gate] = Field(default_factory=list)
    business: list[BusinessMetric] = Field(default_factory=list)
    monitoring: Monitoring | None = None


class MetricSet(Document):
    """Metrics, promotion gates, business metrics and monitoring for one Model."""

    kind: Literal["MetricSet"]
    spec: MetricSetSpec


def gate_ids(metric_set: str, gates: list[Gate]) -> list[str]:
    """The id of each gate: its `id`, else `METRICSET:METRIC[@SLICE][[WINDOW]][:drop]`, numbered `#2`... when repeated.

    `charter run` reports gates by these ids and waivers name them.
    """
    ids: list[str] = []
    seen: dict[str, int] = {}
    for g in gates:
        if g.id:
            ids.append(g.id)
            continue
        base = (f"{metric_set}:{g.metric}" + (f"@{g.slice}" if g.slice else "") + (f"[{g.window}]" if g.window else "")
                + (":drop" if g.max_drop is not None else ""))
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids

"""`RolloutPolicy`: how a model is served and promoted through environments."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from compiler.spec.base import Document, Duration, Handle, Name, Quantity, Strict


class Replicas(Strict):
    """Autoscaling bounds of the serving deployment."""

    min: int = Field(1, ge=0, le=1000)
    max: int = Field(1, ge=1, le=1000)

    @model_validator(mode="after")
    def _order(self) -> Replicas:
        if self.min > self.max:
            raise PydanticCustomError("charter_option", "`min` replicas is greater than `max`")
        return self


class ResourceAmounts(Strict):
    """CPU and memory in Kubernetes quantities (`500m`, `1`, `512Mi`)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(Strict):
    """Container resources of the serving deployment."""

    requests: ResourceAmounts | None = None
    limits: ResourceAmounts | None = None


class Serving(Strict):
    """Serving runtime and capacity."""

    runtime: Literal["charter", "kserve-sklearn", "kserve-mlserver"] = Field(
        "charter", description="`charter`: Charter's predictor (`charter serve` in the project's image: the input "
        "contract, the guardrails, the metrics the analysis reads); or a stock server, which serves the bare "
        "scikit-learn pipeline of `model.joblib` (KServe's sklearn server, MLServer's sklearn runtime)."
    )
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources | None = None
    service_account: Name | None = Field(
        None, description="Kubernetes service account of the serving pods: how they get the store's credentials "
        "(KServe reads S3/GCS credentials from the secrets it lists), never a literal in the manifest.")


class Step(Strict):
    """One canary step: send `traffic` percent to the new version, then wait `pause`."""

    traffic: int = Field(ge=1, le=100)
    pause: Duration | None = None


class Analysis(Strict):
    """Automated analysis during a rollout, from a MetricSet's gates."""

    gates: Name = Field(description="The MetricSet whose gates are checked (on the logged predictions, where the "
                        "prediction log has outcomes).")
    on_failure: Literal["rollback", "pause"] = "rollback"
    interval: Duration = "5m"
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Share of the new version's requests answered 5xx.")
    max_latency_p99: float = Field(0.5, gt=0, le=600, description="Seconds: the new version's p99 latency.")
    max_guardrail_rate: float = Field(0.25, ge=0, le=1, description="Share of the new version's rows a guardrail "
                                                                    "overrode.")
    max_prediction_shift: float = Field(
        0.1, ge=0, description="How far the new version's predictions may move from the stable version's: the "
        "total variation distance of the predicted labels' shares (classifiers), or the relative change of the "
        "mean prediction (regressors).")


class Strategy(Strict):
    """How a new version replaces the old one in an environment."""

    type: Literal["direct", "shadow", "canary", "blue-green"]
    duration: Duration | None = Field(None, description="How long shadow traffic runs (shadow only).")
    steps: list[Step] | None = Field(None, min_length=1, description="Traffic steps (canary only).")
    analysis: Analysis | None = None
    auto_promote: bool = Field(False, description="Promote the preview without a manual step (blue-green only).")

    @model_validator(mode="after")
    def _fields_for_type(self) -> Strategy:
        if self.type == "canary" and not self.steps:
            raise PydanticCustomError("charter_option", "a canary strategy needs `steps`")
        if self.type != "canary" and self.steps is not None:
            raise PydanticCustomError("charter_option", "`steps` apply only to `type: canary`")
        if self.type != "shadow" and self.duration is not None:
            raise PydanticCustomError("charter_option", "`duration` applies only to `type: shadow`")
        if self.type != "blue-green" and self.auto_promote:
            raise PydanticCustomError("charter_option", "`auto_promote` applies only to `type: blue-green`")
        return self


Approval = Literal["none", "accountable", "responsible"]


class Environment(Strict):
    """One environment of the promotion path, in order (e.g. staging, then production)."""

    name: Name
    approval: Approval | list[Handle] = Field(
        "none", description="Who approves a deployment: a RACI role of `deployment`, or explicit handles."
    )
    strategy: Strategy = Field(default_factory=lambda: Strategy(type="direct"))
    namespace: Name | None = Field(None, description="Kubernetes namespace (default: the environment name).")
    auto_merge: bool = Field(
        False, description="A promotion that deploys only environments with `auto_merge` merges itself once its "
                           "checks pass (GitHub's auto-merge, GitLab's merge when the pipeline succeeds); only for "
                           "an environment with `approval: none`.")

    @model_validator(mode="after")
    def _auto_merge(self) -> Environment:
        if self.auto_merge and self.approval != "none":
            raise PydanticCustomError(
                "charter_option", "`auto_merge` applies only to an environment with `approval: none`",
                {"help": "a promotion that needs an approval waits for it: remove `auto_merge`, or the approval"})
        return self


class Outcomes(Strict):
    """Where the true labels of served predictions arrive later."""

    source: Name = Field(description="A DataSource holding the log's `key` column and the Model's target.")


class PredictionLog(Strict):
    """What the predictor appends to the artifact store, under `predictions/<model>/<environment>/`.

    `charter monitor MODEL --predictions` reads it back: drift of live inputs, and with
    `outcomes` the gates again on live data.
    """

    sample: float = Field(1.0, gt=0, le=1, description="Share of requests logged (all rows of a logged request).")
    exclude: list[str] = Field(default_factory=list, description="Input columns never written (sensitive data).")
    key: str | None = Field(None, max_length=200,
                            description="A column requests may carry beside the inputs (not given to the model), "
                                        "logged to join the outcomes on.")
    outcomes: Outcomes | None = None
    batch_rows: int = Field(1000, ge=1, le=100_000, description="Rows per file written to the store.")
    flush_every: Duration = Field("10s", description="Longest time a logged row waits in memory.")
    max_buffer_rows: int = Field(100_000, ge=1, le=10_000_000,
                                 description="Rows held while the store is slow; beyond, rows are dropped and counted "
                                             "(`charter_prediction_log_dropped_total`), never the request.")

    @model_validator(mode="after")
    def _key_for_outcomes(self) -> PredictionLog:
        if self.outcomes is not None and self.key is None:
            raise PydanticCustomError("charter_option", "`outcomes` needs a `key` to join the log on")
        return self


class Fallback(Strict):
    """What the scheduled monitor does when the production model fails its gates on new labelled data.

    It rolls back to the last version whose gates passed: the newest earlier version of
    charter.lock's history that is still in the artifact store and has not failed a monitor
    itself (docs/delivery.md, "Automated fallback").
    """

    mode: Literal["review", "apply"] = Field(
        "review", description="`review`: the rollback becomes a pull request (merge request) with the monitor "
                              "report in its description, for the deployment Accountable to approve; `apply`: it "
                              "is pushed to the base branch at once (the CI token must be allowed to push there).")
    judge: Literal["data", "predictions"] = Field(
        "data", description="What the served version is judged on: `data`, the newest labelled rows of its training "
                            "source (`charter monitor --data`); `predictions`, what the last environment served, from "
                            "the prediction log joined with `prediction_log.outcomes` (`charter monitor "
                            "--predictions`).")
    since: Duration | None = Field(
        None, description="With `judge: predictions`: how far back the log is read, e.g. `7d`; default: all of it.")

    @model_validator(mode="after")
    def _since(self) -> Fallback:
        if self.since is not None and self.judge != "predictions":
            raise PydanticCustomError("charter_option", "`since` applies only to `judge: predictions`")
        return self


class RolloutPolicySpec(Strict):
    """The `spec` of a RolloutPolicy."""

    model: Name = Field(description="The Model being served.")
    serving: Serving = Field(default_factory=Serving)
    prediction_log: PredictionLog | None = Field(None, description="Log served predictions (docs/serving.md).")
    environments: Annotated[list[Environment], Field(min_length=1)]
    fallback: Fallback | None = Field(
        None, description="Roll back on its own when the scheduled monitor finds the served version failing its "
                          "gates (needs `monitoring` and gates in a MetricSet of the model).")


class RolloutPolicy(Document):
    """Serving and promotion of one Model through ordered environments."""

    kind: Literal["RolloutPolicy"]
    spec: RolloutPolicySpec

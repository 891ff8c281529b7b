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

    runtime: Literal["kserve-sklearn", "kserve-mlserver"] = Field(
        "kserve-sklearn", description="KServe's sklearn server, or MLServer's sklearn runtime."
    )
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources | None = None


class Step(Strict):
    """One canary step: send `traffic` percent to the new version, then wait `pause`."""

    traffic: int = Field(ge=1, le=100)
    pause: Duration | None = None


class Analysis(Strict):
    """Automated analysis during a rollout, from a MetricSet's gates."""

    gates: Name = Field(description="The MetricSet whose gates are checked.")
    on_failure: Literal["rollback", "pause"] = "rollback"
    interval: Duration = "5m"


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


class RolloutPolicySpec(Strict):
    """The `spec` of a RolloutPolicy."""

    model: Name = Field(description="The Model being served.")
    serving: Serving = Field(default_factory=Serving)
    environments: Annotated[list[Environment], Field(min_length=1)]


class RolloutPolicy(Document):
    """Serving and promotion of one Model through ordered environments."""

    kind: Literal["RolloutPolicy"]
    spec: RolloutPolicySpec

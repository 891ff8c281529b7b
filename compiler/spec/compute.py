"""`compute`: how orchestrators run a pipeline's pods, never what the pods compute.

Resources, a timeout, retries with backoff, placement (node selector, tolerations), the
service account and environment variables read from Kubernetes Secrets. A `compute` block
sits in `charter.yaml` (the defaults) and in a Model, each with per-step overrides under
`steps`. None of it enters a step's hash or run key: the same specs on a bigger node
compute the same result.

`effective` merges the layers for one step, and is shared by the validator (which checks
the merged values: a limit set in a Model below a request set in charter.yaml) and the IR
builder (which hands renderers the merged values only).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from compiler.spec.base import _LABEL_KEY, Duration, EnvVar, LabelKey, LabelValue, Name, Strict, _pattern

# What a pipeline's pods run: the model steps, and `monitor` (the monitor CronWorkflow / DAG
# and the AnalysisTemplate Job). The IR's STEP_KINDS, which this layer may not import.
STEPS = ("ingest", "prepare", "validate", "split", "train", "evaluate", "gate", "package", "monitor")
Step = Literal["ingest", "prepare", "validate", "split", "train", "evaluate", "gate", "package", "monitor"]

# Units every target reads the same: Kubernetes quantities that kfp's `set_cpu_*` and
# `set_memory_*` also accept. CPU: cores (`2`, `0.5`, at most millicore precision) or whole
# millicores (`500m`). Memory: whole bytes with a decimal or binary suffix; Kubernetes' `k` and
# kfp's `K` are each refused by the other, so kilobytes are written `Ki`, and decimals (`1.5Gi`,
# which kfp refuses) as the next unit down (`1536Mi`).
_CPU = re.compile(r"(?:[0-9]{1,6}(?:\.[0-9]{1,3})?|[0-9]{1,9}m)\Z")
_MEMORY = re.compile(r"[0-9]{1,15}(?:Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?\Z")
_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
                 "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "": 1}  # fmt: skip
# A Kubernetes extended resource name (`nvidia.com/gpu`, `amd.com/gpu`): a DNS prefix and a name.
_GPU_TYPE = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def millicores(value: str) -> int:
    """A validated CPU amount in millicores."""
    if value.endswith("m"):
        return int(value[:-1])
    whole, _, fraction = value.partition(".")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def memory_bytes(value: str) -> int:
    """A validated memory amount in bytes."""
    digits = value.rstrip("KMGTPEi")
    return int(digits) * _MEMORY_UNITS[value[len(digits):]]


def seconds(duration: str) -> int:
    """A validated duration (`30m`, `1h30m`, `7d`) in seconds."""
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([smhdw])", duration))


def _cpu(value: str) -> str:
    if not _CPU.match(value):
        raise PydanticCustomError("charter_resource", "`{shown}` is not a CPU amount", {
            "shown": value[:40], "help": "use cores (`2`, `0.5`) or whole millicores (`500m`)"})
    if millicores(value) == 0:
        raise PydanticCustomError("charter_resource", "a CPU amount must be more than zero",
                                  {"help": "leave it out to let the cluster decide"})
    return value


def _memory(value: str) -> str:
    if not _MEMORY.match(value):
        raise PydanticCustomError("charter_resource", "`{shown}` is not a memory amount", {
            "shown": value[:40],
            "help": "use whole bytes with a unit Ki, Mi, Gi, Ti (powers of 2) or M, G, T (powers of 10), such as "
                    "`512Mi` or `4G`; `k` and `K`, and decimals such as `1.5Gi`, are read by some orchestrators "
                    "only: write `1536Mi`"})
    if memory_bytes(value) == 0:
        raise PydanticCustomError("charter_resource", "a memory amount must be more than zero",
                                  {"help": "leave it out to let the cluster decide"})
    return value


def _positive(value: str) -> str:
    if seconds(value) == 0:
        raise PydanticCustomError("charter_value", "a duration here must be longer than zero")
    return value


def _regex(regex: re.Pattern, what: str, example: str):
    def check(value: str) -> str:
        if not regex.match(value):
            raise PydanticCustomError("charter_value", "`{shown}` is not {what}",
                                      {"shown": value[:80], "what": what, "help": f"such as `{example}`"})
        return value

    return AfterValidator(check)


Cpu = Annotated[str, AfterValidator(_cpu), _pattern(_CPU, "CPU: cores (`2`, `0.5`) or millicores (`500m`).")]
Memory = Annotated[str, AfterValidator(_memory),
                   _pattern(_MEMORY, "Memory: whole bytes with a unit, such as `512Mi` or `4G`.")]
Wait = Annotated[Duration, AfterValidator(_positive)]
GpuType = Annotated[str, _regex(_GPU_TYPE, "a Kubernetes extended resource name", "nvidia.com/gpu"),
                    _pattern(_GPU_TYPE, "An extended resource name, such as `nvidia.com/gpu`.")]
SecretKey = Annotated[str, _regex(_SECRET_KEY, "a Secret key", "url"),
                      WithJsonSchema({"type": "string", "pattern": "^[-._a-zA-Z0-9]{1,253}$"})]


class Amounts(Strict):
    """CPU and memory."""

    cpu: Cpu | None = None
    memory: Memory | None = None


class ComputeResources(Strict):
    """Requests (what the scheduler reserves), limits (what a pod may use) and GPUs."""

    requests: Amounts | None = None
    limits: Amounts | None = None
    gpus: int | None = Field(None, ge=0, le=64, description="GPUs per pod (a limit; Kubernetes needs no request "
                                                             "for them); 0 for none.")
    gpu_type: GpuType | None = Field(None, description="The GPU's resource name (default `nvidia.com/gpu`).")


class Retries(Strict):
    """How often a failed pod runs again, and how long each retry waits."""

    limit: int = Field(ge=0, le=20, description="Retries after the first attempt; 0 for none.")
    backoff: Wait = Field("30s", description="Wait before the first retry.")
    factor: int = Field(2, ge=1, le=10, description="Each later wait is the previous one times this.")
    max_backoff: Wait | None = Field(None, description="The longest a wait may grow to.")


class Toleration(Strict):
    """A taint a pod tolerates, so it may run on nodes kept for such work."""

    key: LabelKey = Field(json_schema_extra=_pattern(_LABEL_KEY, "A taint key, in label-key syntax.").json_schema)
    operator: Literal["Equal", "Exists"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _value(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise PydanticCustomError("charter_option", "a toleration with `operator: Exists` takes no `value`")
        if self.operator == "Equal" and self.value is None:
            raise PydanticCustomError("charter_option", "a toleration with `operator: Equal` needs a `value`")
        return self


class SecretRef(Strict):
    """One key of a Kubernetes Secret, read into an environment variable (never a literal)."""

    # `name`, not `secret`: a key named like a credential holds one, to the literal-secret check
    name: Name = Field(description="The Secret's name, in the namespace the pods run in.")
    key: SecretKey = Field(description="The key inside the Secret.")


class ComputeSettings(Strict):
    """How orchestrators run pods; every field is optional and overrides the layer below it."""

    resources: ComputeResources | None = None
    timeout: Wait | None = Field(None, description="How long one attempt may run before it is stopped.")
    retries: Retries | None = None
    node_selector: dict[LabelKey, LabelValue] | None = Field(
        None, description="Node labels a pod needs.",
        json_schema_extra={"propertyNames": _pattern(_LABEL_KEY, "A Kubernetes label key.").json_schema})
    tolerations: list[Toleration] | None = Field(None, max_length=20,
                                                 description="Taints tolerated (replaces the layer below).")
    service_account: Name | None = Field(None, description="The Kubernetes service account pods run as.")
    secrets: dict[EnvVar, SecretRef] | None = Field(
        None, description="Environment variables read from Kubernetes Secrets.",
        json_schema_extra={"propertyNames": {"pattern": "^[A-Z_][A-Z0-9_]{0,127}$"}})


class Compute(ComputeSettings):
    """Pod settings of every step, and per-step overrides under `steps` (`train`, `monitor`...)."""

    steps: dict[Step, ComputeSettings] = Field(default_factory=dict,
                                               description="Overrides for one step; `monitor` is the monitor job.")


# --- merging ---------------------------------------------------------------------------------

# A layer: the settings and where they are written (an opaque origin, and the JSON pointer of
# the block in that document), so the validator can point at the value a merged setting took.
Layer = tuple[ComputeSettings, object, str]


def layers(project: Compute | None, model: Compute | None, step: str | None, *,
           project_origin: object = None, model_origin: object = None) -> list[Layer]:
    """The blocks that apply to `step`, lowest first: charter.yaml, its `steps.<step>`, the Model, its `steps.<step>`.

    A Model's settings win over charter.yaml's, a step's over its block's. `step=None` (the
    data-only checks) takes the blocks themselves.
    """
    found: list[Layer] = []
    for block, origin, base in ((project, project_origin, "/spec/compute"), (model, model_origin, "/spec/compute")):
        if block is None:
            continue
        found.append((block, origin, base))
        if step is not None and step in block.steps:
            found.append((block.steps[step], origin, f"{base}/steps/{step}"))
    return found


def effective(found: list[Layer]) -> dict:
    """The merged settings as plain data, only what some layer sets.

    Scalars and each resource amount: the highest layer that sets them. `node_selector` and
    `secrets` merge by key; `tolerations` and `retries` are replaced whole.
    """
    out: dict = {}
    for settings, _, _ in found:
        data = settings.model_dump(mode="json", exclude_none=True, exclude={"steps"})
        for key, value in data.items():
            if key == "resources":
                res = out.setdefault("resources", {})
                for part, amount in value.items():
                    if isinstance(amount, dict):
                        res.setdefault(part, {}).update(amount)
                    else:
                        res[part] = amount
            elif key in ("node_selector", "secrets"):
                out.setdefault(key, {}).update(value)
            else:
                out[key] = value
    if "resources" in out:
        out["resources"] = {k: ({n: v[n] for n in ("cpu", "memory") if n in v} if isinstance(v, dict) else v)
                            for k, v in sorted(out["resources"].items()) if v != {}}
        if out["resources"].get("gpus"):
            out["resources"].setdefault("gpu_type", "nvidia.com/gpu")
        else:  # no GPUs: a type alone means nothing
            out["resources"].pop("gpus", None)
            out["resources"].pop("gpu_type", None)
        if not out["resources"]:
            del out["resources"]
    for key in ("node_selector", "secrets"):
        if key in out:
            out[key] = dict(sorted(out[key].items()))
    if out.get("retries", {}).get("limit") == 0:
        out["retries"] = {"limit": 0}
    return out


def origin_of(found: list[Layer], *path: str) -> tuple[object, str] | None:
    """Where the merged value at `path` (`resources`, `limits`, `cpu`) was written: (origin, pointer)."""
    for settings, origin, base in reversed(found):
        value: object = settings
        for part in path:
            value = getattr(value, part, None)
            if value is None:
                break
        else:
            return origin, base + "".join(f"/{p}" for p in path)
    return None

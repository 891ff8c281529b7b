"""The IR: `PipelineGraph`, a versioned, content-hashed value that every renderer and the runtime consume.

Nothing downstream of it reads specs.

A graph holds one `ModelPipeline` per Model; a pipeline is a DAG of `Step`s on stdlib
`graphlib`, with deterministic order (ready steps sorted by id) so golden files are stable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

IR_VERSION = 1
# The RACI stage that owns each kind of spec, and the stage a missing one falls back to
# (then every stage): for CODEOWNERS, the IR's owners and the approvals of `charter plan`.
STAGE_OF_KIND = {"DataSource": "data", "ValidationSuite": "validation", "Model": "model",
                 "MetricSet": "evaluation", "RolloutPolicy": "deployment"}  # fmt: skip
STAGE_FALLBACK = {"validation": "data", "evaluation": "model", "monitoring": "deployment"}
STEP_KINDS = ("ingest", "prepare", "validate", "split", "train", "evaluate", "gate", "package")


def canonical_json(value: Any) -> str:
    """The one serialisation used for hashing and files: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def sorted_json(value: Any) -> bytes:
    """Compact JSON with sorted keys, for hashing within this code's caches (not `canonical_json`'s bytes)."""
    try:
        import orjson  # here, not at the top: a plan reads the IR's classes and never hashes them

        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson refuses lone surrogates (a file name in any bytes): the slower, total encoder
        return json.dumps(value, sort_keys=True).encode("utf-8", "surrogatepass")


# ModelPipeline -> its digest, for the pipelines of this command (by id, holding the object so
# that the id is not reused): reused pipelines come with the digest their build recorded.
_DIGESTS: dict[int, tuple[object, str]] = {}


def pipeline_digest(pipeline: ModelPipeline) -> str:
    """The SHA-256 of a pipeline's sorted JSON: what the render memo keys its files by.

    Computed once per pipeline object; a pipeline reused from the IR cache carries the digest
    recorded when it was built (`known_digest`), so an edit computes it for the rebuilt ones only.
    """
    found = _DIGESTS.get(id(pipeline))
    if found is not None and found[0] is pipeline:
        return found[1]
    digest = hashlib.sha256(sorted_json(pipeline.to_dict())).hexdigest()
    _DIGESTS[id(pipeline)] = (pipeline, digest)
    return digest


def known_digest(pipeline: ModelPipeline, digest: str) -> None:
    """The digest of a pipeline rebuilt from the dict it was computed of (the IR cache's)."""
    _DIGESTS[id(pipeline)] = (pipeline, digest)


def forget_digests() -> None:
    """A new command: the last one's pipelines are not kept alive."""
    _DIGESTS.clear()


@dataclass(frozen=True, slots=True)
class Step:
    """One node of a model pipeline: what it runs, on what, and the hash of everything that determines its result.

    The hash is of what the specs say, upstream hashes included.
    """

    id: str  # "<model>/<name>", unique in the graph
    model: str
    name: str  # one of STEP_KINDS
    needs: tuple[str, ...]
    inputs: tuple[str, ...]  # artifact names read
    outputs: tuple[str, ...]  # artifact names written
    params: dict = field(hash=False)
    hash: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "model": self.model, "name": self.name, "needs": list(self.needs),
                "inputs": list(self.inputs), "outputs": list(self.outputs), "params": self.params,
                "hash": self.hash}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        return cls(d["id"], d["model"], d["name"], tuple(d["needs"]), tuple(d["inputs"]), tuple(d["outputs"]),
                   d["params"], d["hash"])  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelPipeline:
    """Everything about one Model that targets need.

    That is its steps in topological order, where it came from, its owners, monitoring and rollout.
    """

    name: str
    task: str
    description: str
    steps: tuple[Step, ...]
    sources: tuple[str, ...]  # spec files that define it, repo-relative
    owners: dict = field(hash=False)  # stage -> {responsible, accountable, consulted, informed}
    monitoring: dict | None = field(default=None, hash=False)
    rollouts: tuple = field(default=(), hash=False)  # one dict per RolloutPolicy, by name
    # How orchestrators run each step's pod (and `monitor`'s, `check-data`'s), merged from the
    # `compute` blocks: step name -> settings, steps with none left out. Not in any step hash:
    # resources change where a step runs, never what it computes.
    compute: dict = field(default_factory=dict, hash=False)
    # When it retrains without a spec change ({schedule, on_drift}); like `compute`, in no step
    # hash: a trigger changes when the pipeline runs, never what it computes.
    retrain: dict | None = field(default=None, hash=False)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict:
        return {"name": self.name, "task": self.task, "description": self.description,
                "steps": [s.to_dict() for s in self.steps], "sources": list(self.sources),
                "owners": self.owners, "monitoring": self.monitoring, "rollouts": list(self.rollouts),
                "compute": self.compute,
                # only when declared: the IR of models without it (and its golden files) keeps its bytes
                **({"retrain": self.retrain} if self.retrain is not None else {})}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> ModelPipeline:
        return cls(d["name"], d["task"], d["description"], tuple(Step.from_dict(s) for s in d["steps"]),
                   tuple(d["sources"]), d["owners"], d["monitoring"], tuple(d["rollouts"]),
                   d.get("compute", {}), d.get("retrain"))  # fmt: skip


def _params(pipeline: ModelPipeline, step: str) -> dict:
    found = pipeline.step(step)
    assert found is not None, f"`{pipeline.name}` has no {step} step"  # a data check has ingest..validate
    return found.params


@dataclass(frozen=True, slots=True)
class PipelineGraph:
    """The intermediate state between a SpecSet and every target: the IR.

    `project` holds the settings renderers need (image, artifact store, output folder,
    targets); `files` maps every spec name to the file that defines it and its owners, for
    CODEOWNERS and for the "generated from" headers.
    """

    project: dict = field(hash=False)
    models: tuple[ModelPipeline, ...]
    files: dict = field(hash=False)
    ir_version: int = IR_VERSION
    # Data-only pipelines (ingest -> prepare -> validate), one per ValidationSuite and one per
    # DataSource that no suite checks, for `charter check-data`. Their steps hash like the
    # models' data steps, so the two share cached results.
    checks: tuple[ModelPipeline, ...] = ()

    def model(self, name: str) -> ModelPipeline | None:
        return next((m for m in self.models if m.name == name), None)

    def check(self, name: str) -> ModelPipeline | None:
        """The data check of a suite by its name, else the first one reading a source of that name."""
        by_suite = next((c for c in self.checks if _params(c, "validate")["suite"] == name), None)
        return by_suite or next((c for c in self.checks if _params(c, "ingest")["source"] == name), None)

    def pipeline(self, name: str) -> ModelPipeline | None:
        return self.model(name) or next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict:
        return {"ir_version": self.ir_version, "project": self.project,
                "models": [m.to_dict() for m in self.models], "files": self.files,
                "checks": [c.to_dict() for c in self.checks]}  # fmt: skip

    def to_json(self) -> str:
        """Canonical, pretty JSON: byte-identical for identical graphs.

        These are the same bytes as `json.dumps(sort_keys=True, indent=2, ensure_ascii=False)`
        (tested). orjson writes them 20x faster: the standard library's indenting encoder is pure
        Python, and was most of the time of `charter compile` on 1,000 specs.
        """
        import orjson  # here, not at the top: a plan reads the IR's classes and never writes its file

        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"

    @classmethod
    def from_json(cls, text: str) -> PipelineGraph:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict) -> PipelineGraph:
        if d.get("ir_version") != IR_VERSION:
            raise ValueError(f"IR version {d.get('ir_version')} is not {IR_VERSION}")
        return cls(d["project"], tuple(ModelPipeline.from_dict(m) for m in d["models"]), d["files"], d["ir_version"],
                   tuple(ModelPipeline.from_dict(c) for c in d.get("checks", ())))


def order_steps(steps: list[Step]) -> tuple[Step, ...]:
    """Topological order with ready steps sorted by id; raises CycleError with the loop."""
    by_id = {s.id: s for s in steps}
    sorter = TopologicalSorter({s.id: set(s.needs) for s in steps})
    sorter.prepare()
    ordered: list[Step] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_id[i] for i in ready if i in by_id)
        sorter.done(*ready)
    return tuple(ordered)


__all__ = ["IR_VERSION", "STEP_KINDS", "CycleError", "ModelPipeline", "PipelineGraph", "Step", "canonical_json",
           "content_hash", "order_steps"]  # fmt: skip

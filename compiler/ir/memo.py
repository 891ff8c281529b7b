"""The IR of a model reused while everything it was built from is unchanged: an edit builds one model.

A model's pipeline (and a data check's) is a function of the specs it reads, the project's
settings, the owners of its names and Charter's code. The memo records, while a pipeline is
built, every spec the build looked up by kind and name (through `Reads`), and keys the result
by the content of the specs it was given (its Model, MetricSets and RolloutPolicies), the
settings and the owners. A later build reuses the pipeline when that key is the same and every
recorded lookup finds a spec of the same content again (or, as before, none).

A spec's content is the digest of its file (path and text) and its place in the file: a document
is a pure function of those, and its validated model of the document. The memo travels in the
IR cache (`ir/cache.py`), with the graph it describes, so its pipelines are already IR values;
a missing, damaged or foreign memo is ignored (everything is built).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from compiler.codeid import code_fingerprint
from compiler.ir.graph import ModelPipeline, canonical_json, known_digest, sorted_json

if TYPE_CHECKING:
    from compiler.spec import Spec, SpecSet

Read = tuple[str, str, "str | None"]  # (kind, name, content id of what was found)


def file_digests(texts: Mapping[str, str]) -> dict[str, str]:
    """Spec file -> the digest of its path and text: what a spec's content id is made of."""
    return {path: hashlib.sha256(path.encode("utf-8", "surrogatepass") + b"\0"
                                 + text.encode("utf-8", "surrogatepass")).hexdigest()
            for path, text in texts.items()}


class Lookup(Protocol):
    """What a pipeline's build asks of the SpecSet besides the specs it is given: a spec by kind and name."""

    def get(self, kind: str, name: str) -> Spec | None: ...


class Reads:
    """A SpecSet seen through `get`, remembering every lookup: what one pipeline's build read."""

    __slots__ = ("_specset", "seen")

    def __init__(self, specset: SpecSet) -> None:
        self._specset = specset
        self.seen: dict[tuple[str, str], Spec | None] = {}

    def get(self, kind: str, name: str) -> Spec | None:
        found = self._specset.get(kind, name)
        self.seen[(kind, name)] = found
        return found


class BuildMemo:
    """Pipelines of an earlier build (by kind and name) with their keys; the ones of this build."""

    def __init__(self, digests: Mapping[str, str], old: dict[str, Any] | None = None,
                 pipelines: Callable[[], dict[str, dict]] | None = None) -> None:
        self._digests = digests
        self._old = old or {}  # "model:NAME" -> {"key": str, "reads": [[kind, name, id], ...]}
        self._pipelines = pipelines  # "model:NAME" -> the pipeline's dict, read only when one is reused
        self._dicts: dict[str, dict] | None = None
        self.new: dict[str, dict] = {}
        self.reused = 0
        self.built = 0
        self._project = ""

    def start(self, settings: dict) -> None:
        """The settings every pipeline sees (charter.yaml's spec), with Charter's code: part of every key."""
        self._project = hashlib.sha256((code_fingerprint() + "\0" + canonical_json(settings)).encode()).hexdigest()

    def spec_id(self, spec: Spec | None) -> str | None:
        if spec is None:
            return None
        digest = self._digests.get(spec.file)
        return None if digest is None else f"{digest}:{spec.index}"

    def key(self, given: list[Spec | None], owners: list[Any]) -> str | None:
        ids = [self.spec_id(s) for s in given]
        if any(i is None for i, s in zip(ids, given, strict=True) if s is not None):
            return None  # a spec of no known file: never reused
        return hashlib.sha256(sorted_json([self._project, ids, owners])).hexdigest()

    def reuse(self, slot: str, key: str | None, specset: SpecSet) -> ModelPipeline | None:
        entry = self._old.get(slot)
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return None
        try:
            reads = [(kind, name, found) for kind, name, found in entry["reads"]]
            if any(self.spec_id(specset.get(kind, name)) != found for kind, name, found in reads):
                return None
            if self._dicts is None:
                self._dicts = self._pipelines() if self._pipelines is not None else {}
            pipeline = ModelPipeline.from_dict(self._dicts[slot])
        except (KeyError, TypeError, ValueError):
            return None  # a damaged entry: build it
        if isinstance(digest := entry.get("digest"), str):
            known_digest(pipeline, digest)  # of the very dict it was rebuilt from
        self.new[slot] = entry
        self.reused += 1
        return pipeline

    def keep(self, slot: str, key: str | None, reads: Reads) -> None:
        self.built += 1
        if key is None:
            return
        found = []
        for (kind, name), spec in reads.seen.items():
            content = self.spec_id(spec)
            if spec is not None and content is None:
                return  # read a spec of no known file: never reused
            found.append([kind, name, content])
        self.new[slot] = {"key": key, "reads": sorted(found, key=lambda r: (r[0], r[1]))}


__all__ = ["BuildMemo", "Lookup", "Reads", "file_digests"]

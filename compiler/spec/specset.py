"""`SpecSet`: every validated spec of one tree or git revision, indexed by kind and name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from compiler.diagnostics import Span
from compiler.spec.base import Document


@dataclass(frozen=True, slots=True, eq=False)
class Spec:
    """One validated spec and where it came from; `origin` is the span of its document."""

    model: Document
    file: str
    index: int
    origin: Span

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def name(self) -> str:
        return self.model.metadata.name


@dataclass(frozen=True, slots=True)
class SpecSet:
    """The intermediate state between validated documents and the IR.

    Holds the specs that passed schema validation (in file order), so later stages never read
    YAML again. Lookups by `(kind, name)` return the first definition of a name.
    """

    specs: tuple[Spec, ...]
    project: Document | None = None
    _index: dict[tuple[str, str], Spec] = field(default_factory=dict, repr=False)
    _by_kind: dict[str, list[Spec]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for s in self.specs:
            self._index.setdefault((s.kind, s.name), s)
            self._by_kind.setdefault(s.kind, []).append(s)

    def get(self, kind: str, name: str) -> Spec | None:
        return self._index.get((kind, name))

    def of_kind(self, kind: str) -> Iterator[Spec]:
        return iter(self._by_kind.get(kind, ()))  # indexed: rules ask per spec, O(n^2) otherwise

    def names(self, kind: str) -> list[str]:
        return sorted({s.name for s in self.specs if s.kind == kind})

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

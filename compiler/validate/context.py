"""What every semantic rule sees: the SpecSet, the documents behind it, the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from compiler.diagnostics import Label, Span
from compiler.load.document import Document
from compiler.spec import Spec, SpecSet


@dataclass(frozen=True, slots=True)
class Context:
    """Input of every rule's `check`: read-only views of the validated tree."""

    specset: SpecSet
    documents: tuple[Document, ...]
    project: object | None = None
    project_doc: Document | None = None  # charter.yaml, for spans of project settings
    broken: frozenset = frozenset()  # (kind, name) of documents that failed the model pass
    # The repository's folder, for the rules that read files beside the specs (a Feast registry);
    # None where only the specs are there (a past revision rebuilt from git objects for a plan).
    root: Path | None = None
    _by_origin: dict[tuple[str, int], Document] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for d in self.documents:
            self._by_origin[(d.file, d.index)] = d

    def document(self, spec: Spec) -> Document:
        return self._by_origin[(spec.file, spec.index)]

    def span(self, spec: Spec, pointer: str, *, key: bool = False) -> Span:
        """The span of `pointer` inside the document of `spec`."""
        return self.document(spec).span(pointer, key=key)

    def defined_here(self, spec: Spec, message: str = "defined here") -> Label:
        """A secondary label pointing at the name of `spec`."""
        return Label(self.span(spec, "/metadata/name"), message)

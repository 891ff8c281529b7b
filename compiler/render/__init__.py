"""Render stage: PipelineGraph -> Bundle (repo-relative path -> text), one module per target.

Input: the IR only (import-linter forbids spec, load, validate and config here). Output: a
`Bundle`, a pure, deterministic function of the IR and the Charter version: sorted paths, no
timestamps, a header on every file saying it is generated and from which specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from compiler.render.registry import TARGETS, load_target

if TYPE_CHECKING:
    from compiler.render.memo import RenderMemo, Stored


@dataclass(frozen=True, slots=True)
class Bundle:
    """The intermediate state between the IR and the files on disk: path -> text, sorted."""

    files: dict[str, str | Stored] = field(default_factory=dict)  # Stored: a file the memo knows unchanged

    def texts(self) -> dict[str, str]:
        from compiler.render.memo import text_of

        return {path: text_of(value) for path, value in self.files.items()}

    def merged(self, other: dict[str, str | Stored] | dict[str, str]) -> Bundle:
        clash = set(self.files) & set(other)
        if clash:  # two targets writing one file is a bug in a target, not in the specs
            raise ValueError(f"targets write the same file: {sorted(clash)}")
        return Bundle(dict(sorted({**self.files, **other}.items())))


def render_graph(graph, targets: list[str], out: str, versions: dict[str, str] | None = None,
                 memo: RenderMemo | None = None) -> Bundle:
    """Render the given targets; `out` is the output folder, relative to the repository.

    `versions` (model -> promoted version, from `charter.lock`) is what deployment configs
    serve; it reaches renderers as `graph.project["versions"]`. `memo` returns the files of
    unchanged models (and of an unchanged graph) as they were rendered before: the same bytes.
    """
    if versions:
        graph = replace(graph, project={**graph.project, "versions": dict(sorted(versions.items()))})
    return _render(graph, targets, out, memo)


def _render(graph, targets: list[str], out: str, memo: RenderMemo | None = None) -> Bundle:
    bundle = Bundle()
    for name in targets:
        bundle = bundle.merged(memo.target(name, graph, out) if memo is not None else load_target(name)(graph, out))
    return bundle


__all__ = ["TARGETS", "Bundle", "render_graph"]

"""Render stage: PipelineGraph -> Bundle (repo-relative path -> text), one module per target.

Input: the IR only (import-linter forbids spec, load, validate and config here). Output: a
`Bundle`, a pure, deterministic function of the IR and the Charter version: sorted paths, no
timestamps, a header on every file saying it is generated and from which specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from compiler.render.registry import TARGETS, load_target


@dataclass(frozen=True, slots=True)
class Bundle:
    """The intermediate state between the IR and the files on disk: path -> text, sorted."""

    files: dict[str, str] = field(default_factory=dict)

    def merged(self, other: dict[str, str]) -> Bundle:
        clash = set(self.files) & set(other)
        if clash:  # two targets writing one file is a bug in a target, not in the specs
            raise ValueError(f"targets write the same file: {sorted(clash)}")
        return Bundle(dict(sorted({**self.files, **other}.items())))


def render_graph(graph, targets: list[str], out: str, versions: dict[str, str] | None = None) -> Bundle:
    """Render the given targets; `out` is the output folder, relative to the repository.

    `versions` (model -> promoted version, from `charter.lock`) is what deployment configs
    serve; it reaches renderers as `graph.project["versions"]`.
    """
    if versions:
        graph = replace(graph, project={**graph.project, "versions": dict(sorted(versions.items()))})
    return _render(graph, targets, out)


def _render(graph, targets: list[str], out: str) -> Bundle:
    bundle = Bundle()
    for name in targets:
        bundle = bundle.merged(load_target(name)(graph, out))
    return bundle


__all__ = ["TARGETS", "Bundle", "render_graph"]

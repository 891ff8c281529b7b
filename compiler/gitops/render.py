"""Render a revision's generated files in memory, for the plan's list of files that change."""

from __future__ import annotations


def render_all(graph, out: str, versions: dict | None = None) -> dict[str, str]:
    """Every file `charter compile` writes for this graph: `ir` and charter.yaml's targets."""
    from compiler.render import render_graph
    from compiler.render.registry import TARGETS

    targets = [t for t in dict.fromkeys(["ir", *graph.project.get("targets", [])]) if t in TARGETS]
    return render_graph(graph, targets, out, versions).texts()


def lock_versions(lock: object) -> dict[str, str]:
    models = lock.get("models", {}) if isinstance(lock, dict) else {}
    return {m: e["version"] for m, e in models.items() if isinstance(e, dict) and isinstance(e.get("version"), str)}

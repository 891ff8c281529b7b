"""Target `ir`: the IR itself as canonical JSON (`<out>/ir.json`), for tools and reviews."""

from __future__ import annotations


def render(graph, out: str) -> dict[str, str]:
    if "versions" in graph.project:  # the lock's versions are for deployment configs, not the IR
        from dataclasses import replace

        graph = replace(graph, project={k: v for k, v in graph.project.items() if k != "versions"})
    return {f"{out}/ir.json": graph.to_json()}

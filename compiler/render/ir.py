"""Target `ir`: the IR itself as canonical JSON (`<out>/ir.json`), for tools and reviews."""

from __future__ import annotations


def render(graph, out: str) -> dict[str, str]:
    return {f"{out}/ir.json": graph.to_json()}

"""Render a revision's generated files in memory, for the plan's list of files that change."""

from __future__ import annotations


def render_all(graph, out: str, notes: list[str]) -> dict[str, str]:
    from compiler.render import common
    from compiler.render.registry import TARGETS, load_target

    unavailable = getattr(common, "TargetUnavailable", ImportError)
    files: dict[str, str] = {}
    for target in dict.fromkeys(["ir", *graph.project.get("targets", [])]):
        if target not in TARGETS:
            continue
        try:
            files.update(load_target(target)(graph, out))
        except unavailable as exc:
            note = f"target `{target}` not compared: {exc}"
            if note not in notes:
                notes.append(note)
    return files

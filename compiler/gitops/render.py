"""Render a revision's generated files in memory, for the plan's list of files that change."""

from __future__ import annotations


def render_all(graph, out: str, notes: list[str], versions: dict | None = None) -> dict[str, str]:
    from dataclasses import replace

    from compiler.render.common import TargetUnavailable
    from compiler.render.registry import TARGETS, load_target

    if versions:
        graph = replace(graph, project={**graph.project, "versions": dict(sorted(versions.items()))})
    files: dict[str, str] = {}
    for target in dict.fromkeys(["ir", *graph.project.get("targets", [])]):
        if target not in TARGETS:
            continue
        try:
            files.update(load_target(target)(graph, out))
        except TargetUnavailable as exc:
            note = f"target `{target}` not compared: {exc}"
            if note not in notes:
                notes.append(note)
    return files


def lock_versions(lock: object) -> dict[str, str]:
    models = lock.get("models", {}) if isinstance(lock, dict) else {}
    return {m: e["version"] for m, e in models.items() if isinstance(e, dict) and isinstance(e.get("version"), str)}

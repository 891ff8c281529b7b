"""Target `codeowners`: `.github/CODEOWNERS` from the Ownership specs.

Each spec file is owned by the Responsible and Accountable handles of the stages of the
specs it holds (a file holding a Model and a MetricSet needs both stages' owners). GitHub
applies the *last* matching pattern, so the file lists exact paths only, sorted, and
enforces them only with branch protection's "Require review from Code Owners". It is
written where GitHub reads it (`.github/`), not in the output folder.
"""

from __future__ import annotations

PATH = ".github/CODEOWNERS"
# What `render` reads of the graph: its spec files and their owners (and nothing of the models), so
# the render memo keys it by them alone and an edit that moves no owner reuses the file.
READS = ("files",)
_SPECIAL = set(" \\#!")  # characters CODEOWNERS patterns cannot hold literally


def _pattern(path: str) -> str:
    # Anchor at the repository root; escape spaces and the few characters with a meaning.
    return "/" + "".join(f"\\{c}" if c in _SPECIAL else c for c in path)


def render(graph, out: str) -> dict[str, str]:
    owners_by_file: dict[str, set[str]] = {}
    for entry in graph.files.values():
        owners_by_file.setdefault(entry["file"], set()).update(entry["owners"])
    lines = [f"{_pattern(path)} {' '.join(sorted(owners))}" for path, owners in sorted(owners_by_file.items())
             if owners]
    from compiler.render.header import header

    text = header(sorted(owners_by_file)) + "\n" + "\n".join(lines) + "\n"
    return {PATH: text}

"""`charter init`: copy the starter repository shipped in `compiler/templates/init/`.

Files whose name starts with a dot are shipped without it (package data skips dot files):
`gitignore` becomes `.gitignore`, `vscode/` becomes `.vscode/`.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path


class ScaffoldError(Exception):
    """The target folder cannot be scaffolded (it already holds Charter files)."""


_DOTTED = {"gitignore": ".gitignore", "vscode": ".vscode"}


def _files(node, prefix: str = ""):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith(("__", ".")):
            continue
        rel = f"{prefix}{_DOTTED.get(child.name, child.name) if not prefix else child.name}"
        if child.is_dir():
            yield from _files(child, rel + "/")
        else:
            yield rel, child.read_text(encoding="utf-8")


def scaffold(target: Path) -> list[Path]:
    """Write the starter files into `target`; refuses to overwrite any existing file."""
    name = re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-")[:63] or "ml-project"
    files = list(_files(resources.files("compiler.templates").joinpath("init")))
    clashes = [rel for rel, _ in files if (target / rel).exists()]
    if clashes:
        raise ScaffoldError(f"{target} already has {', '.join(clashes)}; choose an empty folder")
    written = []
    for rel, text in files:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).safe_substitute(name=name), encoding="utf-8")
        written.append(path)
    from compiler.spec.jsonschema import write_schemas  # so editors can validate the new specs

    written.extend(write_schemas(target / "schemas"))
    return written

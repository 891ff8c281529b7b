"""Project settings: find the repository root and read `charter.yaml` (kind `Project`).

Input: a starting folder. Output: the root, the `Project` settings (defaults when there is
no `charter.yaml`) and diagnostics about the settings file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.diagnostics import Diagnostic, Span, make

if TYPE_CHECKING:  # the loader and the models are imported only where settings are read, so find_root stays cheap
    from compiler.load.document import Document, SourceFile
    from compiler.spec.project import Project

CONFIG_FILE = "charter.yaml"


@dataclass(frozen=True, slots=True)
class Settings:
    """The repository root, its project settings and where they came from."""

    root: Path
    project: Project
    source: SourceFile | None = None
    document: Document | None = None


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding `charter.yaml` or `.git`; else `start`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / ".git").exists():
            return folder
    return start


def default_project() -> Project:
    from compiler.spec.project import Project

    return Project.model_validate({"apiVersion": "charter/v1", "kind": "Project", "metadata": {"name": "project"}})


def load_settings(root: Path) -> tuple[Settings, list[Diagnostic]]:
    """Read `charter.yaml` under `root`; a missing file means defaults, a bad one diagnostics."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return Settings(root, default_project()), []
    from compiler.load import load_documents
    from compiler.spec.project import Project
    from compiler.validate.schema import validate_model  # the model pass is shared with specs

    sources, docs, diags = load_documents([path], root)
    if diags or not docs:
        return Settings(root, default_project(), sources[0] if sources else None), diags
    if len(docs) > 1:
        diags.append(make("S226", "charter.yaml holds one document, the Project", docs[1].span("")))
    doc = docs[0]
    if isinstance(doc.data, dict) and doc.data.get("kind") != "Project":
        diags.append(make("S201", "charter.yaml must have `kind: Project`", doc.span("/kind")))
        return Settings(root, default_project(), sources[0]), diags
    if not isinstance(doc.data, dict):
        diags.append(make("S209", "charter.yaml must be a mapping", Span(doc.file, 1, 1)))
        return Settings(root, default_project(), sources[0]), diags
    project, problems = validate_model(doc, Project)
    diags.extend(problems)
    if project is not None:
        from compiler.validate.rules.sources import unsafe_path

        # compile writes below `output`, and plans read `specs`: both stay inside the repository
        folders = [("/spec/output", project.spec.output)]
        folders += [(f"/spec/specs/{i}", f) for i, f in enumerate(project.spec.specs)]
        if project.spec.duckdb is not None and project.spec.duckdb.spill_folder is not None:
            folders.append(("/spec/duckdb/spill_folder", project.spec.duckdb.spill_folder))  # DuckDB writes there
        bad = [(ptr, why) for ptr, value in folders if (why := unsafe_path(value) or _odd(value))]
        for ptr, why in bad:
            diags.append(make("S225", f"unsafe folder: {why}", doc.span(ptr), pointer=ptr,
                              help="give a folder inside the repository, such as `generated`"))
        constraints = project.spec.install.constraints
        if constraints is not None and (why := unsafe_path(constraints) or _odd(constraints)):
            bad.append(("/spec/install/constraints", why))
            diags.append(make("S225", f"unsafe path: {why}", doc.span("/spec/install/constraints"),
                              pointer="/spec/install/constraints",
                              help="give a file inside the repository, such as `requirements/constraints.txt`"))
        if bad:
            project = None
    return Settings(root, project or default_project(), sources[0], doc), diags


def _odd(folder: str) -> str | None:
    """Folder names that generated CI and manifests could not carry as plain text."""
    if any(c in folder for c in "\n\r\t\0") or not folder.isprintable():
        return "the name holds control characters"
    if folder.strip("/") in ("", ".", ".git") or folder.startswith(".git/"):
        return "the folder is the repository root or .git"
    return None

"""JSON Schemas of the spec language, generated from the pydantic models.

The models are the source of truth; `schemas/` holds what `charter schema` writes, and a test
keeps the committed copy in sync. Editors use them through `# yaml-language-server: $schema=`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from compiler.atomic import write_atomic
from compiler.spec import KINDS, Document
from compiler.spec.project import Project

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://charter.invalid/schemas/"


def _dump(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def kind_schema(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    name = model.__name__.lower()
    return {"$schema": DRAFT, "$id": f"{BASE_ID}{name}.schema.json", **schema}


def combined_schema() -> dict:
    """One schema for any spec document: `kind` selects the kind's schema."""
    defs: dict = {}
    branches = []
    for kind, model in KINDS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
        for def_name, body in schema.pop("$defs", {}).items():
            defs[def_name] = body
        defs[kind] = schema
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                         "then": {"$ref": f"#/$defs/{kind}"}})
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_ID}charter.schema.json",
        "title": "Charter spec document",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": {"const": "charter/v1"}, "kind": {"enum": list(KINDS)}},
        "allOf": branches,
        "$defs": defs,
    }


def render_schemas() -> dict[str, str]:
    """File name -> content, sorted, deterministic."""
    models: tuple[type[Document], ...] = (*KINDS.values(), Project)
    files = {f"{m.__name__.lower()}.schema.json": _dump(kind_schema(m)) for m in models}
    files["charter.schema.json"] = _dump(combined_schema())
    return dict(sorted(files.items()))


def write_schemas(out: Path) -> list[Path]:
    """Write every schema atomically (temp file + rename)."""
    written = []
    for name, text in render_schemas().items():
        write_atomic(out / name, text)
        written.append(out / name)
    return written


def check_schemas(out: Path) -> list[str]:
    """Names of schema files that are missing or differ from what would be written."""
    stale = []
    for name, text in render_schemas().items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale

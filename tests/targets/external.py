"""Validate generated files against the official schemas in ../shared/external-schemas.

The schemas are not ours to commit; tests that need them skip without ../shared and fail
under CI (`need_shared`). YAML is read with a YAML 1.2 reader (ruamel.yaml, as GitHub,
GitLab and Kubernetes read it), so `on:` stays a key and `0o17` a number.
"""

from __future__ import annotations

import functools
import io
import json

from jsonschema import validators
from ruamel.yaml import YAML

from tests.conftest import need_shared


def load_yaml_all(text: str) -> list:
    """Every document of a YAML text, as plain Python data, read as YAML 1.2."""
    yaml = YAML(typ="safe", pure=True)
    return [d for d in yaml.load_all(io.StringIO(text)) if d is not None]


@functools.cache
def schema(name: str) -> dict:
    return json.loads((need_shared() / "external-schemas" / name).read_text(encoding="utf-8"))


@functools.cache
def strict_argo(kind: str) -> dict:
    """A copy of Argo's schema that forbids unknown fields, aimed at one kind.

    Argo's schema does not forbid them. The kind is `Workflow`, `WorkflowTemplate` or
    `CronWorkflow`, as ../shared/TARGETS.md describes.
    """
    base = json.loads(json.dumps(schema("argo-workflows-v4.1.2.schema.json")))
    for d in base["definitions"].values():
        if d.get("type") == "object" and "properties" in d and "additionalProperties" not in d:
            d["additionalProperties"] = False
    return {"$schema": base["$schema"], "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}",
            "definitions": base["definitions"]}


def errors(doc, schema_doc: dict) -> list[str]:
    """Every schema violation of `doc`, as `path: message` lines (empty when valid)."""
    cls = validators.validator_for(schema_doc)
    found = sorted(cls(schema_doc, format_checker=cls.FORMAT_CHECKER).iter_errors(doc), key=str)
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in found]

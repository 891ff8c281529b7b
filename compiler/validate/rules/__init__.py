"""Semantic rules, one module each; the module docstring is the rule's documentation.

Each module defines `CODES` (the codes it may report) and `check(ctx) -> Iterator[Diagnostic]`.
The tuple below is the registry: a literal list, in the order rules run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

RULES: tuple[str, ...] = (
    "text",
    "duplicates",
    "references",
    "ownership",
    "sources",
    "feast",
    "engines",
    "suites",
    "models",
    "estimator",
    "limits",
    "compute",
    "pods",
    "metrics",
    "windows",
    "retrain",
    "sample",
    "rollout",
    "serving",
    "waivers",
)


def load_rules() -> list[ModuleType]:
    """Import every registered rule module."""
    return [importlib.import_module(f"compiler.validate.rules.{name}") for name in RULES]

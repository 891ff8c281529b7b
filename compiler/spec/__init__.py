"""Spec stage: the pydantic models of the Charter language, one module per kind; no I/O.

Input: nothing (definitions). Output: `KINDS`, the model of each kind, and `SpecSet`, the
validated specs of one tree or git revision indexed by kind and name.
"""

from __future__ import annotations

from compiler.spec.base import API_VERSION, Document
from compiler.spec.datasource import DataSource
from compiler.spec.metricset import MetricSet
from compiler.spec.model import Model
from compiler.spec.ownership import Ownership
from compiler.spec.project import Project
from compiler.spec.rollout import RolloutPolicy
from compiler.spec.specset import Spec, SpecSet
from compiler.spec.suite import ValidationSuite

KINDS: dict[str, type[Document]] = {
    "DataSource": DataSource,
    "ValidationSuite": ValidationSuite,
    "Model": Model,
    "MetricSet": MetricSet,
    "Ownership": Ownership,
    "RolloutPolicy": RolloutPolicy,
}

__all__ = [
    "API_VERSION", "KINDS", "DataSource", "Document", "MetricSet", "Model", "Ownership", "Project",
    "RolloutPolicy", "Spec", "SpecSet", "ValidationSuite",
]  # fmt: skip

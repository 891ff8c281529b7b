"""`Project`: the optional `charter.yaml` at the repository root."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from compiler.spec.base import Document, Name, Strict

TARGETS = ("github", "gitlab", "argo", "airflow", "kubeflow", "kubernetes", "codeowners", "docs")
Target = Literal["github", "gitlab", "argo", "airflow", "kubeflow", "kubernetes", "codeowners", "docs"]


class AirflowOptions(Strict):
    """How Airflow DAGs run each step."""

    operator: Literal["kubernetes", "bash"] = Field("kubernetes", description="KubernetesPodOperator or BashOperator.")


class ProjectSpec(Strict):
    """The `spec` of the Project."""

    specs: list[str] = Field(default_factory=lambda: ["specs"], min_length=1, description="Folders holding specs.")
    output: str = Field("generated", min_length=1, description="Folder of generated files.")
    image: str | None = Field(None, max_length=300, description="Container image that has `charter` installed.")
    artifact_store: str = Field(".charter/artifacts", min_length=1, description="Local folder or fsspec URL.")
    base_branch: str = Field("main", min_length=1, max_length=200, description="Branch that plans compare against.")
    targets: list[Target] = Field(default_factory=lambda: list(TARGETS), description="Targets `compile` renders.")
    default_ownership: Name | None = Field(None, description="Ownership for specs no Ownership covers.")
    tracking: Literal["none", "mlflow"] = Field("none", description="Experiment tracking backend.")
    airflow: AirflowOptions = Field(default_factory=AirflowOptions)


class Project(Document):
    """Repository-wide settings, read from `charter.yaml`."""

    kind: Literal["Project"]
    spec: ProjectSpec = Field(default_factory=ProjectSpec)

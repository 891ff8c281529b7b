"""`Ownership`: who is Responsible, Accountable, Consulted and Informed for each stage."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from compiler.spec.base import Document, Handle, Name, Strict

STAGES = ("data", "validation", "model", "evaluation", "deployment", "monitoring", "project")


def _one_accountable(value: object) -> object:
    if isinstance(value, list):
        raise PydanticCustomError(
            "charter_raci_accountable",
            "a stage has exactly one Accountable, not a list of {count}",
            {"count": len(value)},
        )
    return value


def _some_responsible(value: object) -> object:
    if value is None or value == []:
        raise PydanticCustomError("charter_raci_responsible", "a stage needs at least one Responsible")
    return value


class Raci(Strict):
    """The RACI of one stage: who does the work, who answers for it, who is asked and who is told."""

    responsible: Annotated[list[Handle], BeforeValidator(_some_responsible)] = Field(
        description="Who does the work (at least one)."
    )
    accountable: Annotated[Handle, BeforeValidator(_one_accountable)] = Field(
        description="The one person or team who answers for the stage and approves its changes."
    )
    consulted: list[Handle] = Field(default_factory=list, description="Asked for review before changes.")
    informed: list[Handle] = Field(default_factory=list, description="Told after changes.")


class RaciMatrix(Strict):
    """RACI per stage of the ML lifecycle; stages left out have no owners of their own."""

    data: Raci | None = None
    validation: Raci | None = None
    model: Raci | None = None
    evaluation: Raci | None = None
    deployment: Raci | None = None
    monitoring: Raci | None = None
    project: Raci | None = Field(
        None, description="Who owns `charter.yaml` (image, artifact store, targets), which every pipeline and "
        "deployment depends on; without one, the project's `default_ownership` does."
    )


class OwnershipSpec(Strict):
    """The `spec` of an Ownership."""

    covers: list[Name] = Field(min_length=1, description="Names of the specs these owners cover.")
    raci: RaciMatrix


class Ownership(Document):
    """Owners of a group of specs, as a RACI matrix per lifecycle stage."""

    kind: Literal["Ownership"]
    spec: OwnershipSpec

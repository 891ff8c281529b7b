"""Types shared by every kind: names, handles, durations, metadata and the document envelope."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from compiler.plain import SPEC_NAME

API_VERSION = "charter/v1"

_NAME = re.compile(SPEC_NAME + r"\Z")
# GitHub user names (39 chars, alphanumerics and single inner hyphens) and org/team slugs.
_HANDLE = re.compile(r"@[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?\Z")
_DURATION = re.compile(r"(?:[0-9]{1,6}[smhdw])+\Z")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,2}\Z")
_QUANTITY = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:m|k|M|G|T|Ki|Mi|Gi|Ti)?\Z")
_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,127}\Z")
_SIZE = re.compile(r"([0-9]{1,9})(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\Z")
_SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip
# Kubernetes label syntax (labels reach manifests): a name part of at most 63 characters, and a
# key that may carry a DNS-subdomain prefix of at most 253 characters before `/`.
_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_PREFIX = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*"
_LABEL_KEY = re.compile(rf"(?:(?=[^/]{{1,253}}/){_LABEL_PREFIX}/)?{_LABEL_NAME}\Z")
_LABEL_VALUE = re.compile(rf"(?:{_LABEL_NAME})?\Z")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise PydanticCustomError(
            "charter_name",
            "`{shown}` is not a valid name: use at most 63 lowercase letters, digits and `-`, "
            "starting and ending with a letter or digit",
            {"shown": value[:80]},
        )
    return value


def _handle(value: str) -> str:
    if not _HANDLE.match(value):
        raise PydanticCustomError(
            "charter_handle", "`{shown}` is not an owner handle like `@user` or `@org/team`", {"shown": value[:80]}
        )
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise PydanticCustomError(
            "charter_duration", "`{shown}` is not a duration like `30m`, `24h` or `7d`", {"shown": value[:80]}
        )
    return value


def _column(value: str) -> str:
    if not _COLUMN.match(value):
        raise PydanticCustomError(
            "charter_column",
            "`{shown}` is not a column name: use letters, digits and `_`, not starting with a digit",
            {"shown": value[:80]},
        )
    return value


def _table(value: str) -> str:
    if not _TABLE.match(value):
        raise PydanticCustomError(
            "charter_table",
            "`{shown}` is not a table name: use `table`, `database.table` or `catalog.database.table`, each of "
            "letters, digits and `_`, not starting with a digit",
            {"shown": value[:80]},
        )
    return value


def _env(value: str) -> str:
    if not _ENV.match(value):
        raise PydanticCustomError(
            "charter_env", "`{shown}` is not an environment variable name like `CHURN_DB_URL`", {"shown": value[:80]}
        )
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise PydanticCustomError(
            "charter_quantity", "`{shown}` is not a Kubernetes quantity like `500m`, `2` or `512Mi`",
            {"shown": value[:40]},
        )
    return value


def _size(value: str) -> str:
    if not _SIZE.match(value):
        raise PydanticCustomError(
            "charter_size", "`{shown}` is not a size like `500MB` or `2GiB`", {"shown": value[:40]})
    return value


def size_bytes(value: str) -> int:
    """`500MB` -> 500000000, `2GiB` -> 2147483648 (a `Size` that validated)."""
    match = _SIZE.match(value)
    assert match is not None, value
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def _label_key(value: str) -> str:
    if not _LABEL_KEY.match(value):
        raise PydanticCustomError(
            "charter_label", "`{shown}` is not a Kubernetes label key",
            {"shown": value[:80], "help": "use an optional DNS-subdomain prefix and `/`, then a name of at most 63 "
                                          "letters, digits, `-`, `_` and `.`, starting and ending with a letter or "
                                          "digit, such as `team` or `acme.com/cost-center`"},
        )
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise PydanticCustomError(
            "charter_label", "`{shown}` is not a Kubernetes label value",
            {"shown": value[:80], "help": "use at most 63 letters, digits, `-`, `_` and `.`, starting and ending "
                                          "with a letter or digit, or an empty string"},
        )
    return value


def _pattern(regex: re.Pattern, description: str) -> WithJsonSchema:
    # The JSON Schema carries the same rule as the validator, for editors.
    return WithJsonSchema({"type": "string", "pattern": "^" + regex.pattern.removesuffix("\\Z") + "$",
                           "description": description})


Name = Annotated[str, AfterValidator(_name), _pattern(_NAME, "A DNS-1123 label: lowercase letters, digits, `-`.")]
Handle = Annotated[str, AfterValidator(_handle), _pattern(_HANDLE, "An owner handle: `@user` or `@org/team`.")]
Duration = Annotated[str, AfterValidator(_duration), _pattern(_DURATION, "A duration such as `30m`, `24h`, `7d`.")]
Column = Annotated[str, AfterValidator(_column), _pattern(_COLUMN, "A column name.")]
TableName = Annotated[str, AfterValidator(_table), _pattern(
    _TABLE, "A table name, optionally after its database and catalog: `events`, `sales.events`.")]
EnvVar = Annotated[str, AfterValidator(_env), _pattern(_ENV, "An environment variable name.")]
Size = Annotated[str, AfterValidator(_size), _pattern(_SIZE, "A size: digits and a unit, `B`, `KB`, `MB`, `GB`, "
                                                             "`TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB`.")]
Quantity = Annotated[str, AfterValidator(_quantity), _pattern(_QUANTITY, "A Kubernetes quantity: `500m`, `512Mi`.")]
# No schema on the key type: pydantic would publish it as `patternProperties`, which lets other
# keys through; the `labels` field carries it as `propertyNames` instead.
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value),
                       _pattern(_LABEL_VALUE, "A Kubernetes label value: at most 63 characters, or empty.")]
Severity = Literal["error", "warn"]
# A number a threshold can be compared with: `.nan`, `.inf` and `1.0e+400` (infinite once read)
# are refused, since a NaN bound passes every check and neither can be written to JSON.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    """Base of every spec model: unknown fields are errors, models are immutable values."""

    # defer_build: a model's validator is built when it is first used, not when its class is: each
    # kind's then covers its nested models once, where building every class at import built them
    # twice (importing compiler.spec 0.38 s -> 0.23 s; validating 1,000 specs 0.10 s -> 0.17 s).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Metadata(Strict):
    """Identity of a spec: its name (a DNS-1123 label, since names become Kubernetes, Argo and
    Airflow identifiers), a description and free-form labels.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    name: Name = Field(description="Unique name of the spec within its kind; other specs refer to it by this name.")
    description: str | None = Field(None, max_length=2000, description="One or two sentences for people.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Labels copied to generated resources, in Kubernetes' label syntax.",
        json_schema_extra={"propertyNames": _pattern(_LABEL_KEY, "A Kubernetes label key.").json_schema})


class Waiver(Strict):
    """A reviewed exception: lets one failing gate, or changes of one plan risk rule, through
    until `expires`. Adding or editing a waiver is itself a change the Accountable approves,
    and `approver` must approve it too; `charter plan` lists every active waiver.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    gate: str | None = Field(None, max_length=200, description="A gate id (`metricset:metric`, see `charter run`).")
    rule: str | None = Field(None, pattern=r"^P[0-9]{3}$", description="A plan risk rule id, such as `P103`.")
    reason: str = Field(min_length=10, max_length=1000, description="Why this is acceptable, for the audit trail.")
    approver: Handle = Field(description="Who grants the waiver; their approval is required.")
    expires: date = Field(description="Last day the waiver applies (UTC), such as `2026-12-31`.")

    @model_validator(mode="after")
    def _one_target(self) -> Waiver:
        if (self.gate is None) == (self.rule is None):
            raise PydanticCustomError("charter_option", "a waiver names exactly one of `gate` or `rule`")
        return self


class Document(Strict):
    """The envelope every kind shares: `apiVersion`, `kind`, `metadata`, `spec`."""

    api_version: Literal["charter/v1"] = Field(alias="apiVersion", description="Always `charter/v1`.")
    metadata: Metadata
    waivers: list[Waiver] = Field(default_factory=list, description="Reviewed exceptions with an expiry date.")

    if TYPE_CHECKING:
        # Every kind declares `kind` and `spec` with its own types (`Literal["Model"]`, `ModelSpec`);
        # declared here too, for the type checker only, so code holding a document of any kind can
        # read them. pydantic never sees these two: they are not fields of the envelope itself.
        kind: str
        spec: Any

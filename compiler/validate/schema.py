"""The model pass: one pydantic validation per document, its errors turned into diagnostics.

pydantic reports a `loc` tuple; we walk it through the document's data to get a JSON pointer
(skipping union tags and member names, which are not in the data), then look the pointer up
in the positions the loader recorded. That is how schema errors get `file:line:col`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from compiler.diagnostics import Diagnostic, make
from compiler.diagnostics.suggest import did_you_mean, suggestion
from compiler.load.document import Document, escape_token
from compiler.spec import API_VERSION, KINDS
from compiler.spec import Document as SpecDocument

M = TypeVar("M", bound=BaseModel)

_TYPE_ERRORS = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number", "bool_type": "a boolean",
    "dict_type": "a mapping", "list_type": "a list", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "tuple_type": "a list", "int_from_float": "a whole number", "int_parsing": "an integer",
    "float_parsing": "a number", "bool_parsing": "a boolean", "none_required": "null",
    "string_sub_type": "a string", "literal_error": None,
}  # fmt: skip
_CUSTOM = {
    "charter_name": "S207", "charter_handle": "S208", "charter_duration": "S220", "charter_option": "S226",
    "charter_quantity": "S206", "charter_resource": "S230",
    "charter_column": "S206", "charter_table": "S206", "charter_env": "S206", "charter_value": "S206",
    "charter_label": "S228",
    "charter_raci_accountable": "S211", "charter_raci_responsible": "S212",
}  # fmt: skip


def describe(value: object) -> str:
    """What a value is, in words, without echoing it (it may be a secret)."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), "a value")  # fmt: skip


def check_document(doc: Document) -> tuple[SpecDocument | None, list[Diagnostic]]:
    """Validate one document against its kind's model."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [make("S209", f"a spec document must be a mapping, not {describe(data)}", doc.span(""),
                           help="start the document with `apiVersion: charter/v1` and `kind: ...`")]
    diags: list[Diagnostic] = []
    api = data.get("apiVersion")
    if api != API_VERSION:
        if "apiVersion" not in data:
            diags.append(make("S204", "missing required field `apiVersion`", doc.span(""), pointer="",
                              help=f"add `apiVersion: {API_VERSION}`"))
        else:
            diags.append(make("S202", "unsupported `apiVersion`", doc.span("/apiVersion"), pointer="/apiVersion",
                              help=f"this version of Charter reads `{API_VERSION}`"))
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        if "kind" not in data:
            diags.append(make("S204", "missing required field `kind`", doc.span(""), pointer="",
                              help=suggestion("", KINDS)))
        elif kind == "Project":
            diags.append(make("S201", "a `Project` belongs in `charter.yaml` at the repository root",
                              doc.span("/kind"), pointer="/kind"))
        else:
            shown = kind if isinstance(kind, str) else describe(kind)
            diags.append(make("S201", f"unknown kind `{shown[:60]}`", doc.span("/kind"), pointer="/kind",
                              help=suggestion(shown, KINDS)))
        return None, diags
    if diags:
        return None, diags
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, list(_errors(doc, model, exc))


def validate_model(doc: Document, model: type[M]) -> tuple[M | None, list[Diagnostic]]:
    """Validate a document against an explicit model (used for `charter.yaml`)."""
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, list(_errors(doc, model, exc))


def _errors(doc: Document, model: type[BaseModel], exc: ValidationError) -> Iterator[Diagnostic]:
    errors = exc.errors(include_url=False, include_input=True)
    # A misspelt field shows up twice: as unknown (`colum`) and as missing (`column`). Report it
    # once, as the unknown field whose "did you mean" names the missing one.
    misspelt = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            parent = err["loc"][:-1]
            for close in did_you_mean(str(err["loc"][-1]), _fields_at(model, parent)):
                misspelt.add((*parent, close))
    seen: set[tuple[str, str, str]] = set()
    for err in errors:
        if err["type"] == "missing" and tuple(err["loc"]) in misspelt:
            continue
        pointer, rest = _pointer(doc.data, err["loc"])
        named = err["type"] in ("missing", "extra_forbidden")
        key = (pointer, err["type"] if named else "", str(err["loc"][-1]) if named else "")
        if key in seen:
            continue  # one cause, one diagnostic: union members each report the same value
        seen.add(key)
        yield _diagnostic(doc, model, err, pointer, rest)


def _pointer(data: object, loc: tuple) -> tuple[str, list]:
    """Walk `loc` through the data; returns the pointer and the loc items that matched nothing."""
    ptr, cur, rest = "", data, []
    for item in loc:
        if isinstance(cur, dict) and isinstance(item, str) and item in cur:
            ptr, cur = f"{ptr}/{escape_token(item)}", cur[item]
        elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
            ptr, cur = f"{ptr}/{item}", cur[item]
        else:
            rest.append(item)
    return ptr, rest


def _diagnostic(doc: Document, model: type[BaseModel], err: ErrorDetails, ptr: str, rest: list) -> Diagnostic:
    etype, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    loc = err["loc"]
    if etype == "missing":
        field = str(loc[-1])
        return make("S204", f"missing required field `{field}`", doc.span(ptr, key=True), pointer=ptr)
    if etype == "extra_forbidden":
        field = str(loc[-1])
        allowed = _fields_at(model, loc[:-1])
        close = did_you_mean(field, allowed)
        hint = (f"did you mean `{close[0]}`?" if close else
                ("known fields: " + ", ".join(f"`{f}`" for f in sorted(allowed))) if allowed else None)
        return make("S203", f"unknown field `{field[:80]}`", doc.span(ptr, key=True), pointer=ptr, help=hint)
    if etype == "union_tag_invalid":
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        shown = str(ctx.get("tag", ""))[:60]
        return make("S206", f"unknown {ctx.get('discriminator', 'tag').strip(chr(39))} `{shown}`",
                    doc.span(ptr + "/rule" if isinstance(value, dict) and "rule" in value else ptr),
                    pointer=ptr, help=suggestion(shown, tags))
    if etype == "union_tag_not_found":
        return make("S204", f"missing required field {ctx.get('discriminator', '`rule`')}".replace("'", "`"),
                    doc.span(ptr), pointer=ptr)
    if etype in _CUSTOM:
        # A whole-mapping problem (fields that do not go together) points at the mapping's key,
        # and so does a bad key (pydantic ends its `loc` with `[key]`).
        key = isinstance(value, dict) or rest[-1:] == ["[key]"]
        return make(_CUSTOM[etype], err["msg"], doc.span(ptr, key=key), pointer=ptr, help=ctx.get("help"))
    if etype == "literal_error":
        expected = [e.strip().strip("'") for e in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        got = value if isinstance(value, str) else describe(value)
        return make("S206", f"`{str(got)[:60]}` is not one of the allowed values",
                    doc.span(ptr, key=rest[-1:] == ["[key]"]), pointer=ptr, help=suggestion(str(got), expected))
    if etype in _TYPE_ERRORS:
        wanted = _TYPE_ERRORS[etype]
        hint = None
        if wanted == "a string" and isinstance(value, (int, float, bool)):
            hint = "YAML read this as a number or boolean; quote it to keep it a string"
        return make("S205", f"expected {wanted}, got {describe(value)}", doc.span(ptr), pointer=ptr, help=hint)
    # Ranges, lengths and patterns: pydantic's message names the bound, not the input value.
    return make("S206", err["msg"][0].lower() + err["msg"][1:], doc.span(ptr), pointer=ptr)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names (aliases) allowed at `loc`, for "did you mean"."""
    current: object = model
    for item in loc:
        current = _step(current, item)
        if current is None:
            return []
    current = _strip(current)
    members = typing.get_args(current) if typing.get_origin(current) in (typing.Union, types.UnionType) else (current,)
    return [f.alias or name for m in map(_strip, members) if isinstance(m, type) and issubclass(m, BaseModel)
            for name, f in m.model_fields.items()]


def _strip(tp: object) -> object:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _step(tp: object, item: object) -> object:
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [_strip(a) for a in typing.get_args(tp)]
        for m in members:  # a discriminated union's loc carries the tag
            if isinstance(m, type) and issubclass(m, BaseModel) and "rule" in m.model_fields:
                if item in typing.get_args(m.model_fields["rule"].annotation):
                    return m
        for m in members:
            found = _step(m, item)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if item in (name, f.alias):
                return f.annotation
        return None
    if origin in (list, tuple) and isinstance(item, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None

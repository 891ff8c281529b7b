"""The columns a spec can see: a DataSource's schema, reshaped by a suite's prepare steps.

Shared by the rules that check column names and expressions, so that all of them agree on
what `rename`, `drop_columns` and `standardize` do to the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from compiler.diagnostics import Diagnostic, Span, make
from compiler.diagnostics.suggest import suggestion
from compiler.load.document import escape_token
from compiler.spec import Spec
from compiler.validate.context import Context

# Column type -> expression type.
EXPR_TYPE = {"integer": "number", "float": "number", "string": "string", "category": "string",
             "boolean": "boolean", "datetime": "datetime", "date": "datetime"}  # fmt: skip
NUMERIC = {"integer", "float"}
TEXT = {"string", "category"}
TEMPORAL = {"datetime", "date"}


@dataclass(frozen=True, slots=True)
class Frame:
    """Column name -> column type, after some prepare steps."""

    columns: dict[str, str]

    def expr_columns(self) -> dict[str, str]:
        return {name: EXPR_TYPE[t] for name, t in self.columns.items()}


def source_frame(source: Spec) -> Frame:
    return Frame({c.name: c.type for c in source.model.spec.columns})


def prepared_frame(ctx: Context, suite: Spec, base: Frame, report: bool = False) -> tuple[Frame, list[Diagnostic]]:
    """Apply the suite's prepare steps to `base`; with `report`, flag unknown columns on the way."""
    cols = dict(base.columns)
    diags: list[Diagnostic] = []
    for i, step in enumerate(suite.model.spec.prepare):
        op, args = step.op, step.args
        ptr = f"/spec/prepare/{i}/{op}"
        if op == "rename":
            for old, new in args.mapping.items():
                if old not in cols:
                    if report:
                        diags.append(unknown_column(ctx, suite, f"{ptr}/mapping/{escape_token(old)}", old, cols, key=True))
                    continue
                cols[new] = cols.pop(old)
            continue
        for j, col in _step_columns(op, args):
            if col not in cols and report:
                diags.append(unknown_column(ctx, suite, f"{ptr}/{j}", col, cols))
        if op == "drop_columns":
            for col in args.columns:
                cols.pop(col, None)
        elif op == "standardize" and args.mapping is None and args.column in cols:
            cols[args.column] = "boolean"
    return Frame(cols), diags


def _step_columns(op: str, args) -> Iterator[tuple[str, str]]:
    if hasattr(args, "column"):
        yield "column", args.column
    for field in ("columns", "keys"):
        for k, col in enumerate(getattr(args, field, None) or ()):
            yield f"{field}/{k}", col


def unknown_column(ctx: Context, spec: Spec, pointer: str, name: str, cols, *, key: bool = False,
                   where: str = "") -> Diagnostic:
    return make("X304", f"unknown column `{name}`" + (f" {where}" if where else ""), ctx.span(spec, pointer, key=key),
                pointer=pointer, help=suggestion(name, cols, "columns"))


def expr_span(ctx: Context, spec: Spec, pointer: str, text: str, offset: int, length: int = 1) -> Span:
    """The span of `offset` inside an expression value: exact for one-line plain or quoted scalars."""
    whole = ctx.span(spec, pointer)
    if whole.end_line != whole.line or whole.end_col is None:
        return whole
    width = whole.end_col - whole.col
    shift = 1 if width == len(text) + 2 else 0 if width == len(text) else None
    if shift is None:  # escapes inside a quoted string: positions no longer line up
        return whole
    col = whole.col + shift + offset
    return Span(whole.file, whole.line, col, whole.line, col + max(1, length))


def check_expression(ctx: Context, spec: Spec, pointer: str, text: str, columns: dict[str, str],
                     want: str = "boolean", noun: str = "column") -> list[Diagnostic]:
    """Diagnostics for one expression: S218 (not in the language), X304 (unknown name), X308 (types)."""
    from compiler import expr

    diags = []
    for p in expr.check(text, columns, want):
        length = len(p.name) if p.name else 1
        span = expr_span(ctx, spec, pointer, text, p.offset, length)
        if p.kind == "column":
            message = p.message if noun == "column" else p.message.replace("column", noun)
            diags.append(make("X304", message, span, pointer=pointer, help=suggestion(p.name, columns, f"{noun}s")))
        elif p.kind == "type":
            diags.append(make("X308", p.message, span, pointer=pointer))
        else:
            hint = suggestion(p.name, expr.FUNCTIONS, "functions") if p.name else (
                "see `charter explain S218` for the expression language")
            diags.append(make("S218", p.message, span, pointer=pointer, help=hint))
    return diags

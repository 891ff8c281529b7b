"""Column diagnostics shared by the rules: unknown columns, expression problems, and spans inside expression strings.

The column arithmetic itself is in `compiler.spec.frames`.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.diagnostics import Diagnostic, Span, make
from compiler.diagnostics.suggest import suggestion
from compiler.spec import Spec
from compiler.spec.frames import EXPR_TYPE, NUMERIC, TEMPORAL, TEXT, prepare_steps, source_columns
from compiler.validate.context import Context

__all__ = ["NUMERIC", "TEMPORAL", "TEXT", "Frame", "check_expression", "expr_span", "prepared_frame",
           "source_frame", "unknown_column"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Frame:
    """Column name -> column type, after some prepare steps."""

    columns: dict[str, str]

    def expr_columns(self) -> dict[str, str]:
        return {name: EXPR_TYPE[t] for name, t in self.columns.items()}


def source_frame(source: Spec) -> Frame:
    return Frame(source_columns(source.model))


def prepared_frame(ctx: Context, suite: Spec, base: Frame, report: bool = False) -> tuple[Frame, list[Diagnostic]]:
    """Apply the suite's prepare steps to `base`; with `report`, flag unknown columns on the way."""
    cols = dict(base.columns)
    diags: list[Diagnostic] = []
    mistyped: list[tuple[str, str, str, str]] | None = [] if report else None
    for pointer, name in prepare_steps(suite.model, cols, mistyped):
        if report:
            diags.append(unknown_column(ctx, suite, pointer, name, cols, key="/mapping/" in pointer))
    for pointer, name, kind, what in mistyped or ():
        first = "a `value` or `strategy: mode` fills a column of any type" if what.startswith("`fill_null`") \
            else "`clip` bounds numbers"
        diags.append(make("X308", f"{what} needs a number column, `{name}` is {kind} at this step",
                          ctx.span(suite, pointer), pointer=pointer,
                          help=f"{first}; numbers read as text are declared `integer` or `float` in the "
                               "DataSource's schema"))
    return Frame(cols), diags


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
                     want: str = "boolean", noun: str = "column", windows: bool = False) -> list[Diagnostic]:
    """Diagnostics for one expression: S218 (not in the language), X304 (unknown name), X308 (types).

    `windows` allows `lag` and `diff` (a data rule's expression, which sees the rows in order).
    """
    from compiler import expr

    diags = []
    for p in expr.check(text, columns, want, windows):
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

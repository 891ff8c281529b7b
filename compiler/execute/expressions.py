"""Charter's expression language translated into polars expressions (vectorised; never `eval`).

Null semantics follow SQL, as polars does: comparisons with null give null, except that
`x == null` and `x != null` test for null. Callers decide what
null means: a data rule treats it as failing (a check that cannot be confirmed did not pass),
slices and guardrails treat it as false.
"""

from __future__ import annotations

import ast
import operator
from functools import reduce

import polars as pl

from compiler import expr as language
from compiler.execute.errors import DataError

_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}  # fmt: skip
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}  # fmt: skip


def to_polars(text: str) -> pl.Expr:
    tree = language.parse(text)
    if isinstance(tree, language.Problem):
        raise DataError(f"expression `{text[:60]}`: {tree.message}")
    return _expr(tree.body)


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    raise DataError("a list may hold only literals")


def _expr(node: ast.AST) -> pl.Expr:  # noqa: C901 - one case per node type
    if isinstance(node, ast.Constant):
        return pl.lit(node.value)
    if isinstance(node, ast.Name):
        return pl.lit(_CONSTANTS[node.id]) if node.id in _CONSTANTS else pl.col(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = _expr(node.operand)
        return inner.not_() if isinstance(node.op, ast.Not) else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BoolOp):
        parts = [_expr(v) for v in node.values]
        return reduce(operator.and_ if isinstance(node.op, ast.And) else operator.or_, parts)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_expr(node.left), _expr(node.right))
    if isinstance(node, ast.Compare):
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                values = [_literal(e) for e in right.elts]  # type: ignore[attr-defined]  # validated: a list or tuple
                test = _expr(left).is_in(values)
                parts.append(test.not_() if isinstance(op, ast.NotIn) else test)
            elif _is_null(right) and isinstance(op, ast.Eq | ast.NotEq):
                # `x == null` reads as a null test, not as SQL's always-unknown comparison.
                parts.append(_expr(left).is_null() if isinstance(op, ast.Eq) else _expr(left).is_not_null())
            elif _is_null(left) and isinstance(op, ast.Eq | ast.NotEq):
                parts.append(_expr(right).is_null() if isinstance(op, ast.Eq) else _expr(right).is_not_null())
            else:
                parts.append(_COMPARE[type(op)](_expr(left), _expr(right)))
            left = right  # a < b < c means a < b and b < c
        return reduce(operator.and_, parts)
    if isinstance(node, ast.Call):
        return _call(node.func.id, [_expr(a) for a in node.args])  # type: ignore[attr-defined]  # validated: a name
    raise DataError(f"unsupported expression element {type(node).__name__}")


def _is_null(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Name) and node.id in ("null", "None"))


def _call(name: str, args: list[pl.Expr]) -> pl.Expr:
    first = args[0]
    if name == "abs":
        return first.abs()
    if name == "log":
        return first.log()
    if name == "exp":
        return first.exp()
    if name == "sqrt":
        return first.sqrt()
    if name == "round":
        return first.round(0) if len(args) == 1 else first.round(int(_literal_value(args[1])))
    if name == "min":
        return pl.min_horizontal(args)
    if name == "max":
        return pl.max_horizontal(args)
    if name == "lower":
        return first.cast(pl.String).str.to_lowercase()
    if name == "upper":
        return first.cast(pl.String).str.to_uppercase()
    if name == "length":
        return first.cast(pl.String).str.len_chars()
    if name == "is_null":
        return first.is_null()
    if name == "not_null":
        return first.is_not_null()
    if name == "coalesce":
        return pl.coalesce(args)
    raise DataError(f"unknown function `{name}`")


def _literal_value(expr: pl.Expr):
    return pl.select(expr).item()

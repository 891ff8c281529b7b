"""The engine-neutral rule plan: a ValidationSuite's rules as a small tree of typed nodes.

Input: the validate step's rule dicts (IR) and the logical type of every prepared column.
Output: a `Plan`, which `compiler.execute.engines.polars` turns into polars expressions and
`compiler.execute.engines.sql` into a SQLGlot tree, so that every engine computes the same
thing from one description. A row rule is one predicate that is true on its failing rows; a
table rule is one measure compared with its bounds (in `compiler.execute.rules`).

Null semantics are SQL's in both backends: a comparison with null is null, `and`/`or` follow
three-valued logic, and `FillFalse` turns "cannot be confirmed" into false where a rule needs it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compiler import expr as language
from compiler.execute.durations import seconds
from compiler.execute.errors import DataError

# --- expressions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Col:
    name: str


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any  # None, bool, int, float, str, date or datetime


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class Neg:
    arg: Node


@dataclass(frozen=True, slots=True)
class Arith:
    """`op` is one of `+ - * / // % **`; `kind` the result's type: integer, float or string (`+` joins text)."""

    op: str
    left: Node
    right: Node
    kind: str = "float"


@dataclass(frozen=True, slots=True)
class Cmp:
    op: str  # < <= > >= == !=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # and | or
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class IsNull:
    arg: Node
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InList:
    arg: Node
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A function of `compiler.expr.FUNCTIONS`; `round`'s digits are a literal int."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class FillFalse:
    """Null becomes false: a check that cannot be confirmed did not pass."""

    arg: Node


@dataclass(frozen=True, slots=True)
class Duplicate:
    """True on every row whose key (nulls equal) appeared on an earlier row."""

    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegexMismatch:
    """True where the value is present and does not fully match `pattern`."""

    column: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Monotonic:
    """True where a present value is below the previous present value of its group (`strict`: not above it).

    Previous is in the order of `order_by` (nulls last, ties by position), else by position;
    rows without a value are skipped, and never fail.
    """

    column: str
    strict: bool = False
    by: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    max_step: float | timedelta | None = None  # also true where the value is more than this above the previous


@dataclass(frozen=True, slots=True)
class Lag:
    """`column` of the row `offset` rows before; null where there is none.

    Rows are in the order of `order_by` (nulls last, ties by position), else by position, within
    each `by` group.
    """

    column: str
    offset: int = 1
    by: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Stale:
    """True at the newest row of each `by` partition whose newest `column` is at most `limit`, or absent.

    The newest row is the first in position order holding the partition's maximum; a partition
    without any value fails at its first row. `limit` is a date for a date column.
    """

    column: str
    by: tuple[str, ...]
    limit: date | datetime


@dataclass(frozen=True, slots=True)
class Orphan:
    """True where every key column has a value and the key is not among the keys of `Plan.references[ref]`."""

    columns: tuple[str, ...]
    ref: int


Node = Col | Lit | Not | Neg | Arith | Cmp | Logic | IsNull | InList | Call | FillFalse | Duplicate | RegexMismatch \
    | Monotonic | Lag | Stale | Orphan

def windowed(node: Node) -> bool:
    """Whether a node compares rows with other rows (a window function in SQL): unique, monotonic, lag, freshness by."""
    if isinstance(node, Duplicate | Monotonic | Lag | Stale):
        return True
    if isinstance(node, Not | Neg | FillFalse | IsNull | InList):
        return windowed(node.arg)
    if isinstance(node, Arith | Cmp):
        return windowed(node.left) or windowed(node.right)
    if isinstance(node, Logic | Call):
        return any(windowed(a) for a in node.args)
    return False


# --- rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowRule:
    spec: dict  # the IR rule, for ids and messages
    failing: Node


@dataclass(frozen=True, slots=True)
class Measure:
    """One value of the whole table: rows, null_fraction, distinct, mean, stdev, quantile or age (seconds)."""

    kind: str
    column: str | None = None
    quantile: float | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class TableRule:
    spec: dict
    measure: Measure


@dataclass(frozen=True, slots=True)
class Reference:
    """Another DataSource a foreign key reads: its reader's params (as ingest's) and its key columns."""

    ingest: dict = field(hash=False)
    columns: tuple[str, ...]
    local: tuple[str, ...]  # the columns of the checked table that look the keys up

    @property
    def source(self) -> str:
        return self.ingest["source"]


@dataclass(frozen=True, slots=True)
class Plan:
    rules: tuple[RowRule | TableRule, ...]
    columns: tuple[str, ...]  # the prepared columns the rules read, sorted
    references: tuple[Reference, ...] = ()  # the key sets foreign keys look up, one per (source, keys, columns)

    @property
    def row_rules(self) -> list[tuple[int, RowRule]]:
        return [(i, r) for i, r in enumerate(self.rules) if isinstance(r, RowRule)]

    @property
    def table_rules(self) -> list[tuple[int, TableRule]]:
        return [(i, r) for i, r in enumerate(self.rules) if isinstance(r, TableRule)]


ROW_RULES = frozenset({"not_null", "unique", "between", "in_set", "regex", "length", "compare", "not_in_future",
                       "monotonic", "foreign_key", "expression"})  # fmt: skip
_MEASURES = {"row_count": "rows", "null_fraction": "null_fraction", "distinct_count": "distinct",
             "mean_between": "mean", "stdev_between": "stdev", "quantile_between": "quantile",
             "freshness": "age"}  # fmt: skip


def is_row_rule(r: dict) -> bool:
    """Whether a rule counts failing rows (`freshness` by partition counts its stale partitions' newest rows)."""
    return r["rule"] in ROW_RULES or (r["rule"] == "freshness" and bool(r.get("by")))


def naive_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def compile_rules(rules: list[dict], types: dict[str, str], *, now: datetime) -> Plan:
    """The plan of `rules` over columns of the given logical types (integer, float, string, ...)."""
    compiled: list[RowRule | TableRule] = []
    read: set[str] = set()
    references: list[Reference] = []
    for r in rules:
        if r["rule"] == "foreign_key":
            target = r["references"]
            ref = Reference(target["ingest"], tuple(target["columns"]), tuple(r["columns"]))
            same = next((k for k, seen in enumerate(references)
                         if (seen.source, seen.columns, seen.local) == (ref.source, ref.columns, ref.local)), None)
            if same is None:
                references.append(ref)
                same = len(references) - 1
            compiled.append(RowRule(r, Orphan(tuple(r["columns"]), same)))
        elif is_row_rule(r):
            compiled.append(RowRule(r, _row(r, types, now)))
        else:
            column = r.get("column")
            compiled.append(TableRule(r, Measure(_MEASURES[r["rule"]], column, r.get("quantile"), naive_utc(now))))
        read |= rule_columns(r)
    return Plan(tuple(compiled), tuple(sorted(read)), tuple(references))


def rule_columns(r: dict) -> set[str]:
    lists = {c for key in ("columns", "by", "order_by") for c in r.get(key) or ()}
    if r["rule"] == "expression":
        return language.names(r["check"]) | lists
    return {c for key in ("column", "left", "right") if (c := r.get(key))} | lists


def _outside(value: Node, low, high, strict: bool = False) -> Node:
    parts: list[Node] = []
    if low is not None:
        parts.append(Cmp("<=" if strict else "<", value, Lit(low)))
    if high is not None:
        parts.append(Cmp(">=" if strict else ">", value, Lit(high)))
    either = parts[0] if len(parts) == 1 else Logic("or", tuple(parts))
    return Logic("and", (IsNull(value, negated=True), either))


def _row(r: dict, types: dict[str, str], now: datetime) -> Node:  # noqa: C901 - one case per rule type
    kind = r["rule"]
    if kind == "not_null":
        nulls = tuple(IsNull(Col(c)) for c in r["columns"])
        return nulls[0] if len(nulls) == 1 else Logic("or", nulls)
    if kind == "unique":
        return Duplicate(tuple(r["columns"]))
    if kind == "between":
        return _outside(Col(r["column"]), r.get("min"), r.get("max"), r.get("strict", False))
    if kind == "in_set":
        col = Col(r["column"])
        allowed = tuple(cast_values(r["values"], types.get(r["column"], "string")))
        return Logic("and", (IsNull(col, negated=True), Not(InList(col, allowed))))
    if kind == "regex":
        return RegexMismatch(r["column"], r["pattern"])
    if kind == "length":
        return _outside(Call("length", (Col(r["column"]),)), r.get("min"), r.get("max"))
    if kind == "compare":
        return Not(FillFalse(Cmp(r["op"], Col(r["left"]), Col(r["right"]))))
    if kind == "not_in_future":
        limit = naive_utc(now) + timedelta(seconds=seconds(r.get("tolerance") or "0s"))
        bound: date | datetime = limit.date() if types.get(r["column"]) == "date" else limit
        col = Col(r["column"])
        return Logic("and", (IsNull(col, negated=True), Cmp(">", col, Lit(bound))))
    if kind == "freshness":  # by partition; the whole table's is a measure
        # stale as the measure judges it: whole seconds of age (truncated) above max_age
        limit = naive_utc(now) - timedelta(seconds=seconds(r["max_age"]) + 1)
        return Stale(r["column"], tuple(r["by"]), limit.date() if types.get(r["column"]) == "date" else limit)
    if kind == "monotonic":
        step = r.get("max_step")
        return Monotonic(r["column"], bool(r.get("strict")), tuple(r.get("by") or ()), tuple(r.get("order_by") or ()),
                         timedelta(seconds=seconds(step)) if isinstance(step, str) else step)
    window = (tuple(r.get("by") or ()), tuple(r.get("order_by") or ()))
    return Not(FillFalse(expression(r["check"], types, window)))


def cast_values(values: list, kind: str) -> list:
    """The allowed values as the column's type, as a non-strict cast makes them; unconvertible ones go.

    Polars does the casting, so that both engines compare with exactly the values ingest's
    casts would produce (`"1"` is 1 for an integer column, `1.5` is 1).
    """
    import polars as pl

    dtypes: dict[str, pl.DataType] = {"integer": pl.Int64(), "float": pl.Float64(), "boolean": pl.Boolean(),
                                      "date": pl.Date(), "datetime": pl.Datetime("us")}  # fmt: skip
    dtype = dtypes.get(kind, pl.String())
    # One value at a time: a list mixing types (`[1, "2"]`) is then cast as each value would be.
    cast = [pl.Series([v]).cast(dtype, strict=False).item() for v in values]
    return [v for v in cast if v is not None]


# --- the expression language ---------------------------------------------------------------

_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def expression(text: str, types: dict[str, str] | None = None,
               window: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> Node:
    """The plan of one expression; `types` (column -> logical type) decides what `+`, `//` and `%` mean.

    `window` is the (by, order_by) of `lag` and `diff`.
    """
    tree = language.parse(text)
    if isinstance(tree, language.Problem):
        raise DataError(f"expression `{text[:60]}`: {tree.message}")
    return _Builder(types or {}, window).node(tree.body)


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    raise DataError("a list may hold only literals")


def _is_null(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Name) and node.id in ("null", "None"))


class _Builder:
    def __init__(self, types: dict[str, str], window: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())):
        self.types = types
        self.by, self.order_by = window

    def node(self, node: ast.AST) -> Node:  # noqa: C901 - one case per node type
        if isinstance(node, ast.Constant):
            return Lit(node.value)
        if isinstance(node, ast.Name):
            return Lit(_CONSTANTS[node.id]) if node.id in _CONSTANTS else Col(node.id)
        if isinstance(node, ast.UnaryOp):
            inner = self.node(node.operand)
            return Not(inner) if isinstance(node.op, ast.Not) else Neg(inner) if isinstance(node.op, ast.USub) \
                else inner
        if isinstance(node, ast.BoolOp):
            return Logic("and" if isinstance(node.op, ast.And) else "or", tuple(self.node(v) for v in node.values))
        if isinstance(node, ast.BinOp):
            left, right = self.node(node.left), self.node(node.right)
            op = _ARITH[type(node.op)]
            return Arith(op, left, right, self._arith_kind(op, left, right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            name = node.func.id  # type: ignore[attr-defined]  # validated: a plain name
            if name in language.WINDOW_FUNCTIONS:
                return self._window(name, node)
            args = tuple(self.node(a) for a in node.args)
            if name == "round" and len(args) == 2:
                args = (args[0], Lit(int(_literal(node.args[1]))))
            return Call(name, args)
        raise DataError(f"unsupported expression element {type(node).__name__}")

    def _window(self, name: str, node: ast.Call) -> Node:
        column = node.args[0].id  # type: ignore[attr-defined]  # validated: a column name
        offset = int(_literal(node.args[1])) if len(node.args) == 2 else 1
        before = Lag(column, offset, self.by, self.order_by)
        if name == "lag":
            return before
        return Arith("-", Col(column), before, self._arith_kind("-", Col(column), before))

    def _compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                values = tuple(_literal(e) for e in right.elts)  # type: ignore[attr-defined]  # validated: a list
                parts.append(InList(self.node(left), values, negated=isinstance(op, ast.NotIn)))
            elif _is_null(right) and isinstance(op, ast.Eq | ast.NotEq):
                # `x == null` reads as a null test, not as SQL's always-unknown comparison.
                parts.append(IsNull(self.node(left), negated=isinstance(op, ast.NotEq)))
            elif _is_null(left) and isinstance(op, ast.Eq | ast.NotEq):
                parts.append(IsNull(self.node(right), negated=isinstance(op, ast.NotEq)))
            else:
                parts.append(Cmp(_CMP[type(op)], self.node(left), self.node(right)))
            left = right  # a < b < c means a < b and b < c
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def kind(self, node: Node) -> str:
        if isinstance(node, Col | Lag):
            return self.types.get(node.column if isinstance(node, Lag) else node.name, "any")
        if isinstance(node, Lit):
            v = node.value
            return "boolean" if isinstance(v, bool) else "integer" if isinstance(v, int) else \
                "float" if isinstance(v, float) else "string" if isinstance(v, str) else "any"
        if isinstance(node, Arith):
            return node.kind
        if isinstance(node, Neg):
            return self.kind(node.arg)
        if isinstance(node, Call):
            if node.name in ("lower", "upper"):
                return "string"
            if node.name == "length":
                return "integer"
            if node.name in ("log", "exp", "sqrt"):
                return "float"
            kinds = {self.kind(a) for a in node.args[:1 if node.name in ("round", "abs", "coalesce") else None]}
            return kinds.pop() if len(kinds) == 1 else "float"
        return "boolean"

    def _arith_kind(self, op: str, left: Node, right: Node) -> str:
        kinds = (self.kind(left), self.kind(right))
        if op == "+" and kinds == ("string", "string"):
            return "string"
        if op in ("/", "**"):
            return "float"
        return "integer" if kinds == ("integer", "integer") else "float"

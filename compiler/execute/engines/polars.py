"""Plan -> polars expressions, evaluated over a prepared DataFrame (the in-memory engine)."""

from __future__ import annotations

import operator
import re
from datetime import timedelta
from functools import reduce

import polars as pl

from compiler.execute import plan as p
from compiler.execute.errors import DataError

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod, "**": operator.pow}  # fmt: skip
_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}  # fmt: skip


def to_expr(node: p.Node, df: pl.DataFrame | None = None) -> pl.Expr:  # noqa: C901 - one case per node type
    """The polars expression of a plan node; `df` is needed only by regular expressions Rust cannot compile."""
    if isinstance(node, p.Col):
        return pl.col(node.name)
    if isinstance(node, p.Lit):
        return pl.lit(node.value)
    if isinstance(node, p.Not):
        return to_expr(node.arg, df).not_()
    if isinstance(node, p.Neg):
        return -to_expr(node.arg, df)
    if isinstance(node, p.Arith):
        return _ARITH[node.op](to_expr(node.left, df), to_expr(node.right, df))
    if isinstance(node, p.Cmp):
        return _CMP[node.op](to_expr(node.left, df), to_expr(node.right, df))
    if isinstance(node, p.Logic):
        return reduce(operator.and_ if node.op == "and" else operator.or_, [to_expr(a, df) for a in node.args])
    if isinstance(node, p.IsNull):
        inner = to_expr(node.arg, df)
        return inner.is_not_null() if node.negated else inner.is_null()
    if isinstance(node, p.InList):
        test = to_expr(node.arg, df).is_in(list(node.values))
        return test.not_() if node.negated else test
    if isinstance(node, p.Call):
        return _call(node.name, [to_expr(a, df) for a in node.args], node)
    if isinstance(node, p.FillFalse):
        return to_expr(node.arg, df).fill_null(False)
    if isinstance(node, p.Duplicate):
        cols = list(node.columns)
        return ~(pl.col(cols[0]) if len(cols) == 1 else pl.struct(cols)).is_first_distinct()
    if isinstance(node, p.Monotonic):
        return _monotonic(node)
    if isinstance(node, p.Lag):
        return _window(pl.col(node.column).shift(node.offset), node.by, node.order_by)
    if isinstance(node, p.Stale):
        return _stale(node)
    if isinstance(node, p.RegexMismatch):
        if df is None:
            raise DataError("a regular expression rule needs its table")
        return _regex_mask(df, node.column, node.pattern)
    raise DataError(f"unsupported plan node {type(node).__name__}")


def _window(value: pl.Expr, by, order_by: tuple[str, ...]) -> pl.Expr:
    """`value` evaluated per group of `by` (columns or expressions), in the order of `order_by`, else by position."""
    groups = [pl.col(c) if isinstance(c, str) else c for c in by] or None
    if order_by:  # nulls last, ties in the table's order, as SQL's ORDER BY ..., position
        return value.over(groups, order_by=[*map(pl.col, order_by), pl.int_range(pl.len())], nulls_last=True)
    return value.over(groups) if groups else value


def _monotonic(node: p.Monotonic) -> pl.Expr:
    value = pl.col(node.column)
    # Partitioned by presence too: within the present rows, the previous row is the previous
    # present value, so a null neither fails nor breaks the sequence (as SQL's LAG does below).
    previous = _window(value.shift(1), [*node.by, value.is_not_null()], node.order_by)
    below = value <= previous if node.strict else value < previous
    if node.max_step is not None:  # a gap: further above the previous value than the step
        step = node.max_step
        above = value > previous + pl.lit(step) if isinstance(step, timedelta) else value - previous > step
        below = below | above
    return (value.is_not_null() & below).fill_null(False)


def _stale(node: p.Stale) -> pl.Expr:
    value, groups = pl.col(node.column), list(node.by)
    # arg_max: the first position of the maximum; null when the partition has no value (then its first row)
    newest_row = pl.int_range(pl.len()).over(groups) == value.arg_max().fill_null(0).over(groups)
    stale = (value.max().over(groups) <= pl.lit(node.limit)).fill_null(True)
    return newest_row & stale


def _call(name: str, args: list[pl.Expr], node: p.Call) -> pl.Expr:  # noqa: C901 - one case per function
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
        digits = node.args[1].value if len(node.args) == 2 and isinstance(node.args[1], p.Lit) else 0
        return first.round(int(digits))
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


def _regex_mask(df: pl.DataFrame, column: str, pattern: str) -> pl.Expr:
    anchored = f"^(?:{pattern})$"
    try:
        df.head(1).select(pl.col(column).cast(pl.String).str.contains(anchored))
        return pl.col(column).is_not_null() & ~pl.col(column).cast(pl.String).str.contains(anchored)
    except pl.exceptions.PolarsError:
        # The Rust regex engine lacks look-around and back-references: match the distinct
        # values with Python's `re` instead (once per value, not per row).
        compiled = re.compile(pattern)
        values = df.get_column(column).cast(pl.String).drop_nulls().unique().to_list()
        bad = [v for v in values if not compiled.fullmatch(v)]
        return pl.col(column).cast(pl.String).is_in(bad)


def measure(m: p.Measure) -> pl.Expr:
    if m.kind == "rows":
        return pl.len().cast(pl.Float64)
    col = pl.col(m.column or "")
    if m.kind == "null_fraction":
        return (col.null_count() / pl.len().clip(1)).cast(pl.Float64)
    if m.kind == "distinct":
        return col.drop_nulls().n_unique().cast(pl.Float64)
    if m.kind == "mean":
        return col.cast(pl.Float64).mean()
    if m.kind == "stdev":
        return col.cast(pl.Float64).std()
    if m.kind == "quantile":
        return col.cast(pl.Float64).quantile(m.quantile or 0.0, interpolation="linear")
    # age of the newest value, in seconds
    newest = col.max().cast(pl.Datetime("us"))
    return (pl.lit(m.now).cast(pl.Datetime("us")) - newest).dt.total_seconds().cast(pl.Float64)


_LOGICAL = {pl.Int8: "integer", pl.Int16: "integer", pl.Int32: "integer", pl.Int64: "integer", pl.UInt8: "integer",
            pl.UInt16: "integer", pl.UInt32: "integer", pl.UInt64: "integer", pl.Float32: "float",
            pl.Float64: "float", pl.String: "string", pl.Boolean: "boolean", pl.Date: "date"}  # fmt: skip


def logical_types(schema: pl.Schema) -> dict[str, str]:
    """Column -> logical type (integer, float, string, boolean, date, datetime) of a polars schema."""
    return {name: "datetime" if isinstance(dtype, pl.Datetime) else _LOGICAL.get(dtype.base_type(), "any")
            for name, dtype in schema.items()}


def orphans(df: pl.DataFrame, node: p.Orphan, keys: pl.DataFrame) -> pl.Expr:
    """The foreign key's failing rows: a key with every value present that `keys` (the referenced columns) lacks."""
    cols = list(node.columns)
    # the referenced keys as this table's types, so that the lookup compares like with like
    found = keys.select([pl.col(k).cast(df.schema[c], strict=False).alias(c)
                         for k, c in zip(keys.columns, cols, strict=True)]).drop_nulls().unique()
    present = reduce(operator.and_, [pl.col(c).is_not_null() for c in cols])
    if len(cols) == 1:
        known = pl.col(cols[0]).is_in(found.get_column(cols[0]).implode())
    else:
        known = pl.struct(cols).is_in(found.select(pl.struct(cols)).to_series().implode())
    return present & ~known.fill_null(False)


def evaluate(df: pl.DataFrame, plan: p.Plan, references: list[pl.DataFrame] | None = None) -> tuple[dict, dict]:
    """(failing count and first five 0-based failing rows per row rule, measure per table rule), by rule index.

    `references` holds the key columns of each of `plan.references`, as read by ingest.
    """
    # Pass 1 evaluates every row mask in one parallel select; the masks are kept as
    # (bit-packed) boolean columns, so counting failures and sampling failing rows in pass 2
    # costs almost nothing and no mask is computed twice.
    rows, tables = plan.row_rules, plan.table_rules
    counts: dict[int, tuple[int, list[int]]] = {}
    if rows:
        refs = references or []
        masks = df.select([(orphans(df, r.failing, refs[r.failing.ref]) if isinstance(r.failing, p.Orphan)
                            else to_expr(r.failing, df)).alias(f"m{i}") for i, r in rows])
        got = masks.select([pl.col(f"m{i}").sum().alias(f"r{i}") for i, _ in rows]
                           + [pl.col(f"m{i}").arg_true().head(5).implode().alias(f"s{i}") for i, _ in rows]
                           ).row(0, named=True)
        counts = {i: (int(got[f"r{i}"] or 0), list(got[f"s{i}"])) for i, _ in rows}
    stats = df.select([measure(r.measure).alias(f"r{i}") for i, r in tables]).row(0, named=True) if tables else {}
    return counts, {i: stats[f"r{i}"] for i, _ in tables}

"""Prepare: the cleaning steps of a ValidationSuite, vectorised in polars.

- `standardize` with `true`/`false` lists maps spellings onto booleans; a value in neither
  list becomes null (so `not_null` rules catch it); with `mapping`, unlisted values stay.
- `deduplicate` keeps the first or last row of each key, in the original order.
- `fill_null` fills with a constant or the column's mean, median or mode.
- `clip` bounds values by constants or by quantiles of the column itself.
"""

from __future__ import annotations

import polars as pl

from compiler.execute.errors import DataError
from compiler.execute.ingest import cast_columns


def _norm(expr: pl.Expr, case_insensitive: bool) -> pl.Expr:
    text = expr.cast(pl.String).str.strip_chars()
    return text.str.to_lowercase() if case_insensitive else text


def spelling(value: object, case_insensitive: bool) -> str:
    """A spelling of `standardize` as the normalised text it is compared with (every engine's)."""
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    return text.lower() if case_insensitive else text



def _standardize(df: pl.DataFrame, args: dict) -> pl.DataFrame:
    col, ci = args["column"], args.get("case_insensitive", True)
    norm = _norm(pl.col(col), ci)
    if args.get("mapping"):
        mapping = {spelling(k, ci): v for k, v in args["mapping"].items()}
        replaced = norm.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=None)
        return df.with_columns(pl.when(norm.is_in(list(mapping))).then(replaced).otherwise(pl.col(col)).alias(col))
    trues = [spelling(v, ci) for v in args.get("true") or []]
    falses = [spelling(v, ci) for v in args.get("false") or []]
    expr = pl.when(norm.is_in(trues)).then(pl.lit(True)).when(norm.is_in(falses)).then(pl.lit(False)).otherwise(None)
    return df.with_columns(expr.alias(col))


def _fill(df: pl.DataFrame, args: dict) -> pl.DataFrame:
    exprs = []
    for col in args["columns"]:
        if args.get("strategy") is None:
            value = args["value"]
            exprs.append(pl.col(col).fill_null(pl.lit(value).cast(df.schema[col], strict=False)))
        elif args["strategy"] == "mode":
            exprs.append(pl.col(col).fill_null(pl.col(col).drop_nulls().mode().sort().first()))
        else:
            if not df.schema[col].is_numeric():  # as the SQL engines say it (engines/relational.py)
                raise DataError(f"`fill_null` with `{args['strategy']}` needs a numeric column, `{col}` is not "
                                "one", column=col)
            stat = pl.col(col).mean() if args["strategy"] == "mean" else pl.col(col).median()
            exprs.append(pl.col(col).fill_null(stat))
    return df.with_columns(exprs)


def _clip(df: pl.DataFrame, args: dict) -> pl.DataFrame:
    col = args["column"]
    if not df.schema[col].is_numeric():
        raise DataError(f"`clip` needs a numeric column, `{col}` is {df.schema[col]}", column=col)
    if args.get("quantiles"):
        lo, hi = args["quantiles"]
        low = df.get_column(col).quantile(lo, interpolation="linear")
        high = df.get_column(col).quantile(hi, interpolation="linear")
    else:
        low, high = args.get("min"), args.get("max")
    clipped = pl.col(col).clip(low, high)
    if df.schema[col].is_integer() and (isinstance(low, float) or isinstance(high, float)):
        clipped = pl.col(col).cast(pl.Float64).clip(low, high)
    return df.with_columns(clipped.alias(col))


def apply_prepare(df: pl.DataFrame, steps: list[dict]) -> pl.DataFrame:
    for step in steps:
        op, args = next((k, v) for k, v in step.items() if v is not None)
        if op == "standardize":
            df = _standardize(df, args)
        elif op == "drop_columns":
            df = df.drop(args["columns"], strict=False)
        elif op == "deduplicate":
            df = df.unique(subset=args["keys"], keep=args.get("keep", "last"), maintain_order=True)
        elif op == "fill_null":
            df = _fill(df, args)
        elif op == "drop_null":
            df = df.drop_nulls(subset=args["columns"])
        elif op == "clip":
            df = _clip(df, args)
        elif op == "rename":
            df = df.rename(args["mapping"])
        else:  # the IR is validated; an unknown step is a version mismatch
            raise DataError(f"unknown prepare step `{op}`")
    return df


def finalize_types(df: pl.DataFrame, schema: list[dict]) -> pl.DataFrame:
    """Cast boolean columns left as text until now (after `standardize`)."""
    types = {c["name"]: "boolean" for c in schema
             if c["type"] == "boolean" and c["name"] in df.columns and df.schema[c["name"]] != pl.Boolean}
    return cast_columns(df, types, "prepared data")

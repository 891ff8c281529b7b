"""The prepare steps as SQL on top of a typed relation, for every SQL engine: what `compiler.execute.prepare` does.

Input: a relation of the declared columns plus the row position `__charter_row` (0-based, in
the source's order), the prepare steps and the columns' logical types. Output: the prepared
relation, positions again 0..n-1, its columns and their types. Every select names its
columns: PostgreSQL has neither DuckDB's `* EXCLUDE` nor `QUALIFY`, so one spelling serves
all. A statistic (`fill_null`'s mean, median or mode, `clip`'s quantiles) is an uncorrelated
scalar subquery over the relation so far, which each engine computes once.
"""

from __future__ import annotations

from sqlglot import exp

from compiler.execute import plan as p
from compiler.execute.engines.sql import ROW, _double, col, lit, quantile
from compiler.execute.errors import DataError

STEPS = ("rename", "drop_columns", "drop_null", "deduplicate", "standardize", "fill_null", "clip")
_T = exp.DataType.Type


def needed_columns(plan: p.Plan, steps: list[dict], declared: list[str]) -> list[str]:
    """The source columns the rules and prepare steps read, in schema order (renames followed back)."""
    wanted = set(plan.columns)
    for step in reversed(steps):
        op, args = _op(step)
        if op == "rename":
            back = {new: old for old, new in args["mapping"].items()}
            wanted = {back.get(c, c) for c in wanted}
        elif op != "drop_columns":
            wanted |= set(args.get("columns") or ()) | set(args.get("keys") or ()) | (
                {args["column"]} if args.get("column") else set())
    return [c for c in declared if c in wanted]


def standardized_booleans(steps: list[dict], schema: list[dict]) -> set[str]:
    """Source columns declared boolean that a `standardize` with `true`/`false` reads: text until that step.

    As ingest does in polars: their spellings (`yes`, `Y`) are the step's to map, not a type error.
    """
    booleans = {c["name"] for c in schema if c["type"] == "boolean"}
    source = {c["name"]: c["name"] for c in schema}  # current name -> source name
    out = set()
    for step in steps:
        op, args = _op(step)
        if op == "rename":
            source = {args["mapping"].get(now, now): was for now, was in source.items()}
        elif op == "standardize" and args.get("mapping") is None and source.get(args["column"]) in booleans:
            out.add(source[args["column"]])
    return out


def read_as(ingest: dict, steps: list[dict]) -> dict:
    """`ingest` with the booleans a `standardize` maps declared as text (`standardized_booleans`)."""
    texts = standardized_booleans(steps, ingest["schema"])
    if not texts:
        return ingest
    return {**ingest, "schema": [{**c, "type": "string"} if c["name"] in texts else c for c in ingest["schema"]]}


def declared_types(ingest: dict, columns: list[str]) -> dict[str, str]:
    """The declared type of each of `columns` (as `read_as` reads them): what `prepare` starts from."""
    return {c["name"]: c["type"] for c in ingest["schema"] if c["name"] in columns}


def prepare(relation: exp.Select, steps: list[dict], columns: list[str], engine: str,
            types: dict[str, str]) -> tuple[exp.Select, list[str], dict[str, str]]:
    """The relational prepare steps on top of `relation` (`columns` and the position).

    `types` are the logical types of `columns` as typed; returned: the result, its columns and their types.
    """
    types = dict(types)
    for step in steps:
        op, args = _op(step)
        if op == "rename":
            mapping = args["mapping"]
            relation = exp.select(*[exp.alias_(col(c), mapping[c], quoted=True) if c in mapping else col(c)
                                    for c in columns], col(ROW)).from_(relation.subquery("renamed"))
            columns = [mapping.get(c, c) for c in columns]
            types = {mapping.get(c, c): t for c, t in types.items()}
        elif op in ("standardize", "fill_null", "clip"):
            changed = _values(op, args, relation, types, engine)
            relation = exp.select(*[exp.alias_(changed[c], c, quoted=True) if c in changed else col(c)
                                    for c in columns], col(ROW)).from_(relation.subquery(op))
        elif op == "drop_columns":
            columns = [c for c in columns if c not in args["columns"]]
        elif op == "drop_null":
            kept = [exp.Not(this=exp.Is(this=col(c), expression=exp.null())) for c in args["columns"]]
            relation = _renumber(exp.select(*map(col, columns), col(ROW)).from_(relation.subquery("dropped"))
                                 .where(exp.and_(*kept)), columns)
        elif op == "deduplicate":
            order = exp.Ordered(this=col(ROW), desc=args.get("keep", "last") == "last")
            first = exp.Window(this=exp.RowNumber(), partition_by=[col(k) for k in args["keys"]],
                               order=exp.Order(expressions=[order]))
            ranked = exp.select(*map(col, columns), col(ROW), exp.alias_(first, "__charter_rank", quoted=True)
                                ).from_(relation.subquery("ranked"))
            kept_rows = exp.select(*map(col, columns), col(ROW)).from_(ranked.subquery("deduplicated")).where(
                exp.EQ(this=col("__charter_rank"), expression=exp.Literal.number(1)))
            relation = _renumber(kept_rows, columns)
        else:  # validation (S235) refuses the others for this engine
            raise DataError(f"engine {engine} cannot run the prepare step `{op}`",
                            hint="use `engine: polars` for this source, or a step among " + ", ".join(STEPS))
    return relation, columns, {c: types[c] for c in columns if c in types}


def _values(op: str, args: dict, relation: exp.Select, types: dict[str, str], engine: str) -> dict[str, exp.Expr]:
    """The new value of each column a value step changes (as `compiler.execute.prepare` computes it), typed."""
    if op == "standardize":
        column = args["column"]
        return {column: _standardize(column, args, types)}
    if op == "fill_null":
        out: dict[str, exp.Expr] = {}
        for column in args["columns"]:
            kind = types.get(column, "string")
            if args.get("strategy") is None:
                [value] = p.cast_values([args["value"]], kind) or [None]
                fill: exp.Expr = lit(value)
            elif args["strategy"] == "mode":  # the most frequent value; ties: the smallest, as polars sorts
                fill = exp.Subquery(this=_mode(relation, column, kind, engine))
            else:
                if kind not in ("integer", "float"):  # as compiler.execute.prepare says it
                    raise DataError(f"`fill_null` with `{args['strategy']}` needs a numeric column, `{column}` is not "
                                    "one", column=column)
                stat: exp.Expr = exp.Avg(this=_double(col(column))) if args["strategy"] == "mean" else \
                    quantile(_double(col(column)), 0.5, engine)
                fill = exp.Subquery(this=exp.select(stat).from_(relation.subquery("stats")))
                types[column] = "float"
            out[column] = exp.Coalesce(this=col(column), expressions=[fill])
        return out
    column = args["column"]
    if types.get(column) not in ("integer", "float"):
        raise DataError(f"`clip` needs a numeric column, `{column}` is {types.get(column)}", column=column)
    value = _double(col(column))
    low: exp.Expr
    high: exp.Expr
    if args.get("quantiles"):
        low, high = (exp.Subquery(this=exp.select(quantile(_double(col(column)), q, engine))
                                  .from_(relation.subquery("stats"))) for q in args["quantiles"])
    else:
        low, high = (lit(float(b)) if b is not None else exp.null() for b in (args.get("min"), args.get("max")))
    types[column] = "float"
    # NaN stays NaN, as in polars (SQL orders NaN above every number: it would become `high`).
    # PostgreSQL has no isnan and equals every NaN; DuckDB's `=` does not match a NaN read from
    # Parquet with another bit pattern, so it asks ISNAN, as Spark can.
    nan = exp.EQ(this=value.copy(), expression=lit(float("nan"))) if engine == "postgres" else \
        exp.IsNan(this=value.copy())
    return {column: exp.Case(ifs=[exp.If(this=nan, true=value.copy()),
                                  exp.If(this=exp.LT(this=value.copy(), expression=low), true=low.copy()),
                                  exp.If(this=exp.GT(this=value.copy(), expression=high), true=high.copy())],
                             default=value.copy())}


def _standardize(column: str, args: dict, types: dict[str, str]) -> exp.Expr:
    from compiler.execute.prepare import spelling as _key  # the spellings as polars normalises them

    ci = args.get("case_insensitive", True)
    norm: exp.Expr = exp.Trim(this=exp.cast(col(column), _T.VARCHAR))
    if ci:
        norm = exp.Lower(this=norm)
    if args.get("mapping"):  # validation (S235) lets only text replacements through to SQL
        mapping = {_key(k, ci): v for k, v in args["mapping"].items()}
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=norm.copy(), expression=lit(k)), true=lit(str(v)))
                             for k, v in mapping.items()], default=exp.cast(col(column), _T.VARCHAR))
    trues = [_key(v, ci) for v in args.get("true") or []]
    falses = [_key(v, ci) for v in args.get("false") or []]
    types[column] = "boolean"
    ifs = []
    if trues:
        ifs.append(exp.If(this=exp.In(this=norm.copy(), expressions=[lit(v) for v in trues]), true=exp.true()))
    if falses:
        ifs.append(exp.If(this=exp.In(this=norm.copy(), expressions=[lit(v) for v in falses]), true=exp.false()))
    return exp.Case(ifs=ifs, default=exp.cast(exp.null(), _T.BOOLEAN))


def _mode(relation: exp.Select, column: str, kind: str, engine: str) -> exp.Select:
    value: exp.Expr = col(column)
    order: exp.Expr = col(column)
    if engine == "postgres" and kind in ("string", "category"):  # byte order, as polars sorts text
        order = exp.Collate(this=col(column), expression=exp.Identifier(this="C", quoted=True))
    return (exp.select(value).from_(relation.subquery("counted"))
            .where(exp.Not(this=exp.Is(this=col(column), expression=exp.null())))
            .group_by(col(column))
            .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True), exp.Ordered(this=order))
            .limit(1))


def _op(step: dict) -> tuple[str, dict]:
    return next((k, v) for k, v in step.items() if v is not None)


def _renumber(relation: exp.Select, columns: list[str]) -> exp.Select:
    position = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=col(ROW))]))
    return exp.select(*map(col, columns),
                      exp.alias_(exp.Sub(this=position, expression=exp.Literal.number(1)), ROW, quoted=True)
                      ).from_(relation.subquery("kept"))

"""The prepare steps that are relational, as SQL on top of a typed relation, for every SQL engine.

Input: a relation of the declared columns plus the row position `__charter_row` (0-based, in
the source's order), and the prepare steps. Output: the prepared relation, positions again
0..n-1, and its columns. Every select names its columns: PostgreSQL has neither DuckDB's
`* EXCLUDE` nor `QUALIFY`, so one spelling serves both.
"""

from __future__ import annotations

from sqlglot import exp

from compiler.execute import plan as p
from compiler.execute.engines.sql import ROW, col
from compiler.execute.errors import DataError

STEPS = ("rename", "drop_columns", "drop_null", "deduplicate")


def needed_columns(plan: p.Plan, steps: list[dict], declared: list[str]) -> list[str]:
    """The source columns the rules and prepare steps read, in schema order (renames followed back)."""
    wanted = set(plan.columns)
    for step in reversed(steps):
        op, args = _op(step)
        if op == "rename":
            back = {new: old for old, new in args["mapping"].items()}
            wanted = {back.get(c, c) for c in wanted}
        wanted |= set(args.get("columns") or ()) | set(args.get("keys") or ()) if op != "drop_columns" else set()
    return [c for c in declared if c in wanted]


def prepare(relation: exp.Select, steps: list[dict], columns: list[str],
            engine: str) -> tuple[exp.Select, list[str]]:
    """The relational prepare steps on top of `relation` (`columns` and the position): the result and its columns."""
    for step in steps:
        op, args = _op(step)
        if op == "rename":
            mapping = args["mapping"]
            relation = exp.select(*[exp.alias_(col(c), mapping[c], quoted=True) if c in mapping else col(c)
                                    for c in columns], col(ROW)).from_(relation.subquery("renamed"))
            columns = [mapping.get(c, c) for c in columns]
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
    return relation, columns


def _op(step: dict) -> tuple[str, dict]:
    return next((k, v) for k, v in step.items() if v is not None)


def _renumber(relation: exp.Select, columns: list[str]) -> exp.Select:
    position = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=col(ROW))]))
    return exp.select(*map(col, columns),
                      exp.alias_(exp.Sub(this=position, expression=exp.Literal.number(1)), ROW, quoted=True)
                      ).from_(relation.subquery("kept"))

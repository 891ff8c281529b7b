"""Charter's expression language translated into polars expressions (vectorised; never `eval`).

The text becomes a plan node (`compiler.execute.plan.expression`), which the polars engine
turns into an expression. Null semantics follow SQL, as polars does: comparisons with null
give null, except that `x == null` and `x != null` test for null. Callers decide what null
means: a data rule treats it as failing (a check that cannot be confirmed did not pass),
slices and guardrails treat it as false.
"""

from __future__ import annotations

import polars as pl

from compiler.execute.engines.polars import to_expr
from compiler.execute.plan import expression


def to_polars(text: str) -> pl.Expr:
    return to_expr(expression(text))

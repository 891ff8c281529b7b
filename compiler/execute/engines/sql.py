"""Plan -> SQL, built as a SQLGlot tree: the library quotes every identifier and literal.

Input: a `Plan` and the relation of the prepared table, which must carry the row's 0-based
position as `__charter_row`. Output: one aggregate query whose single row holds every row
rule's failing count and first five failing positions (DuckDB's `min(x, n)`; a dialect without
it asks `sample` per failing rule), and every table rule's measure.

Semantics follow the polars engine (the reference): `/` divides as floats, `//` and `%` floor
(polars' integer `// 0` and `% 0` give null), `round` rounds half to even, float literals are
doubles rather than SQL decimals, and a text `+` joins strings. Where a dialect has no
equivalent, `_DIALECT` says what stands in, or a subclass overrides a method
(`compiler.execute.engines.postgres`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlglot import exp

from compiler.execute import plan as p

ROW = "__charter_row"
SAMPLE = 5
# Functions whose name differs by dialect: polars rounds half to even, DuckDB's and Spark's ROUND do not.
_DIALECT = {"duckdb": {"round": "ROUND_EVEN"}, "spark": {"round": "BROUND"}}


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def lit(value) -> exp.Expr:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        # a double, as in polars: SQL reads `0.1` as an exact decimal, and `0.1 * 3 == 0.3` would then hold
        text = repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                         "inf" if value > 0 else "-inf")
        inner = exp.Literal.number(text) if math.isfinite(value) else exp.Literal.string(text)
        return exp.cast(inner, exp.DataType.Type.DOUBLE)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    return exp.Literal.string(str(value))


def quantile(value: exp.Expr, q: float, dialect: str) -> exp.Expr:
    """The `q` quantile of `value`, interpolated linearly between the closest ranks (polars' `linear`).

    Spark's `percentile_cont` is an ordered-set aggregate only (`WITHIN GROUP`); its `percentile` is this.
    """
    if dialect == "spark":
        return exp.Anonymous(this="percentile", expressions=[value, exp.Literal.number(repr(q))])
    return exp.PercentileCont(this=value, expression=exp.Literal.number(repr(q)))


def _paren(e: exp.Expr) -> exp.Expr:
    return e if isinstance(e, exp.Column | exp.Literal | exp.Paren | exp.Null | exp.Boolean | exp.Func) \
        else exp.Paren(this=e)


def _double(e: exp.Expr) -> exp.Expr:
    return exp.cast(e, exp.DataType.Type.DOUBLE)


def _text(e: exp.Expr) -> exp.Expr:
    return exp.cast(e, exp.DataType.Type.VARCHAR)


def _window(function: exp.Expr, partition: list[exp.Expr], order_by: tuple[str, ...]) -> exp.Expr:
    """`function` over each partition, in the order of `order_by` (nulls last), ties (or no order) by position."""
    order = [exp.Ordered(this=col(c), nulls_first=False) for c in order_by] + [exp.Ordered(this=col(ROW))]
    return exp.Window(this=function, partition_by=partition or None, order=exp.Order(expressions=order))


class Compiler:
    """Translates plan nodes for one dialect; `regex_values` replaces patterns the engine cannot compile.

    `types` (column -> logical type) is for dialects whose translation depends on a column's type.
    """

    def __init__(self, dialect: str = "duckdb", regex_values: dict[tuple[str, str], list[str]] | None = None,
                 types: dict[str, str] | None = None):
        self.dialect = dialect
        self.regex_values = regex_values or {}
        self.types = types or {}
        # per `Plan.references`: (the reference, a relation of its typed key columns), set by the engine
        self.references: list[tuple[p.Reference, exp.Query]] = []

    def _rows(self, prepared: exp.Subquery) -> exp.Expr:
        """`prepared`, with a found-flag per reference: LEFT JOINs on each distinct key set (no row repeats)."""
        if not self.references:
            return prepared
        name = prepared.alias_or_name
        joined = exp.select(exp.Star()).from_(prepared)
        for i, (ref, relation) in enumerate(self.references):
            keys = [exp.alias_(col(k), f"__charter_r{i}_k{j}", quoted=True) for j, k in enumerate(ref.columns)]
            present = [exp.Not(this=exp.Is(this=col(k), expression=exp.null())) for k in ref.columns]
            found = exp.select(*keys, exp.alias_(exp.true(), f"__charter_r{i}", quoted=True)).distinct().from_(
                relation.subquery(f"__charter_ref{i}")).where(exp.and_(*present))
            alias = f"__charter_keys{i}"
            on = exp.and_(*[exp.EQ(this=exp.column(c, table=name, quoted=True),
                                   expression=exp.column(f"__charter_r{i}_k{j}", table=alias, quoted=True))
                            for j, c in enumerate(ref.local)])
            joined = joined.join(found.subquery(alias), on=on, join_type="left")
        return joined.subquery("joined")

    def use_references(self, plan: p.Plan, relations: Sequence[exp.Query]) -> None:
        """The key sets of `plan.references`, as relations of the engine holding the referenced columns."""
        self.references = list(zip(plan.references, relations, strict=True))

    def node(self, n: p.Node) -> exp.Expr:  # noqa: C901 - one case per node type
        if isinstance(n, p.Col):
            return col(n.name)
        if isinstance(n, p.Lit):
            return lit(n.value)
        if isinstance(n, p.Not):
            return exp.Not(this=_paren(self.node(n.arg)))
        if isinstance(n, p.Neg):
            return exp.Neg(this=_paren(self.node(n.arg)))
        if isinstance(n, p.Arith):
            return self._arith(n)
        if isinstance(n, p.Cmp):
            return self._cmp(n)
        if isinstance(n, p.Logic):
            parts = [_paren(self.node(a)) for a in n.args]
            return exp.and_(*parts) if n.op == "and" else exp.or_(*parts)
        if isinstance(n, p.IsNull):
            null: exp.Expr = exp.Is(this=_paren(self.node(n.arg)), expression=exp.null())
            return exp.Not(this=null) if n.negated else null
        if isinstance(n, p.InList):
            test = self._in(self.node(n.arg), list(n.values))
            return exp.Not(this=_paren(test)) if n.negated else test
        if isinstance(n, p.Call):
            return self._call(n)
        if isinstance(n, p.FillFalse):
            return exp.Coalesce(this=self.node(n.arg), expressions=[exp.false()])
        if isinstance(n, p.Duplicate):
            window = exp.Window(this=exp.RowNumber(), partition_by=[col(c) for c in n.columns],
                                order=exp.Order(expressions=[exp.Ordered(this=col(ROW))]))
            return exp.GT(this=window, expression=exp.Literal.number(1))
        if isinstance(n, p.RegexMismatch):
            return self._regex(n)
        if isinstance(n, p.Monotonic):
            return self._monotonic(n)
        if isinstance(n, p.Lag):
            lag = exp.Anonymous(this="LAG", expressions=[col(n.column), exp.Literal.number(n.offset)])
            return _window(lag, [col(c) for c in n.by], n.order_by)
        if isinstance(n, p.Stale):
            return self._stale(n)
        if isinstance(n, p.Orphan):
            present = [exp.Not(this=exp.Is(this=col(c), expression=exp.null())) for c in n.columns]
            return exp.and_(*present, exp.Is(this=col(f"__charter_r{n.ref}"), expression=exp.null()))
        raise TypeError(f"unsupported plan node {type(n).__name__}")  # a bug: the plan has no other nodes

    def _cmp(self, n: p.Cmp) -> exp.Expr:
        kind = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[n.op]
        return kind(this=_paren(self.node(n.left)), expression=_paren(self.node(n.right)))

    def _monotonic(self, n: p.Monotonic) -> exp.Expr:
        value = col(n.column)
        # partitioned by presence too, as the polars engine: LAG over the present rows is the
        # previous present value (PostgreSQL has no LAG ... IGNORE NULLS)
        present = exp.Paren(this=exp.Is(this=col(n.column), expression=exp.null()))
        previous = _window(exp.Anonymous(this="LAG", expressions=[col(n.column)]), [*map(col, n.by), present],
                           n.order_by)
        below: exp.Expr = (exp.LTE if n.strict else exp.LT)(this=value, expression=previous)
        if n.max_step is not None:  # a gap: further above the previous value than the step
            if isinstance(n.max_step, timedelta):  # exact, in microseconds: a date compares as its midnight
                micros = n.max_step // timedelta(microseconds=1)
                step = exp.Interval(this=exp.Literal.string(str(micros)), unit=exp.var("MICROSECOND"))
                # wall-clock time, without a zone (Spark's TIMESTAMP is its session's zone's)
                naive = exp.DataType.Type.TIMESTAMPNTZ if self.dialect == "spark" else exp.DataType.Type.TIMESTAMP
                gap: exp.Expr = exp.GT(this=exp.cast(value.copy(), naive), expression=exp.Add(
                    this=exp.cast(previous.copy(), naive), expression=step))
            else:  # as polars computes it: the difference, then the comparison
                gap = exp.GT(this=exp.Paren(this=exp.Sub(this=value.copy(), expression=previous.copy())),
                             expression=lit(float(n.max_step)))
            below = exp.or_(below, gap)
        return exp.and_(exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())),
                        exp.Coalesce(this=below, expressions=[exp.false()]))

    def _stale(self, n: p.Stale) -> exp.Expr:
        partition = [col(c) for c in n.by]
        newest_first = exp.Order(expressions=[exp.Ordered(this=col(n.column), desc=True, nulls_first=False),
                                              exp.Ordered(this=col(ROW))])
        newest_row = exp.EQ(this=exp.Window(this=exp.RowNumber(), partition_by=partition, order=newest_first),
                            expression=exp.Literal.number(1))
        newest = exp.Window(this=exp.Max(this=col(n.column)), partition_by=[c.copy() for c in partition])
        stale = exp.Coalesce(this=exp.LTE(this=newest, expression=lit(n.limit)), expressions=[exp.true()])
        return exp.and_(newest_row, stale)

    def _in(self, value: exp.Expr, values: list) -> exp.Expr:
        if not values:
            return exp.false()
        return exp.In(this=_paren(value), expressions=[lit(v) for v in values])

    def _regex(self, n: p.RegexMismatch) -> exp.Expr:
        text = _text(col(n.column))
        bad = self.regex_values.get((n.column, n.pattern))
        if bad is not None:
            return self._in(text, bad)
        match = exp.RegexpFullMatch(this=text, expression=exp.Literal.string(n.pattern))
        return exp.and_(exp.Not(this=exp.Is(this=col(n.column), expression=exp.null())), exp.Not(this=match))

    def _arith(self, n: p.Arith) -> exp.Expr:
        left, right = _paren(self.node(n.left)), _paren(self.node(n.right))
        if n.op == "+":
            return exp.DPipe(this=left, expression=right, safe=True) if n.kind == "string" else \
                exp.Add(this=left, expression=right)
        if n.op == "-":
            return exp.Sub(this=left, expression=right)
        if n.op == "*":
            return exp.Mul(this=left, expression=right)
        if n.op == "/":
            return exp.Div(this=_double(left), expression=right, typed=False, safe=False)
        if n.op == "**":
            return exp.Pow(this=left, expression=right)
        if n.op == "//":
            out: exp.Expr = exp.Floor(this=exp.Div(this=_double(left), expression=right, typed=False,
                                                         safe=False))
        else:  # `%` floors, as Python and polars do: the result takes the divisor's sign
            out = exp.Mod(this=exp.Paren(this=exp.Add(this=exp.Paren(this=exp.Mod(this=left, expression=right)),
                                                      expression=right)), expression=right)
        if n.kind != "integer":
            return out
        if n.op == "//":
            out = exp.cast(out, exp.DataType.Type.BIGINT)
        zero = exp.EQ(this=right, expression=exp.Literal.number(0))
        return exp.Case(ifs=[exp.If(this=zero, true=exp.null())], default=out)

    def _call(self, n: p.Call) -> exp.Expr:  # noqa: C901 - one case per function
        args = [self.node(a) for a in n.args]
        first = args[0]
        if n.name == "abs":
            return exp.Abs(this=first)
        if n.name == "log":
            return exp.Ln(this=first)
        if n.name == "exp":
            return exp.Exp(this=first)
        if n.name == "sqrt":
            return exp.Sqrt(this=first)
        if n.name == "round":
            digits = args[1] if len(args) == 2 else exp.Literal.number(0)
            name = _DIALECT.get(self.dialect, {}).get("round")
            return exp.Anonymous(this=name, expressions=[first, digits]) if name else \
                exp.Round(this=first, decimals=digits)
        if n.name == "min":
            return exp.Least(this=first, expressions=args[1:], ignore_nulls=True)  # as polars' min_horizontal
        if n.name == "max":
            return exp.Greatest(this=first, expressions=args[1:], ignore_nulls=True)
        if n.name == "lower":
            return exp.Lower(this=_text(first))
        if n.name == "upper":
            return exp.Upper(this=_text(first))
        if n.name == "length":
            return exp.Length(this=_text(first))
        if n.name in ("is_null", "not_null"):
            test = exp.Is(this=_paren(first), expression=exp.null())
            return test if n.name == "is_null" else exp.Not(this=test)
        if n.name == "coalesce":
            return exp.Coalesce(this=first, expressions=args[1:])
        raise TypeError(f"unknown function `{n.name}`")  # a bug: expressions are validated

    def measure(self, m: p.Measure) -> exp.Expr:
        rows = exp.Count(this=exp.Star())
        if m.kind == "rows":
            return _double(rows)
        c = col(m.column or "")
        if m.kind == "null_fraction":
            nulls = exp.Sub(this=rows, expression=exp.Count(this=c))
            return exp.Div(this=_double(nulls), expression=exp.Greatest(this=rows, expressions=[lit(1)],
                                                                        ignore_nulls=True),
                           typed=False, safe=False)
        if m.kind == "distinct":
            return _double(exp.Count(this=exp.Distinct(expressions=[c])))
        if m.kind == "mean":
            return exp.Avg(this=_double(c))
        if m.kind == "stdev":
            return exp.StddevSamp(this=_double(c))
        if m.kind == "quantile":
            return quantile(_double(c), m.quantile or 0.0, self.dialect)
        # age of the newest value in whole seconds, truncated toward zero as polars' total_seconds
        newest = exp.cast(exp.Max(this=c), exp.DataType.Type.TIMESTAMP)
        micros = exp.DateDiff(this=lit(m.now), expression=newest, unit=exp.var("MICROSECOND"))
        return _double(exp.IntDiv(this=micros, expression=exp.Literal.number(1_000_000)))

    def query(self, plan: p.Plan, prepared: exp.Subquery, *, samples: bool = True,
              apart: frozenset[int] = frozenset()) -> exp.Select:
        """The one aggregate query of `plan` over `prepared` (a table, subquery or CTE name).

        Its row: the rows, then per row rule the failing count (and, with `samples`, its first
        failing positions), then per table rule its measure; rules in `apart` are left to
        `narrow` queries of their own.
        """
        masks = exp.select(exp.Star()).from_(self._rows(prepared))
        aggregates: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)]
        for i, rule in plan.row_rules:
            if i in apart:
                continue
            masks = masks.select(exp.alias_(self.node(rule.failing), f"__charter_m{i}", quoted=True))
            where = exp.Where(this=col(f"__charter_m{i}"))
            aggregates.append(exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=where),
                                         f"c{i}", quoted=True))
            if samples:
                # DuckDB's `min(x, n)` keeps the n smallest in one pass
                sample = exp.Min(this=col(ROW), count=exp.Literal.number(SAMPLE))
                aggregates.append(exp.alias_(exp.Filter(this=sample, expression=where.copy()), f"s{i}",
                                             quoted=True))
        for i, table in plan.table_rules:
            if i not in apart:
                aggregates.append(exp.alias_(self.measure(table.measure), f"t{i}", quoted=True))
        return exp.select(*aggregates).from_(masks.subquery("masks"))

    def spilled(self, m: p.Measure, prepared: exp.Subquery) -> exp.Select:
        """A `distinct` or `quantile` measure as a query that can spill to disk, for a table larger than memory.

        In one aggregate, DuckDB holds every distinct value (a hash set) or every value (a
        quantile) in memory. Here the distinct values are a GROUP BY, and the quantile the two
        closest ranks of a sort, interpolated linearly (polars' `linear`): both spill.
        """
        c = col(m.column or "")
        present = exp.Not(this=exp.Is(this=c.copy(), expression=exp.null()))
        if m.kind == "distinct":
            groups = exp.select(c.copy()).from_(prepared).where(present).group_by(c.copy())
            return exp.select(_double(exp.Count(this=exp.Star()))).from_(groups.subquery("groups"))
        values = exp.select(exp.alias_(_double(c.copy()), "v", quoted=True)).from_(prepared).where(present)
        rank = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=col("v"))]))
        total = exp.Window(this=exp.Count(this=exp.Star()))
        ranked = exp.select(col("v"), exp.alias_(exp.Sub(this=rank, expression=lit(1)), "k", quoted=True),
                            exp.alias_(total, "n", quoted=True)).from_(values.subquery("v"))
        position = exp.Mul(this=_double(exp.Sub(this=col("n"), expression=lit(1))), expression=lit(m.quantile or 0.0))
        low_k, high_k = exp.Floor(this=position.copy()), exp.Ceil(this=position.copy())
        picked = exp.select(
            exp.alias_(exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=col("k"), expression=low_k.copy()),
                                                         true=col("v"))])), "lo", quoted=True),
            exp.alias_(exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=col("k"), expression=high_k.copy()),
                                                         true=col("v"))])), "hi", quoted=True),
            exp.alias_(exp.Max(this=position.copy()), "pos", quoted=True),
        ).from_(ranked.subquery("ranked")).where(exp.or_(exp.EQ(this=col("k"), expression=low_k),
                                                         exp.EQ(this=col("k"), expression=high_k)))
        fraction = exp.Paren(this=exp.Sub(this=col("pos"), expression=exp.Floor(this=col("pos"))))
        interpolated = exp.Add(this=col("lo"), expression=exp.Mul(
            this=exp.Paren(this=exp.Sub(this=col("hi"), expression=col("lo"))), expression=fraction))
        # equal ranks: the value itself (inf - inf would be NaN)
        same = exp.EQ(this=col("lo"), expression=col("hi"))
        return exp.select(exp.Case(ifs=[exp.If(this=same, true=col("lo"))], default=interpolated)).from_(
            picked.subquery("picked"))

    def narrow(self, failing: p.Node, prepared: exp.Subquery) -> exp.Select:
        """One row rule's failing count and first positions (DuckDB's `min(x, n)`) in a query of its own.

        For a rule that compares rows (a window): the window then holds only the columns the
        rule reads and the position, not every column of the one aggregate query.
        """
        masks = exp.select(col(ROW), exp.alias_(self.node(failing), "__charter_m", quoted=True)).from_(
            self._rows(prepared))
        where = exp.Where(this=col("__charter_m"))
        return exp.select(exp.Filter(this=exp.Count(this=exp.Star()), expression=where),
                          exp.Filter(this=exp.Min(this=col(ROW), count=exp.Literal.number(SAMPLE)),
                                     expression=where.copy())).from_(masks.subquery("masks"))

    def sample(self, failing: p.Node, prepared: exp.Subquery) -> exp.Select:
        """The first failing positions of one row rule, for a dialect without DuckDB's `min(x, n)`."""
        masks = exp.select(col(ROW), exp.alias_(self.node(failing), "__charter_m", quoted=True)).from_(
            self._rows(prepared))
        return exp.select(col(ROW)).from_(masks.subquery("masks")).where(col("__charter_m")).order_by(
            exp.Ordered(this=col(ROW))).limit(SAMPLE)


class IeeeCompiler(Compiler):
    """The plan for a dialect where a double's `1/0`, `ln(0)` or `sqrt(-1)` raise or give null, not inf or NaN.

    PostgreSQL raises; Spark raises under ANSI mode and gives null otherwise, and its `ln(0)` is
    null. Each such case is answered as polars answers it (IEEE: inf, -inf, NaN) before the
    function sees it; a double's `round` is half to even at any digits.
    """

    def _arith(self, n: p.Arith) -> exp.Expr:
        if n.op not in ("/", "**") and (n.op not in ("//", "%") or n.kind == "integer"):
            return super()._arith(n)
        left, right = _double(self.node(n.left)), _double(self.node(n.right))
        if n.op == "/":
            return _divide(left, right)
        if n.op == "//":
            return exp.Floor(this=_divide(left, right))
        if n.op == "%":  # floored, as polars: the divisor's sign; `x % 0` is NaN
            floor = exp.Floor(this=exp.Div(this=left.copy(), expression=right.copy(), typed=False, safe=False))
            rest = exp.Sub(this=left, expression=exp.Mul(this=right.copy(), expression=floor))
            return _case([(_eq(right, 0.0), _nan())], rest)
        negative_root = exp.and_(exp.LT(this=left, expression=lit(0.0)),
                                 exp.NEQ(this=right, expression=exp.Floor(this=right.copy())))
        zero_to_negative = exp.and_(_eq(left.copy(), 0.0), exp.LT(this=right.copy(), expression=lit(0.0)))
        return _case([(negative_root, _nan()), (zero_to_negative, lit(float("inf")))],
                     exp.Pow(this=left.copy(), expression=right.copy()))

    def _call(self, n: p.Call) -> exp.Expr:
        if n.name not in ("log", "sqrt", "exp", "round"):
            return super()._call(n)
        x = _double(self.node(n.args[0]))
        if n.name == "log":
            return _case([(_eq(x, 0.0), lit(float("-inf"))), (exp.LT(this=x.copy(), expression=lit(0.0)), _nan())],
                         exp.Ln(this=x.copy()))
        if n.name == "sqrt":
            return _case([(exp.LT(this=x, expression=lit(0.0)), _nan())], exp.Sqrt(this=x.copy()))
        if n.name == "exp":  # NaN first: PostgreSQL and Spark order NaN above every number
            return _case([(_eq(x, float("nan")), _nan()),
                          (exp.GT(this=x.copy(), expression=lit(709.782712893384)), lit(float("inf"))),
                          (exp.LT(this=x.copy(), expression=lit(-745.1332191019411)), lit(0.0))],
                         exp.Exp(this=x.copy()))
        # a double's round() is half to even, as polars rounds; digits scale it first
        digits = int(n.args[1].value) if len(n.args) == 2 and isinstance(n.args[1], p.Lit) else 0
        if not digits:
            return self._half_even(x)
        scale = lit(10.0 ** digits)
        return exp.Div(this=self._half_even(exp.Mul(this=x, expression=scale)), expression=scale.copy(),
                       typed=False, safe=False)

    def _half_even(self, x: exp.Expr) -> exp.Expr:
        name = _DIALECT.get(self.dialect, {}).get("round")
        return exp.Anonymous(this=name, expressions=[x]) if name else exp.Round(this=x)


def _nan() -> exp.Expr:
    return lit(float("nan"))


def _eq(e: exp.Expr, value: float) -> exp.Expr:
    return exp.EQ(this=e, expression=lit(value))


def _case(branches: list[tuple[exp.Expr, exp.Expr]], default: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in branches], default=default)


def _divide(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    """`left / right` in IEEE doubles: by zero, inf with the dividend's sign, NaN for 0/0 or NaN/0."""
    by_zero = _case([(exp.Is(this=left, expression=exp.null()), exp.null()), (_eq(left.copy(), float("nan")), _nan()),
                     (exp.GT(this=left.copy(), expression=lit(0.0)), lit(float("inf"))),
                     (exp.LT(this=left.copy(), expression=lit(0.0)), lit(float("-inf")))], _nan())
    return _case([(_eq(right, 0.0), by_zero)], exp.Div(this=left.copy(), expression=right.copy(), typed=False,
                                                       safe=False))

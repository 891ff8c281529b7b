"""Declared column types in Spark SQL: ingest's casts from Spark's own column types.

A Parquet file or a catalog table is already typed, so most columns need no cast or a widening
one (`int` to `bigint`, `decimal` to `double`, `timestamp` to `timestamp_ntz`). Text declared as
a number, date or timestamp is parsed as ingest parses it, with the regular expressions of
`compiler.execute.engines.pgtypes` guarding each step, since Spark's ANSI mode raises on a
value that does not convert where ingest makes it null. A value fails its cast when it was
present before and is null after (blank text counts as missing); the error is ingest's, through
`sqltypes.type_errors`.
"""

from __future__ import annotations

from sqlglot import exp

from compiler.execute.engines.pgtypes import _DATE, _LARGEST, _NUMBER, _SPACE, _SPECIAL, _TIME
from compiler.execute.engines.sql import col, lit
from compiler.execute.ingest import _FALSE, _TRUE

INTEGERS = ("tinyint", "smallint", "int", "bigint")
NUMBERS = (*INTEGERS, "float", "double", "decimal")
TEXT = ("string", "varchar", "char")
TIMES = ("timestamp", "timestamp_ntz")
_T = exp.DataType.Type


def base(native: str) -> str:
    """`decimal(10,2)` -> `decimal`: the type's family, as `DataType.simpleString()` spells it."""
    return native.split("(")[0].strip().lower()


def _text(value: exp.Expr) -> exp.Expr:
    return exp.Trim(this=exp.cast(value, _T.VARCHAR), expression=lit(_SPACE))


def _matches(value: exp.Expr, pattern: str, ignore_case: bool = False) -> exp.Expr:
    # Java's regular expressions: `(?i)` for case, and `$` would also match before a final newline
    anchored = pattern.replace("$", r"\z")
    return exp.RegexpLike(this=value, expression=lit(("(?i)" if ignore_case else "") + anchored))


def _when(condition: exp.Expr, then: exp.Expr, otherwise: exp.Expr | None = None) -> exp.Expr:
    # Spark evaluates a CASE branch only when its condition holds: the guard keeps a cast or
    # `make_date` from seeing a value it would raise on.
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def _double(text: exp.Expr) -> exp.Expr:
    number = exp.TryCast(this=text, to=exp.DataType.build("DOUBLE"))
    return _when(_matches(text, _NUMBER), number, _when(_matches(text.copy(), _SPECIAL, True), number.copy()))


def _whole(number: exp.Expr) -> exp.Expr:
    # NaN equals itself in Spark, and orders above every number: the bound keeps it (and inf) out
    fits = exp.and_(exp.EQ(this=number, expression=exp.Round(this=number.copy())),
                    exp.LT(this=exp.Abs(this=number.copy()), expression=exp.Literal.number(repr(_LARGEST))))
    return _when(fits, exp.cast(number.copy(), _T.BIGINT))


def _part(text: exp.Expr, pattern: str, group: int) -> exp.Expr:
    # regexp_extract gives '' for a group that did not take part: that is a missing part
    found = exp.Anonymous(this="regexp_extract", expressions=[text, lit(pattern.replace("$", r"\z")),
                                                              exp.Literal.number(group)])
    return exp.cast(exp.Nullif(this=found, expression=lit("")), _T.INT)


def _date(text: exp.Expr, pattern: str) -> exp.Expr:
    """The date of `Y-M-D` at the start of `text` (which matches `pattern`); null for a day that does not exist."""
    year, month, day = (_part(text.copy(), pattern, g) for g in (1, 2, 3))
    first = exp.Anonymous(this="make_date", expressions=[year, month, exp.Literal.number(1)])
    date = exp.Anonymous(this="date_add", expressions=[first, exp.Sub(this=day, expression=exp.Literal.number(1))])
    same_month = exp.EQ(this=exp.Anonymous(this="month", expressions=[date]), expression=month.copy())
    plausible = exp.and_(exp.Between(this=year.copy(), low=exp.Literal.number(1), high=exp.Literal.number(9999)),
                         exp.Between(this=month.copy(), low=exp.Literal.number(1), high=exp.Literal.number(12)),
                         exp.Between(this=day.copy(), low=exp.Literal.number(1), high=exp.Literal.number(31)))
    return _when(plausible, _when(same_month, date.copy()))


def _timestamp(text: exp.Expr) -> exp.Expr:
    pattern = _DATE + _TIME
    zero = exp.Literal.number(0)
    hour = exp.Coalesce(this=_part(text.copy(), pattern, 5), expressions=[zero])
    minute = exp.Coalesce(this=_part(text.copy(), pattern, 6), expressions=[zero.copy()])
    second = exp.Coalesce(this=_part(text.copy(), pattern, 8), expressions=[zero.copy()])
    fraction = exp.Anonymous(this="regexp_extract", expressions=[text.copy(), lit(pattern.replace("$", r"\z")),
                                                                 exp.Literal.number(10)])
    micros = exp.cast(exp.Anonymous(this="rpad", expressions=[
        exp.Substring(this=fraction, start=exp.Literal.number(1), length=exp.Literal.number(6)),
        exp.Literal.number(6), lit("0")]), _T.INT)
    micro = exp.DataType.build("DECIMAL(18, 6)")
    seconds = exp.Add(this=exp.cast(second, micro), expression=exp.Div(
        this=exp.cast(micros, micro), expression=exp.Literal.number(1000000), typed=False, safe=False))
    # polars takes second 60 (a leap second) as the next minute; an interval does the same
    clock = exp.Anonymous(this="make_dt_interval", expressions=[zero.copy(), hour, minute, seconds])
    valid = exp.and_(exp.LTE(this=hour.copy(), expression=exp.Literal.number(23)),
                     exp.LTE(this=minute.copy(), expression=exp.Literal.number(59)),
                     exp.LTE(this=second.copy(), expression=exp.Literal.number(60)))
    day = exp.cast(_date(text.copy(), pattern), _T.TIMESTAMPNTZ)
    return _when(_matches(text, pattern), _when(valid, exp.Add(this=day, expression=clock)))


def typed(column: dict, native: str) -> exp.Expr:  # noqa: C901 - one case per type
    """The column cast to its declared type; a value that does not convert becomes null."""
    kind, found, value = column["type"], base(native), col(column["name"])
    if kind == "integer":
        if found in INTEGERS:
            return exp.cast(value, _T.BIGINT)
        return _whole(exp.cast(value, _T.DOUBLE) if found in NUMBERS else _double(_text(value)))
    if kind == "float":
        return exp.cast(value, _T.DOUBLE) if found in NUMBERS else _double(_text(value))
    if kind == "date":
        if found == "date":
            return value
        if found in TIMES:
            return exp.cast(value, _T.DATE)
        text = _text(value)
        return _when(_matches(text, _DATE + "$"), _date(text.copy(), _DATE + "$"))
    if kind == "datetime":
        if found in (*TIMES, "date"):
            return exp.cast(value, _T.TIMESTAMPNTZ)  # a `timestamp` as its wall time in the session's zone, UTC
        return _timestamp(_text(value))
    if kind == "boolean":
        if found == "boolean":
            return value
        lower = exp.Lower(this=_text(value))
        return exp.Case(ifs=[exp.If(this=exp.In(this=lower, expressions=[lit(v) for v in _TRUE]), true=exp.true()),
                             exp.If(this=exp.In(this=lower.copy(), expressions=[lit(v) for v in _FALSE]),
                                    true=exp.false())])
    return value if found in TEXT else exp.cast(value, _T.VARCHAR)  # string, category


def castable(column: dict, native: str) -> bool:
    """Whether a present value can fail the cast (an `int` column declared integer cannot)."""
    kind = column["type"]
    if kind in ("string", "category"):
        return False
    same = {"integer": INTEGERS, "float": NUMBERS, "date": ("date", *TIMES), "boolean": ("boolean",),
            "datetime": ("date", *TIMES)}
    return base(native) not in same[kind]


def failed(column: dict, native: str) -> exp.Expr:
    """True where the value was present and its cast is null."""
    before = col(column["name"])
    present: exp.Expr = exp.Not(this=exp.Is(this=before, expression=exp.null()))
    if base(native) in TEXT:
        present = exp.and_(present, exp.NEQ(this=_text(before.copy()), expression=lit("")))
    return exp.and_(exp.Is(this=typed(column, native), expression=exp.null()), present)


def unlisted(column: dict, native: str) -> exp.Expr:
    """True where a category value is present and not among the declared `values`."""
    value = typed(column, native)
    allowed = exp.In(this=value.copy(), expressions=[lit(str(v)) for v in column["values"]])
    return exp.and_(exp.Not(this=exp.Is(this=value, expression=exp.null())), exp.Not(this=exp.Paren(this=allowed)))


def checks(columns: list[dict], found: dict[str, str]) -> list[tuple[dict, bool, exp.Expr]]:
    """(column, a cast check?, the predicate of its failing rows) for every column that can fail."""
    out = []
    for c in columns:
        if castable(c, found[c["name"]]):
            out.append((c, True, failed(c, found[c["name"]])))
        elif c["type"] == "category" and c.get("values"):
            out.append((c, False, unlisted(c, found[c["name"]])))
    return out

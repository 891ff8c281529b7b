"""Declared column types in PostgreSQL: ingest's casts from the database's own column types.

A source read from SQL is already typed, so most columns need no cast or a widening one
(`int4` to `bigint`, `numeric` to `double precision`). Text declared as a number, date or
timestamp is parsed as ingest parses it, with a regular expression guarding each cast, since
PostgreSQL raises on a value that does not convert where ingest makes it null: `+1`, ` 2.5 `,
`1e3`, `inf` and `nan` are numbers; dates are `Y-M-D` with one or two digits for month and day;
timestamps add `T` or a space and `H:M`, `H:M:S` or `H:M:S.fraction` (truncated to
microseconds). A value fails its cast when it was present before and is null after (blank text
counts as missing), and the error is ingest's, through `sqltypes.type_errors`.
"""

from __future__ import annotations

from sqlglot import exp

from compiler.execute.engines.sql import col, lit
from compiler.execute.ingest import _FALSE, _TRUE

# Built-in type OIDs (stable across PostgreSQL versions); any other type is read as its text.
_OIDS = {16: "bool", 20: "int8", 21: "int2", 23: "int4", 26: "oid", 700: "float4", 701: "float8", 1700: "numeric",
         25: "text", 1042: "bpchar", 1043: "varchar", 19: "name", 1082: "date", 1114: "timestamp",
         1184: "timestamptz"}  # fmt: skip
INTEGERS = ("int2", "int4", "int8", "oid")
NUMBERS = (*INTEGERS, "float4", "float8", "numeric")
TEXT = ("text", "varchar", "bpchar", "name")
_T = exp.DataType.Type
# What polars' float parser takes, within double precision's range (longer digits or exponents
# would make PostgreSQL raise instead of answer).
_NUMBER = r"^[+-]?([0-9]{1,200}(\.[0-9]{0,200})?|\.[0-9]{1,200})([eE][+-]?[0-9]{1,2})?$"
_SPECIAL = r"^([+-]?(inf|infinity)|nan)$"
_DATE = r"^\+?([0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})"
_TIME = r"([T ]([0-9]{1,2}):([0-9]{1,2})(:([0-9]{1,2})(\.([0-9]{1,9}))?)?)?$"
_SPACE = " \t\n\r\f\v"
_LARGEST = 9.2e18  # below 2**63: a double this size still fits a bigint


def native(oid: int) -> str:
    return _OIDS.get(oid, "other")


def _text(value: exp.Expr) -> exp.Expr:
    return exp.Trim(this=exp.cast(value, _T.TEXT), expression=lit(_SPACE))


def _matches(value: exp.Expr, pattern: str, ignore_case: bool = False) -> exp.Expr:
    kind = exp.RegexpILike if ignore_case else exp.RegexpLike
    return kind(this=value, expression=lit(pattern))


def _when(condition: exp.Expr, then: exp.Expr, otherwise: exp.Expr | None = None) -> exp.Expr:
    # PostgreSQL evaluates a CASE branch only when its condition holds: the guard keeps a cast
    # from seeing a value it would raise on.
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def _double(text: exp.Expr) -> exp.Expr:
    number = exp.cast(text, _T.DOUBLE)
    return _when(_matches(text, _NUMBER), number, _when(_matches(text.copy(), _SPECIAL, True), number.copy()))


def _whole(number: exp.Expr) -> exp.Expr:
    fits = exp.and_(exp.EQ(this=number, expression=exp.Round(this=number.copy())),
                    exp.LT(this=exp.Abs(this=number.copy()), expression=exp.Literal.number(repr(_LARGEST))))
    return _when(fits, exp.cast(number.copy(), _T.BIGINT))


def _part(text: exp.Expr, pattern: str, group: int) -> exp.Expr:
    found = exp.Anonymous(this="regexp_match", expressions=[text, lit(pattern)])
    return exp.cast(exp.Bracket(this=exp.Paren(this=found), expressions=[exp.Literal.number(group)], offset=1),
                    _T.INT)


def _date(text: exp.Expr, pattern: str) -> exp.Expr:
    """The date of `Y-M-D` at the start of `text` (which matches `pattern`); null for a day that does not exist."""
    year, month, day = (_part(text.copy(), pattern, g) for g in (1, 2, 3))
    first = exp.Anonymous(this="make_date", expressions=[year, month, exp.Literal.number(1)])
    date = exp.Add(this=first, expression=exp.Paren(this=exp.Sub(this=day, expression=exp.Literal.number(1))))
    same_month = exp.EQ(this=exp.Extract(this=exp.var("MONTH"), expression=date), expression=month.copy())
    plausible = exp.and_(exp.Between(this=year.copy(), low=exp.Literal.number(1), high=exp.Literal.number(9999)),
                         exp.Between(this=month.copy(), low=exp.Literal.number(1), high=exp.Literal.number(12)),
                         exp.Between(this=day.copy(), low=exp.Literal.number(1), high=exp.Literal.number(31)))
    return _when(plausible, _when(same_month, date.copy()))


def _timestamp(text: exp.Expr) -> exp.Expr:
    pattern = _DATE + _TIME
    hour, minute = _part(text.copy(), pattern, 5), _part(text.copy(), pattern, 6)
    second = exp.Coalesce(this=_part(text.copy(), pattern, 8), expressions=[exp.Literal.number(0)])
    digits = exp.Anonymous(this="regexp_match", expressions=[text.copy(), lit(pattern)])
    fraction = exp.Bracket(this=exp.Paren(this=digits), expressions=[exp.Literal.number(10)], offset=1)
    micros = exp.cast(exp.Anonymous(this="rpad", expressions=[
        exp.Coalesce(this=exp.Substring(this=fraction, start=exp.Literal.number(1), length=exp.Literal.number(6)),
                     expressions=[lit("")]), exp.Literal.number(6), lit("0")]), _T.INT)
    seconds = exp.Add(this=second, expression=exp.Div(this=micros, expression=exp.Literal.number("1000000.0"),
                                                      typed=False, safe=False))
    zero = exp.Literal.number(0)
    clock = exp.Anonymous(this="make_interval", expressions=[
        zero, zero.copy(), zero.copy(), zero.copy(), exp.Coalesce(this=hour, expressions=[zero.copy()]),
        exp.Coalesce(this=minute, expressions=[zero.copy()]), seconds])
    # polars takes second 60 (a leap second) as the next minute; an interval does the same
    valid = exp.and_(exp.LTE(this=exp.Coalesce(this=hour.copy(), expressions=[zero.copy()]),
                             expression=exp.Literal.number(23)),
                     exp.LTE(this=exp.Coalesce(this=minute.copy(), expressions=[zero.copy()]),
                             expression=exp.Literal.number(59)),
                     exp.LTE(this=second.copy(), expression=exp.Literal.number(60)))
    day = exp.cast(_date(text.copy(), pattern), _T.TIMESTAMP)
    return _when(_matches(text, pattern), _when(valid, exp.Add(this=day, expression=clock)))


def typed(column: dict, found: str) -> exp.Expr:  # noqa: C901 - one case per type
    """The column cast to its declared type; a value that does not convert becomes null."""
    kind, value = column["type"], col(column["name"])
    if kind == "integer":
        if found in INTEGERS:
            return exp.cast(value, _T.BIGINT)
        return _whole(exp.cast(value, _T.DOUBLE) if found in NUMBERS else _double(_text(value)))
    if kind == "float":
        return exp.cast(value, _T.DOUBLE) if found in NUMBERS else _double(_text(value))
    if kind == "date":
        if found == "date":
            return value
        if found in ("timestamp", "timestamptz"):
            return exp.cast(_wall(value, found), _T.DATE)
        text = _text(value)
        return _when(_matches(text, _DATE + "$"), _date(text.copy(), _DATE + "$"))
    if kind == "datetime":
        if found in ("timestamp", "timestamptz", "date"):
            return exp.cast(_wall(value, found), _T.TIMESTAMP)
        return _timestamp(_text(value))
    if kind == "boolean":
        if found == "bool":
            return value
        lower = exp.Lower(this=_text(value))
        return exp.Case(ifs=[exp.If(this=exp.In(this=lower, expressions=[lit(v) for v in _TRUE]), true=exp.true()),
                             exp.If(this=exp.In(this=lower.copy(), expressions=[lit(v) for v in _FALSE]),
                                    true=exp.false())])
    return value if found in TEXT else exp.cast(value, _T.TEXT)  # string, category


def _wall(value: exp.Expr, found: str) -> exp.Expr:
    """A `timestamptz` as its wall time in the session's `TimeZone`: the driver hands ingest that time."""
    return exp.cast(value, _T.TIMESTAMP) if found == "timestamptz" else value


def castable(column: dict, found: str) -> bool:
    """Whether a present value can fail the cast (an `int4` column declared integer cannot)."""
    kind = column["type"]
    if kind in ("string", "category"):
        return False
    same = {"integer": INTEGERS, "float": NUMBERS, "date": ("date", "timestamp", "timestamptz"), "boolean": ("bool",),
            "datetime": ("date", "timestamp", "timestamptz")}
    return found not in same[kind]


def failed(column: dict, found: str) -> exp.Expr:
    """True where the value was present and its cast is null."""
    before = col(column["name"])
    present: exp.Expr = exp.Not(this=exp.Is(this=before, expression=exp.null()))
    if found in TEXT or found == "other":
        present = exp.and_(present, exp.NEQ(this=_text(before.copy()), expression=lit("")))
    return exp.and_(exp.Is(this=typed(column, found), expression=exp.null()), present)


def unlisted(column: dict, found: str) -> exp.Expr:
    """True where a category value is present and not among the declared `values`."""
    value = typed(column, found)
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

"""Declared column types in SQL: the casts of `compiler.execute.ingest`, and the check that none failed.

A value fails its cast when it was present before and is null after (blank text counts as
missing), exactly as ingest decides; the error names the column, the count, three values and
the first five rows, in ingest's words. DuckDB's own type of a column (Parquet's, or VARCHAR
for CSV) decides whether a cast is needed at all.
"""

from __future__ import annotations

from sqlglot import exp

from compiler.execute.engines.sql import ROW, SAMPLE, col, lit
from compiler.execute.errors import DataError, shorten
from compiler.execute.ingest import _FALSE, _TRUE, _WORDS, _at, _null_hint

_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUMBERS = (*_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL")
# polars' formats (ingest._target), in DuckDB's strptime spelling: `%.f` there is an optional fraction
_DATETIMES = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%n", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
              "%Y-%m-%d %H:%M:%S.%n", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_T = exp.DataType.Type


def _base(native: str) -> str:
    return native.split("(")[0].strip().upper()


def raw(column: dict, ingest: dict) -> exp.Expr:
    """The column as read: for CSV, its declared null markers (`NA`, `-`) already missing."""
    c = col(column["name"])
    markers = (ingest.get("csv") or {}).get("null_values") or []
    if ingest["format"] != "csv" or not markers:
        return c
    trimmed = exp.Trim(this=c)
    marked = exp.In(this=trimmed, expressions=[lit(m) for m in markers])
    return exp.Case(ifs=[exp.If(this=marked, true=exp.null())], default=c.copy())


def _text(value: exp.Expr, column: dict, ingest: dict) -> exp.Expr:
    text: exp.Expr = exp.Trim(this=exp.cast(value, _T.VARCHAR))
    if (ingest.get("csv") or {}).get("decimal") == "," and column["type"] in ("integer", "float"):
        # 1.234,5: drop the thousands dots, then the first comma is the decimal point (as ingest does)
        text = exp.RegexpReplace(this=exp.Replace(this=text, expression=lit("."), replacement=lit("")),
                                 expression=lit(","), replacement=lit("."))
    return text


def _try(value: exp.Expr, to: str) -> exp.Expr:
    return exp.TryCast(this=value, to=exp.DataType.build(to))


def typed(column: dict, native: str, ingest: dict) -> exp.Expr:  # noqa: C901 - one case per type
    """The column cast to its declared type; a value that does not convert becomes null."""
    kind, base, value = column["type"], _base(native), raw(column, ingest)
    text = _text(value, column, ingest)
    if kind == "integer":
        if base in _INTEGERS:
            return exp.cast(value, _T.BIGINT)
        number = exp.cast(value, _T.DOUBLE) if base in _NUMBERS else _try(text, "DOUBLE")
        whole = exp.EQ(this=number, expression=exp.Round(this=number.copy()))
        return exp.Case(ifs=[exp.If(this=whole, true=_try(number.copy(), "BIGINT"))])
    if kind == "float":
        return exp.cast(value, _T.DOUBLE) if base in _NUMBERS else _try(text, "DOUBLE")
    if kind == "date":
        if base == "DATE":
            return value
        if base.startswith("TIMESTAMP"):
            return exp.cast(value, _T.DATE)
        return exp.cast(exp.Anonymous(this="try_strptime", expressions=[text, lit("%Y-%m-%d")]), _T.DATE)
    if kind == "datetime":
        if base.startswith("TIMESTAMP") or base == "DATE":
            return exp.cast(value, _T.TIMESTAMP)
        formats = exp.Array(expressions=[lit(f) for f in _DATETIMES])
        return exp.cast(exp.Anonymous(this="try_strptime", expressions=[text, formats]), _T.TIMESTAMP)
    if kind == "boolean":
        if base == "BOOLEAN":
            return value
        lower = exp.Lower(this=text)
        return exp.Case(ifs=[exp.If(this=exp.In(this=lower, expressions=[lit(v) for v in _TRUE]), true=exp.true()),
                             exp.If(this=exp.In(this=lower.copy(), expressions=[lit(v) for v in _FALSE]),
                                    true=exp.false())])
    return value if base == "VARCHAR" else exp.cast(value, _T.VARCHAR)  # string, category


def _castable(column: dict, native: str) -> bool:
    """Whether a present value can fail the cast (a Parquet BIGINT declared integer cannot)."""
    kind, base = column["type"], _base(native)
    if kind in ("string", "category"):
        return False
    same = {"integer": _INTEGERS, "float": _NUMBERS, "date": ("DATE",), "boolean": ("BOOLEAN",)}
    if kind == "datetime":
        return not (base.startswith("TIMESTAMP") or base == "DATE")
    return base not in same[kind] or (kind == "date" and base.startswith("TIMESTAMP"))


def _failed(column: dict, native: str, ingest: dict) -> exp.Expr:
    before = raw(column, ingest)
    present: exp.Expr = exp.Not(this=exp.Is(this=before, expression=exp.null()))
    if _base(native) == "VARCHAR":
        present = exp.and_(present, exp.NEQ(this=exp.Trim(this=before.copy()), expression=lit("")))
    return exp.and_(exp.Is(this=typed(column, native, ingest), expression=exp.null()), present)


def _unlisted(column: dict, native: str, ingest: dict) -> exp.Expr:
    value = typed(column, native, ingest)
    allowed = exp.In(this=value.copy(), expressions=[lit(str(v)) for v in column["values"]])
    return exp.and_(exp.Not(this=exp.Is(this=value, expression=exp.null())), exp.Not(this=exp.Paren(this=allowed)))


def ingest_checks(ingest: dict, columns: list[dict], found: dict[str, str], relation: exp.Select) -> exp.Select | None:
    """One aggregate over the file: its rows, then per checked column the failing count, rows and values.

    None when nothing can fail: typed Parquet columns, no category values, no `max_rows`.
    """
    picked = _checked(columns, found)
    if not picked and (ingest.get("limits") or {}).get("max_rows") is None:
        return None
    out: list[exp.Expr] = [exp.Count(this=exp.Star())]
    for column, test in picked:
        where = exp.Where(this=test(column, found[column["name"]], ingest))
        out += [exp.Filter(this=exp.Count(this=exp.Star()), expression=where),
                exp.Filter(this=exp.Min(this=col(ROW), count=exp.Literal.number(SAMPLE)), expression=where.copy()),
                exp.Filter(this=exp.Anonymous(this="arg_min", expressions=[
                    exp.cast(raw(column, ingest), _T.VARCHAR), col(ROW), exp.Literal.number(SAMPLE)]),
                    expression=where.copy())]
    return exp.select(*out).from_(relation.subquery("raw"))


def _checked(columns: list[dict], found: dict[str, str]):
    picked = []
    for c in columns:
        if _castable(c, found[c["name"]]):
            picked.append((c, _failed))
        elif c["type"] == "category" and c.get("values"):
            picked.append((c, _unlisted))
    return picked


def problems(ingest: dict, row: tuple, columns: list[dict], found: dict[str, str]) -> None:
    """Raise ingest's DataError for every column whose values failed (`row` from `ingest_checks`)."""
    failures = [(column, test is _failed, row[1 + 3 * k], sorted(row[2 + 3 * k] or []), row[3 + 3 * k] or [])
                for k, (column, test) in enumerate(_checked(columns, found))]
    type_errors(ingest, failures)


def type_errors(ingest: dict, failures: list[tuple[dict, bool, int, list[int], list]]) -> None:
    """Raise ingest's DataError from (column, failed a cast?, count, first 0-based rows, their values).

    `failed a cast` is false for a category value not among the declared `values`; any engine
    that checks types in SQL reports through here, in ingest's words.
    """
    messages, first = [], None
    # as ingest: type errors first; category values are judged on data that converted
    if any(count for _, cast, count, _, _ in failures if cast):
        failures = [f for f in failures if f[1]]
    for column, cast, count, rows, values in failures:
        if not count:
            continue
        name = column["name"]
        if cast:
            shown = ", ".join(f"`{shorten(v)}`" for v in values[:3])
            messages.append(f"column `{name}` ({column['type']}): {count} value(s) are not "
                            f"{_WORDS.get(column['type'], column['type'])}, e.g. {shown}{_at(rows)}")
        else:
            distinct = list(dict.fromkeys(values))[:3]
            shown = ", ".join(f"`{shorten(v)}`" for v in distinct)
            messages.append(f"column `{name}` (category): {count} value(s) not among the declared `values`, "
                            f"e.g. {shown}{_at(rows)}")
        first = first or (name, rows)
    if messages:
        category = all("(category)" in m for m in messages)
        raise DataError(f"source `{ingest['source']}`: " + "; ".join(messages), column=first[0] if first else None,
                        hint=_null_hint(messages) or ("add the value to the column's `values`, or map it with a "
                                                      "`standardize` step" if category else None))


def check_types(run, ingest: dict, checks: list, plain: exp.Expr, raw: exp.Expr) -> None:
    """Ingest's checks inside the engine: `max_rows`, then every declared type and category's values.

    `checks` are the engine's (column, cast, failing test) triples (`pgtypes.checks`,
    `sparktypes.checks`); `run` its session (`one`, `all`). The counts read `plain`, the source
    without positions (numbering sorts the table); only a failing column's first rows are looked
    up in `raw`, the numbered source. The values come as the driver gives them, so they print as
    ingest prints them (`nan`, not `NaN`).
    """
    from compiler.execute import bounded

    if not checks and (ingest.get("limits") or {}).get("max_rows") is None:
        return
    counts = [exp.Count(this=exp.Star())] + [
        exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=test)) for _, _, test in checks]
    row = run.one(exp.select(*counts).from_(plain))
    bounded.check_rows(ingest, int(row[0]), exact=True)
    failures = []
    for k, (column, cast, test) in enumerate(checks):
        count, rows, values = int(row[1 + k]), [], []
        if count:
            first = exp.select(col(ROW), col(column["name"])).from_(raw.copy()).where(
                test.copy()).order_by(exp.Ordered(this=col(ROW))).limit(SAMPLE)
            picked = run.all(first)
            rows, values = [int(r) for r, _ in picked], [v for _, v in picked]
        failures.append((column, cast, count, rows, values))
    type_errors(ingest, failures)


def to_float(value) -> float | None:
    """A measure as a float: some come as a Decimal (numeric), None stays None."""
    return None if value is None else float(value)


def missing_columns(ingest: dict, declared: list[str], found: dict, whose: str) -> None:
    """Refuse declared columns the engine's source lacks, naming (up to 8 of) `whose` columns it has."""
    missing = [c for c in declared if c not in found]
    if missing:
        shown = ", ".join(f"`{shorten(c)}`" for c in list(found)[:8])
        raise DataError(f"source `{ingest['source']}`: declared column(s) missing from the data: "
                        + ", ".join(f"`{m}`" for m in missing), column=missing[0],
                        hint=f"{whose} columns are {shown}" if shown else None)

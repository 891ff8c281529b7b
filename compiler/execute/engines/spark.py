"""`engine: spark`: the rule plan run by Spark SQL, over a Parquet file or a table of a Spark catalog.

Input: the ingest, prepare and validate step params of a data check, and the engine's settings
(the session's `master`). Output: the rule results, as the polars engine gives them. Spark
reads the data where it is: one aggregate query computes every row rule's failing count and
every table rule's measure, then one query per failing row rule fetches its first five failing
positions; only those cross to Python.

Row positions need an order. A Parquet file has one, and Spark says where each row sits in it
(`_metadata.row_index`), so sample rows are the rows polars reports; a CSV file has none that
Spark can tell once it splits the file, so the engine refuses it (S235); a `format: spark`
table is numbered in the order of its `primary_key` (S236 without one). The SQL is a SQLGlot
tree in the `spark` dialect: every name and literal from the spec is quoted by the library.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sqlglot import exp

from compiler.execute import bounded
from compiler.execute import plan as p
from compiler.execute.engines import sparktypes
from compiler.execute.engines.postgres import portable_regex
from compiler.execute.engines.relational import STEPS, declared_types, needed_columns, prepare, read_as
from compiler.execute.engines.spark_session import session
from compiler.execute.engines.sql import ROW, IeeeCompiler, col, lit
from compiler.execute.engines.sqltypes import check_types, missing_columns, to_float
from compiler.execute.errors import DataError, shorten

DIALECT = "spark"
SUPPORTED_STEPS = STEPS
FORMATS = ("parquet", "spark")
_T = exp.DataType.Type


def check_source(ingest: dict, prep: dict, rules: list[dict], settings: dict, root: Path, *,
                 now: datetime) -> tuple[list, int]:
    """Run the data check in Spark: (rule results, rows of the prepared table)."""
    from compiler.execute.rules import results

    base, numbered = source(ingest, root)
    types = {c["name"]: c["type"] for c in prep["schema"]}
    plan = p.compile_rules(rules, types, now=now)
    run = _Session(session(settings, root), ingest)
    declared = [c["name"] for c in ingest["schema"]]
    columns = needed_columns(plan, prep["steps"], declared)
    read = read_as(ingest, prep["steps"])
    typed = _typed(run, read, (base, numbered), columns)
    prepared, _, after = prepare(typed, prep["steps"], columns, DIALECT,
                                 declared_types(read, columns))
    types = {**types, **after}  # what the prepare steps made of the types
    plan = p.compile_rules(rules, types, now=now)
    compiler = SparkCompiler(_regex_fallbacks(run, plan, prepared), types)
    keys = []
    for ref in plan.references:  # a foreign key's referenced Parquet file or table, in the same session
        keys.append(_typed(_Session(run.spark, ref.ingest), ref.ingest, source(ref.ingest, root), list(ref.columns)))
    compiler.use_references(plan, keys)
    row = run.one(compiler.query(plan, prepared.subquery("prepared"), samples=False))
    failing = {i: int(row[1 + k]) for k, (i, _) in enumerate(plan.row_rules)}
    samples = _samples(run, compiler, [(i, r) for i, r in plan.row_rules if failing[i]], prepared)
    counts = {i: (failing[i], samples.get(i, [])) for i, _ in plan.row_rules}
    first = 1 + len(plan.row_rules)
    stats = {i: to_float(row[first + k]) for k, (i, _) in enumerate(plan.table_rules)}
    return results(plan.rules, counts, stats, int(row[0])), int(row[0])


def _typed(run: _Session, ingest: dict, relations: tuple[exp.Select, exp.Select], columns: list[str]) -> exp.Select:
    """The source's `columns` cast to their declared types, with the row position; ingest's type checks first."""
    base, numbered = relations
    found = run.describe(base)
    declared = [c["name"] for c in ingest["schema"]]
    missing_columns(ingest, declared, found, "the source's")
    schema = {c["name"]: c for c in ingest["schema"]}
    raw = numbered.subquery("raw")
    check_types(run, ingest, sparktypes.checks([schema[c] for c in declared], found), base.subquery("source"), raw)
    return exp.select(*[exp.alias_(sparktypes.typed(schema[c], found[c]), c, quoted=True) for c in columns],
                      col(ROW)).from_(raw.copy())


def _samples(run: _Session, compiler: SparkCompiler, rules: list[tuple[int, p.RowRule]],
             prepared: exp.Select) -> dict[int, list[int]]:
    """The first failing positions of every failing row rule, in one query: each costs Spark a job to plan."""
    if not rules:
        return {}
    branches = [exp.select(exp.alias_(exp.Literal.number(i), "__charter_rule", quoted=True), col(ROW)).from_(
        compiler.sample(rule.failing, prepared.subquery("prepared")).subquery(f"s{i}")) for i, rule in rules]
    union: exp.Query = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False)
    out: dict[int, list[int]] = {}
    for i, position in run.all(union):
        out.setdefault(int(i), []).append(int(position))
    return {i: sorted(positions) for i, positions in out.items()}


def source(ingest: dict, root: Path) -> tuple[exp.Select, exp.Select]:
    """(the source as ingest reads it, the same with its 0-based row position `__charter_row`)."""
    name, fmt = ingest["source"], ingest["format"]
    if fmt == "parquet":
        from compiler.execute.fingerprint import source_path

        path = source_path(ingest, root)  # one file in the repository: a folder of files is a table's business
        bounded.check_size(ingest, path)
        table = exp.Table(this=exp.to_identifier(str(path.resolve()), quoted=True),
                          db=exp.to_identifier("parquet", quoted=True))
        # the row's index in the file, whatever the split that reads it: polars' row order
        position = exp.alias_(exp.column("row_index", table="_metadata", quoted=True), ROW, quoted=True)
        return exp.select(exp.Star()).from_(table), exp.select(exp.Star(), position).from_(table.copy())
    if fmt != "spark":  # validation (S235) refuses these
        why = "Spark gives a CSV file's rows no position" if fmt == "csv" else f"it reads no `{fmt}` source"
        raise DataError(f"source `{name}`: engine spark cannot check a `{fmt}` source: {why}",
                        hint="convert the file to Parquet, or use `engine: duckdb` or `polars` for this source")
    key = ingest.get("primary_key") or []
    if not key:  # validation (S236) refuses this
        raise DataError(f"source `{name}`: engine spark needs a row order: declare the table's `primary_key`")
    table = table_name(ingest["table"])
    order = exp.Order(expressions=[exp.Ordered(this=col(k), nulls_first=False) for k in key])
    position = exp.Sub(this=exp.Window(this=exp.RowNumber(), order=order), expression=exp.Literal.number(1))
    return (exp.select(exp.Star()).from_(table),
            exp.select(exp.Star(), exp.alias_(position, ROW, quoted=True)).from_(table.copy()))


def read_table(ingest: dict, root: Path):
    """A `format: spark` source as a polars DataFrame, for ingest: in `primary_key` order, as the engine numbers it.

    At most `max_rows` + 1 rows cross to Python, as Arrow batches.
    """
    import polars as pl

    query = exp.select(exp.Star()).from_(table_name(ingest["table"]))
    if ingest.get("primary_key"):
        query = query.order_by(*[exp.Ordered(this=col(k), nulls_first=False) for k in ingest["primary_key"]])
    cap = bounded.row_cap(ingest)
    if cap is not None:
        query = query.limit(cap)
    run = _Session(session(ingest.get("spark") or {}, root), ingest)
    frame = run._frame(query)
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        table = frame.toArrow()
    except (PySparkException, Py4JError) as exc:
        raise run._error(exc) from None
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    bounded.check_rows(ingest, df.height)
    return df


def table_name(name: str) -> exp.Table:
    """`[catalog.][database.]table`, each part quoted: a dot always separates parts."""
    parts = [exp.to_identifier(part, quoted=True) for part in name.split(".")]
    if len(parts) > 3 or any(not part.name for part in parts):  # validation (S235) refuses these
        raise DataError(f"`{shorten(name)}` is not a table name: give `table`, `database.table` or "
                        "`catalog.database.table`")
    this = parts.pop()
    return exp.Table(this=this, db=parts.pop() if parts else None, catalog=parts.pop() if parts else None)


class _Session:
    """Queries in one Spark session, as SQLGlot trees; Spark's errors become the source's DataError."""

    def __init__(self, spark, ingest: dict):
        self.spark, self.ingest = spark, ingest

    def _frame(self, query: exp.Expr):
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(query.sql(DIALECT))
        except PySparkException as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> DataError:
        what = f"`{self.ingest.get('table') or self.ingest.get('path')}`"
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DataError(f"source `{self.ingest['source']}`: engine spark cannot read {what}: "
                         + shorten(message, 300))

    def rows(self, query: exp.Expr) -> list[tuple]:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        frame = self._frame(query)
        try:
            return [tuple(r) for r in frame.collect()]
        except (PySparkException, Py4JError) as exc:
            raise self._error(exc) from None

    def one(self, query: exp.Expr) -> tuple:
        [row] = self.rows(query)  # an aggregate query returns one row
        return row

    all = rows

    def describe(self, base: exp.Select) -> dict[str, str]:
        """Column -> its Spark type (`bigint`, `string`, `decimal(10,2)`, ...), from the plan alone: no job runs."""
        return {f.name: f.dataType.simpleString() for f in self._frame(base).schema.fields}


def _regex_fallbacks(run: _Session, plan: p.Plan, prepared: exp.Select) -> dict[tuple[str, str], list[str]]:
    """Patterns Java would read otherwise than Python: Python's `re` over the column's distinct values."""
    out: dict[tuple[str, str], list[str]] = {}
    for _, rule in plan.row_rules:
        node = rule.failing
        if not isinstance(node, p.RegexMismatch) or (node.column, node.pattern) in out:
            continue
        if java_regex(node.pattern) is not None:
            continue
        text = exp.cast(col(node.column), _T.VARCHAR)
        distinct = exp.select(text).distinct().from_(prepared.subquery("prepared")).where(
            exp.Not(this=exp.Is(this=col(node.column), expression=exp.null())))
        compiled = re.compile(node.pattern)
        out[(node.column, node.pattern)] = sorted(v for (v,) in run.all(distinct) if not compiled.fullmatch(v))
    return out


_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")


def java_regex(pattern: str) -> str | None:  # noqa: C901 - one case per construct
    r"""`pattern` as a full match in Java's regular expressions, accepting exactly what Python's `re` does, or None.

    Within the constructs that mean the same in PostgreSQL and Python (`postgres.portable_regex`),
    Java differs on a few more: classes nest and intersect (`[a[b]]`, `&&`), a brace that is not
    a quantifier is an error, and `\v` is any vertical space. `(?U)` gives `\d`, `\w`, `\s`
    Python's Unicode classes, `(?d)` makes `\n` the only line end (Python's `.`).
    """
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1:i + 2] == "v":
                return None
            i += 2
            continue
        if in_class:
            if char == "[" or pattern.startswith("&&", i):
                return None
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 2 if pattern.startswith("[^", i) else 1
            if pattern[i:i + 1] == "]":  # a literal `]` first in a class: an empty class in Java
                return None
            continue
        elif char == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is None:
                return None
            i = quantifier.end()
            continue
        elif char == "}":
            return None
        i += 1
    if portable_regex(pattern) is None:  # after the scan: Python warns of a `&&` it reads literally
        return None
    return rf"(?dU)\A(?:{pattern})\z"


class SparkCompiler(IeeeCompiler):
    """The plan in Spark SQL: IEEE doubles as polars has them, Java's regular expressions, naive timestamps.

    Spark compares text by its UTF-8 bytes and orders NaN above every number, as polars does.
    """

    def __init__(self, regex_values: dict[tuple[str, str], list[str]] | None = None,
                 types: dict[str, str] | None = None):
        super().__init__(DIALECT, regex_values, types)

    def node(self, n: p.Node) -> exp.Expr:
        if isinstance(n, p.Lit) and isinstance(n.value, datetime):
            return _instant(n.value)
        return super().node(n)

    def _regex(self, n: p.RegexMismatch) -> exp.Expr:
        text = exp.cast(col(n.column), _T.VARCHAR)
        bad = self.regex_values.get((n.column, n.pattern))
        if bad is not None:
            return self._in(text, bad)
        translated = java_regex(n.pattern)
        assert translated is not None  # otherwise a fallback was computed
        match = exp.RegexpLike(this=text, expression=lit(translated))
        return exp.and_(exp.Not(this=exp.Is(this=col(n.column), expression=exp.null())),
                        exp.Not(this=exp.Paren(this=match)))

    def measure(self, m: p.Measure) -> exp.Expr:
        c = col(m.column or "")
        if m.kind != "age":
            return super().measure(m)
        # whole seconds, truncated toward zero as polars' total_seconds
        newest = exp.cast(exp.Max(this=c), _T.TIMESTAMPNTZ)
        assert m.now is not None
        micros = exp.Anonymous(this="timestampdiff", expressions=[exp.var("MICROSECOND"), newest, _instant(m.now)])
        return exp.cast(exp.IntDiv(this=micros, expression=exp.Literal.number(1_000_000)), _T.DOUBLE)


def _instant(value: datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), _T.TIMESTAMPNTZ)

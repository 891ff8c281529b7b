"""`engine: postgres`: the rule plan pushed down into PostgreSQL, for `format: sql` sources.

Input: the ingest, prepare and validate step params of a data check whose source is a `table`
or a `query` at a database URL. Output: the rule results, as the polars engine gives them. The
table never leaves the server: one aggregate query computes every row rule's failing count and
every table rule's measure, then one query per failing row rule fetches its first five failing
positions. Only those counts and positions cross the network, all inside one read-only,
repeatable-read transaction (one snapshot; nothing can be written).

Row positions need an order, and a table has none: a `query` gives its own `ORDER BY`, a
`table` its `primary_key` (ingest reads both the same way, so polars reports the same rows);
validation refuses a source with neither (S236). The SQL is a SQLGlot tree in the `postgres`
dialect, the user's `query` included (parsed, so one SELECT and nothing else); every name and
literal from the spec is quoted by the library.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sqlglot import exp

from compiler.execute import plan as p
from compiler.execute.engines import pgtypes
from compiler.execute.engines.relational import STEPS, declared_types, needed_columns, prepare, read_as
from compiler.execute.engines.sql import ROW, IeeeCompiler, col, lit
from compiler.execute.engines.sqltypes import check_types, missing_columns, to_float
from compiler.execute.errors import DataError, shorten

DIALECT = "postgres"
SUPPORTED_STEPS = STEPS
_T = exp.DataType.Type


def check_source(ingest: dict, prep: dict, rules: list[dict], settings: dict, root: Path, *,
                 now: datetime) -> tuple[list, int]:
    """Run the data check inside PostgreSQL: (rule results, rows of the prepared table).

    `settings` and `root` are unused: the signature is every SQL engine's (`steps.run_validate`).
    """
    from compiler.execute import database
    from compiler.execute.rules import results

    if ingest["format"] != "sql" or not ingest.get("connection"):
        raise DataError(f"source `{ingest['source']}`: engine postgres reads `format: sql` sources with a "
                        "`connection`", hint="use `engine: polars` for this source")
    types = {c["name"]: c["type"] for c in prep["schema"]}
    plan = p.compile_rules(rules, types, now=now)
    base, numbered = source(ingest)
    url, env = database.url_from_env(ingest)
    for ref in plan.references:
        if ref.ingest["format"] != "sql" or ref.ingest.get("connection") != ingest.get("connection"):
            raise DataError(f"source `{ingest['source']}`: engine postgres looks foreign keys up in the same "
                            f"database, and `{ref.source}` is not a table or query of it",
                            hint="give both sources the same `connection`, or use `engine: polars`")
    with database.connect(ingest, url, env, backend="postgresql") as conn, conn.begin():
        run = _Session(conn)
        run.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        declared = [c["name"] for c in ingest["schema"]]
        columns = needed_columns(plan, prep["steps"], declared)
        read = read_as(ingest, prep["steps"])
        typed = _typed(run, read, (base, numbered), columns)
        prepared, _, after = prepare(typed, prep["steps"], columns, DIALECT, declared_types(read, columns))
        types = {**types, **after}  # what the prepare steps made of the types
        plan = p.compile_rules(rules, types, now=now)
        compiler = PostgresCompiler(_regex_fallbacks(run, plan, prepared), types)
        compiler.use_references(plan, [_typed(run, ref.ingest, source(ref.ingest), list(ref.columns))
                                       for ref in plan.references])
        row = run.one(compiler.query(plan, prepared.subquery("prepared"), samples=False))
        counts = {}
        for k, (i, rule) in enumerate(plan.row_rules):
            failing = int(row[1 + k])
            sample = [int(r) for (r,) in run.all(compiler.sample(rule.failing, prepared.subquery("prepared")))] \
                if failing else []
            counts[i] = (failing, sample)
    base_index = 1 + len(plan.row_rules)
    stats = {i: to_float(row[base_index + k]) for k, (i, _) in enumerate(plan.table_rules)}
    return results(plan.rules, counts, stats, int(row[0])), int(row[0])


def _typed(run: _Session, ingest: dict, relations: tuple[exp.Query, exp.Select], columns: list[str]) -> exp.Select:
    """The source's `columns` cast to their declared types, with the row position; ingest's type checks first."""
    base, numbered = relations
    found = run.describe(base)
    missing_columns(ingest, [c["name"] for c in ingest["schema"]], found, "the query's")
    schema = {c["name"]: c for c in ingest["schema"]}
    raw = numbered.subquery("raw")
    # every declared column, as ingest checks them: one aggregate costs the same scan either way
    check_types(run, ingest, pgtypes.checks(ingest["schema"], found), base.subquery("source"), raw)
    return exp.select(*[exp.alias_(pgtypes.typed(schema[c], found[c]), c, quoted=True) for c in columns],
                      col(ROW)).from_(raw.copy())


def source(ingest: dict) -> tuple[exp.Query, exp.Select]:
    """(the source as ingest reads it, the same with its 0-based row position `__charter_row`)."""
    if ingest.get("table"):
        key = ingest.get("primary_key") or []
        if not key:  # validation (S236) refuses this
            raise DataError(f"source `{ingest['source']}`: engine postgres needs a row order: declare the table's "
                            "`primary_key`")
        table = exp.Table(this=exp.to_identifier(ingest["table"], quoted=True))
        order = exp.Order(expressions=[exp.Ordered(this=col(k)) for k in key])
        position = exp.Window(this=exp.RowNumber(), order=order)
        numbered = exp.select(exp.Star(), _position(position)).from_(table)
        return exp.select(exp.Star()).from_(table.copy()), numbered
    query = parse_query(ingest)
    # PostgreSQL does not pull a subquery with ORDER BY up into its parent, and an empty window
    # numbers the rows in the order it reads them: the query's own.
    numbered = exp.select(exp.Star(), _position(exp.Window(this=exp.RowNumber()))).from_(query.subquery("source"))
    return query, numbered


def _position(window: exp.Expr) -> exp.Expr:
    return exp.alias_(exp.Sub(this=window, expression=exp.Literal.number(1)), ROW, quoted=True)


def parse_query(ingest: dict) -> exp.Query:
    """The source's `query` as a SQLGlot tree: one SELECT (or set operation) with a top-level ORDER BY."""
    import sqlglot

    name = ingest["source"]
    try:
        tree = sqlglot.parse_one(ingest["query"], read=DIALECT)
    except sqlglot.errors.SqlglotError as exc:
        raise DataError(f"source `{name}`: engine postgres cannot parse the query: "
                        + shorten(str(exc).splitlines()[0], 200),
                        hint="write one SELECT in PostgreSQL's syntax, or use `engine: polars`") from None
    if not isinstance(tree, exp.Query):
        raise DataError(f"source `{name}`: engine postgres runs a query that is one SELECT, not "
                        f"`{shorten(ingest['query'], 40)}`", hint="write one SELECT statement, without `;`")
    if tree.args.get("order") is None:  # validation (S236) refuses this
        raise DataError(f"source `{name}`: engine postgres needs a row order: end the query with ORDER BY")
    return tree


class _Session:
    """Queries on one connection, as SQLGlot trees, through the driver's own cursor."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str):
        # No parameters at all: SQLAlchemy would pass an empty set, and psycopg would then read the
        # `%` of a quoted literal (`like '100%'`) as a placeholder. Errors become SQLAlchemy's, for
        # `database.connect` to tell in the user's terms.
        import sqlalchemy

        dbapi = self.conn.dialect.loaded_dbapi
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql)
        except dbapi.Error as exc:
            raise sqlalchemy.exc.DBAPIError.instance(sql, None, exc, dbapi.Error) from None
        return cursor

    def one(self, query: exp.Expr) -> tuple:
        row = self.execute(query.sql(DIALECT)).fetchone()
        assert row is not None  # an aggregate query returns one row
        return tuple(row)

    def all(self, query: exp.Expr) -> list[tuple]:
        return [tuple(r) for r in self.execute(query.sql(DIALECT)).fetchall()]

    def describe(self, base: exp.Query) -> dict[str, str]:
        """Column -> its PostgreSQL type (`int4`, `text`, ...) of the source, without reading a row."""
        probe = exp.select(exp.Star()).from_(base.subquery("source")).limit(0)
        cursor = self.execute(probe.sql(DIALECT))
        return {c.name: pgtypes.native(c.type_code) for c in cursor.description}

    def compiles(self, pattern: str) -> bool:
        """Whether PostgreSQL's regular expressions take `pattern` (a savepoint keeps the transaction usable)."""
        import sqlalchemy

        try:
            with self.conn.begin_nested():
                self.one(exp.select(exp.RegexpLike(this=lit(""), expression=lit(pattern))))
            return True
        except sqlalchemy.exc.DBAPIError:
            return False


def _regex_fallbacks(run: _Session, plan: p.Plan, prepared: exp.Select) -> dict[tuple[str, str], list[str]]:
    """Patterns PostgreSQL would read otherwise than Python: Python's `re` over the column's distinct values."""
    out: dict[tuple[str, str], list[str]] = {}
    for _, rule in plan.row_rules:
        node = rule.failing
        if not isinstance(node, p.RegexMismatch) or (node.column, node.pattern) in out:
            continue
        translated = portable_regex(node.pattern)
        if translated is not None and run.compiles(translated):
            continue
        text = exp.cast(col(node.column), _T.TEXT)
        distinct = exp.select(text).distinct().from_(prepared.subquery("prepared")).where(
            exp.Not(this=exp.Is(this=col(node.column), expression=exp.null())))
        compiled = re.compile(node.pattern)
        out[(node.column, node.pattern)] = sorted(v for (v,) in run.all(distinct) if not compiled.fullmatch(v))
    return out


# Escapes that mean the same in Python's `re` and PostgreSQL's regular expressions (AREs);
# others differ (`\b` is a word boundary in Python, a backspace in an ARE; `\x` takes any
# number of hex digits in an ARE), and so does every `(?...)` but a plain group or look-ahead.
_SAME_ESCAPES = frozenset("dDsSwWntrfv")


def portable_regex(pattern: str) -> str | None:  # noqa: C901 - one case per construct
    """`pattern` as a full match in an ARE that accepts exactly what Python's `re` does, or None.

    Python's `.` never matches a newline and its `[^a]` does; an ARE's default mode matches
    newlines with both, its `(?p)` mode with neither. A pattern needing both is not portable.
    """
    from re import _constants as sre  # type: ignore[attr-defined]  # the parser's opcodes
    from re import _parser  # type: ignore[attr-defined]

    if any(mark in pattern for mark in ("[:", "[.", "[=")):  # POSIX classes in an ARE, literals in Python
        return None
    escaped = False
    for char in pattern:
        if escaped and char.isalnum() and char not in _SAME_ESCAPES:
            return None
        escaped = not escaped and char == "\\"
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    if tree.state.flags & ~sre.SRE_FLAG_UNICODE:  # (?i), (?s), ... at the start
        return None
    uses = set()

    def walk(items) -> bool:
        for op, av in items:
            uses.add(op)
            if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY):
                continue
            if op is sre.IN:
                for inner, value in av:
                    uses.add(inner)
                    if inner is sre.CATEGORY:
                        uses.add(value)
                    elif inner not in (sre.LITERAL, sre.RANGE, sre.NEGATE):
                        return False
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                if not walk(av[2]):
                    return False
            elif op is sre.SUBPATTERN:
                if av[1] or av[2] or not walk(av[3]):  # a group with its own flags
                    return False
            elif op is sre.BRANCH:
                if not all(walk(branch) for branch in av[1]):
                    return False
            elif op is sre.CATEGORY:
                uses.add(av)
            else:  # anchors, back-references, look-around, atomic groups, conditionals
                return False
        return True

    if not walk(tree):
        return None
    negated = {sre.NOT_LITERAL, sre.NEGATE, sre.CATEGORY_NOT_DIGIT, sre.CATEGORY_NOT_SPACE, sre.CATEGORY_NOT_WORD}
    if sre.ANY in uses and uses & negated:
        return None
    return ("(?p)" if sre.ANY in uses else "") + f"^(?:{pattern})$"


class PostgresCompiler(IeeeCompiler):
    """The plan in PostgreSQL, where a double's `1/0`, `ln(0)` or `sqrt(-1)` raise instead of giving inf or NaN.

    `IeeeCompiler` answers each such case as polars does. Text compares in byte order
    (`COLLATE "C"`), as polars compares strings.
    """

    def __init__(self, regex_values: dict[tuple[str, str], list[str]] | None = None,
                 types: dict[str, str] | None = None):
        super().__init__(DIALECT, regex_values, types)

    def _regex(self, n: p.RegexMismatch) -> exp.Expr:
        bad = self.regex_values.get((n.column, n.pattern))
        text = exp.cast(col(n.column), _T.TEXT)
        if bad is not None:
            return self._in(text, bad)
        translated = portable_regex(n.pattern)
        assert translated is not None  # otherwise a fallback was computed
        match = exp.RegexpLike(this=text, expression=lit(translated))
        return exp.and_(exp.Not(this=exp.Is(this=col(n.column), expression=exp.null())),
                        exp.Not(this=exp.Paren(this=match)))

    def _cmp(self, n: p.Cmp) -> exp.Expr:
        out = super()._cmp(n)
        if n.op in ("<", "<=", ">", ">=") and (self._is_text(n.left) or self._is_text(n.right)):
            out.set("this", exp.Collate(this=out.this, expression=exp.to_identifier("C", quoted=True)))
        return out

    def _is_text(self, n: p.Node) -> bool:
        return (isinstance(n, p.Lit) and isinstance(n.value, str)) or (
            isinstance(n, p.Col) and self.types.get(n.name) in ("string", "category"))

    def measure(self, m: p.Measure) -> exp.Expr:
        if m.kind != "age":
            return super().measure(m)
        newest = exp.cast(exp.Max(this=col(m.column or "")), _T.TIMESTAMP)
        elapsed = exp.Extract(this=exp.var("EPOCH"), expression=exp.Paren(this=exp.Sub(this=lit(m.now),
                                                                                     expression=newest)))
        return exp.cast(exp.Anonymous(this="trunc", expressions=[elapsed]), _T.DOUBLE)

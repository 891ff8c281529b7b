"""`engine: duckdb`: ingest, prepare and the rule plan as SQL, run by DuckDB over the source file.

Input: the ingest, prepare and validate step params of a data check. Output: the rule
results, as the polars engine gives them. DuckDB streams the Parquet or CSV file within a
memory limit and spills to a folder under `.charter/`, so the table never has to fit in
memory; only the columns the rules read are read and typed. The declared types are enforced
as ingest does (same casts, same error messages), the prepare steps become SQL
(`compiler.execute.engines.relational`), and sample rows are the
positions of the prepared table, in file order.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sqlglot import exp

from compiler.execute import bounded
from compiler.execute import plan as p
from compiler.execute.engines.relational import STEPS, declared_types, needed_columns, prepare, read_as
from compiler.execute.engines.sql import ROW, Compiler, col, lit
from compiler.execute.engines.sqltypes import ingest_checks, typed
from compiler.execute.errors import DataError, shorten
from compiler.execute.failure import RunError
from compiler.execute.fingerprint import source_path
from compiler.execute.ingest import compression

DIALECT = "duckdb"
# What a data check gets when neither its DataSource nor charter.yaml says (docs/engines.md).
DEFAULTS = {"memory_limit": 1 << 30, "spill_folder": ".charter/duckdb", "threads": None}
SUPPORTED_STEPS = STEPS


def connect(settings: dict, root: Path):
    try:
        import duckdb
    except ImportError:
        raise RunError("`engine: duckdb` needs DuckDB and SQLGlot, which are not installed",
                       hint="pip install 'charter[duckdb]'") from None
    spill = root / str(settings.get("spill_folder") or DEFAULTS["spill_folder"])
    spill.mkdir(parents=True, exist_ok=True)
    memory = settings.get("memory_limit") or DEFAULTS["memory_limit"]
    config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": f"{memory}B",
              "temp_directory": str(spill), "preserve_insertion_order": True,
              # nothing is fetched from the network: no extension is installed or loaded on the fly
              "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if settings.get("threads"):
        config["threads"] = int(settings["threads"])
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")
    return con


def _option(name: str, value: exp.Expr) -> exp.Expr:
    return exp.EQ(this=exp.var(name), expression=value)


def scan(ingest: dict, path: Path) -> exp.Select:
    """The file as a relation of text (CSV) or native (Parquet) columns plus its 0-based row position."""
    if ingest["format"] == "parquet":
        reader = exp.Anonymous(this="read_parquet", expressions=[exp.Literal.string(str(path)),
                                                                 _option("file_row_number", exp.true())])
        return exp.select(exp.Star(), exp.alias_(col("file_row_number"), ROW, quoted=True)).from_(
            exp.Table(this=reader))
    opts = ingest.get("csv") or {}
    quote = opts.get("quote_char", '"')
    args = [exp.Literal.string(str(path)), _option("all_varchar", exp.true()),
            _option("header", lit(bool(opts.get("header", True)))),
            _option("delim", lit(opts.get("delimiter", ","))), _option("quote", lit(quote or "")),
            _option("escape", lit(quote or "")), _option("skip", lit(int(opts.get("skip_rows", 0)))),
            _option("encoding", lit(opts.get("encoding", "utf-8"))),
            # a quoted empty field is an empty string, as polars reads it, not a missing value
            _option("allow_quoted_nulls", exp.false())]
    if opts.get("comment_prefix"):
        args.append(_option("comment", lit(opts["comment_prefix"])))
    if not opts.get("header", True):
        args.append(_option("names", exp.Array(expressions=[lit(c["name"]) for c in ingest["schema"]])))
    position = exp.Sub(this=exp.Window(this=exp.RowNumber()), expression=exp.Literal.number(1))
    # DuckDB keeps the file's order (`preserve_insertion_order`), so OVER () numbers rows as in the file.
    return exp.select(exp.Star(), exp.alias_(position, ROW, quoted=True)).from_(
        exp.Table(this=exp.Anonymous(this="read_csv", expressions=args)))


def check_source(ingest: dict, prep: dict, rules: list[dict], settings: dict, root: Path, *,
                 now: datetime) -> tuple[list, int]:
    """Run the data check in DuckDB: (rule results, rows of the prepared table)."""
    import duckdb

    from compiler.execute.rules import results

    types = {c["name"]: c["type"] for c in prep["schema"]}
    plan = p.compile_rules(rules, types, now=now)
    declared = [c["name"] for c in ingest["schema"]]
    columns = needed_columns(plan, prep["steps"], declared)
    con = connect(settings, root)
    reading = ingest
    try:
        read = read_as(ingest, prep["steps"])
        typed_rel = _typed(con, read, root, columns)
        prepared, _, after = prepare(typed_rel, prep["steps"], columns, DIALECT, declared_types(read, columns))
        plan = p.compile_rules(rules, {**types, **after}, now=now)  # what the prepare steps made of the types
        compiler = Compiler(DIALECT, _regex_fallbacks(con, plan, prepared))
        keys = []
        for ref in plan.references:  # a foreign key's referenced file, read and typed as this one is
            reading = ref.ingest
            keys.append(_typed(con, ref.ingest, root, list(ref.columns)))
        reading = ingest
        compiler.use_references(plan, keys)
        # A rule comparing rows runs apart: in the one query, its window would hold every column
        # of the table (measured at 50M rows: 62 s in one query, 28 s with `unique` apart).
        apart = frozenset(i for i, r in plan.row_rules if p.windowed(r.failing))
        spilled = _spilled(con, plan, ingest, root, settings)
        cursor = con.execute(compiler.query(plan, prepared.subquery("prepared"), apart=apart | spilled)
                             .sql(DIALECT))
        values = cursor.fetchone()
        assert values is not None  # an aggregate query returns one row
        row = dict(zip([d[0] for d in cursor.description], values, strict=True))
        for i, rule in plan.row_rules:
            if i not in apart:
                continue
            narrow = con.execute(compiler.narrow(rule.failing, prepared.subquery("prepared")).sql(DIALECT))
            row[f"c{i}"], row[f"s{i}"] = narrow.fetchone() or (0, None)
        for i, table in plan.table_rules:
            if i in spilled:
                [row[f"t{i}"]] = con.execute(compiler.spilled(table.measure, prepared.subquery("prepared"))
                                             .sql(DIALECT)).fetchone() or [None]
    except duckdb.OutOfMemoryException:
        raise RunError(f"source `{ingest['source']}`: DuckDB ran out of memory within its limit and spill folder",
                       hint="raise `duckdb.memory_limit`, or free disk space for `duckdb.spill_folder`") from None
    except duckdb.Error as exc:
        raise DataError(f"source `{reading['source']}`: engine duckdb cannot read `{reading['path']}`: "
                        + shorten(str(exc).splitlines()[0], 200)) from None
    finally:
        con.close()
    counts = {i: (int(row[f"c{i}"]), sorted(row[f"s{i}"] or [])) for i, _ in plan.row_rules}
    stats = {i: row[f"t{i}"] for i, _ in plan.table_rules}
    return results(plan.rules, counts, stats, int(row["n"])), int(row["n"])


HOLISTIC_SHARE = 0.5  # of memory_limit that the values of one quantile or distinct count may take in one query


def _spilled(con, plan: p.Plan, ingest: dict, root: Path, settings: dict) -> frozenset[int]:
    """The `quantile_between` and `distinct_count` rules to run as queries that spill, when the table is large.

    In the one aggregate query their values must fit in memory: 200M doubles are 1.6 GB. The
    rows are Parquet's own count (its footer); a CSV file's, its size over 8 bytes (more than it has).
    """
    holistic = frozenset(i for i, t in plan.table_rules if t.measure.kind in ("quantile", "distinct"))
    if not holistic:
        return holistic
    path = source_path(ingest, root)
    if ingest["format"] == "parquet":
        count = exp.select(exp.Count(this=exp.Star())).from_(exp.Table(this=exp.Anonymous(
            this="read_parquet", expressions=[exp.Literal.string(str(path))])))
        rows = int((con.execute(count.sql(DIALECT)).fetchone() or [0])[0])
    else:
        rows = path.stat().st_size // 8
    limit = settings.get("memory_limit") or DEFAULTS["memory_limit"]
    assert isinstance(limit, int)  # bytes: the IR resolves sizes
    return holistic if rows * 8 > limit * HOLISTIC_SHARE else frozenset()


def _typed(con, ingest: dict, root: Path, columns: list[str]) -> exp.Select:
    """The file's `columns` cast to their declared types, with the row position; ingest's type checks run first."""
    path = source_path(ingest, root)
    bounded.check_size(ingest, path)
    if ingest["format"] not in ("csv", "parquet") or compression(path) is not None and ingest["format"] == "csv":
        raise DataError(f"source `{ingest['source']}`: engine duckdb reads uncompressed CSV and Parquet files",
                        hint="use `engine: polars` for this source")
    raw = scan(ingest, path)
    found = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {raw.sql(DIALECT)}").fetchall()}
    _missing(ingest, [c["name"] for c in ingest["schema"]], found)
    schema = {c["name"]: c for c in ingest["schema"]}
    checks = ingest_checks(ingest, [schema[c] for c in columns], found, raw)
    if checks is not None:
        _report(ingest, con.execute(checks.sql(DIALECT)).fetchone(), [schema[c] for c in columns], found)
    return exp.select(*[exp.alias_(typed(schema[c], found[c], ingest), c, quoted=True) for c in columns],
                      col(ROW)).from_(raw.subquery("raw"))


def _missing(ingest: dict, declared: list[str], found: dict) -> None:
    missing = [c for c in declared if c not in found]
    if missing:
        shown = ", ".join(f"`{shorten(c)}`" for c in list(found)[:8] if c != ROW)
        raise DataError(f"source `{ingest['source']}`: declared column(s) missing from the data: "
                        + ", ".join(f"`{m}`" for m in missing), column=missing[0],
                        hint=f"the file's columns are {shown}" if shown else None)


def _report(ingest: dict, row, columns: list[dict], found: dict) -> None:
    from compiler.execute.engines.sqltypes import problems

    assert row is not None
    bounded.check_rows(ingest, int(row[0]), exact=True)
    problems(ingest, row, columns, found)


def _regex_fallbacks(con, plan: p.Plan, prepared: exp.Select) -> dict[tuple[str, str], list[str]]:
    """Patterns RE2 cannot compile (look-around, back-references): Python's `re` over the distinct values."""
    import duckdb

    out: dict[tuple[str, str], list[str]] = {}
    for _, rule in plan.row_rules:
        node = rule.failing
        if not isinstance(node, p.RegexMismatch):
            continue
        probe = exp.select(exp.RegexpFullMatch(this=lit(""), expression=lit(node.pattern)))
        try:
            con.execute(probe.sql(DIALECT)).fetchone()
            continue
        except duckdb.Error:
            pass
        text = exp.cast(col(node.column), exp.DataType.Type.VARCHAR)
        distinct = exp.select(text).distinct().from_(prepared.subquery("prepared")).where(
            exp.Not(this=exp.Is(this=col(node.column), expression=exp.null())))
        compiled = re.compile(node.pattern)
        values = [v for (v,) in con.execute(distinct.sql(DIALECT)).fetchall()]
        out[(node.column, node.pattern)] = sorted(v for v in values if not compiled.fullmatch(v))
    return out

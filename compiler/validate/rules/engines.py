"""What a data engine cannot run (S235), a table source without row order (S236), DuckDB's spill folder (S225).

## What it does
For every DataSource whose `charter check-data` runs on `engine: duckdb`, `postgres` or `spark`
(its own `engine`, else `engine` in charter.yaml), checks that the engine can read the source
(DuckDB: a CSV or Parquet file; PostgreSQL: a `format: sql` source with a `connection`; Spark:
a Parquet file or a `format: spark` table), that the prepare steps of the suites checking it
are ones the engine runs as SQL (every step; a `standardize` mapping only from text onto text), that a
table on PostgreSQL or Spark has a row order (the query's top-level `ORDER BY`, or a table's
`primary_key`), that the engine can read the source a `foreign_key` rule looks its keys up in
(DuckDB: a file; PostgreSQL: a table or query of the same database; Spark: a Parquet file or a
table), and that its `duckdb.spill_folder` stays inside the repository.

## Why is this bad?
These engines run the check as SQL and never hold the table in Python: a `standardize` mapping
onto numbers or booleans would need polars' type promotion, DuckDB has no reader for a
JSON or database source, and Spark cannot tell where a row of a CSV file sits once it splits
the file. A table has no file order, so without one the sample rows of a failing rule would be
whichever rows the server's plan returns first. Without this check the data check would stop
at run time, after review and merge, instead of in the pull request.

## Example
```yaml
kind: DataSource
spec:
  format: sql
  table: events
  connection: {url_env: EVENTS_DB_URL}
  engine: postgres
```

## Use instead
```yaml
kind: DataSource
spec:
  format: sql
  table: events
  primary_key: [event_id]
  connection: {url_env: EVENTS_DB_URL}
  engine: postgres
```
or keep `engine: polars` (the default) for this source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.spec import Project
from compiler.validate.context import Context
from compiler.validate.rules.sources import unsafe_path

CODES = ("S235", "S236", "S225")
FORMATS = ("csv", "parquet")
STEPS = ("rename", "drop_columns", "drop_null", "deduplicate", "standardize", "fill_null", "clip")


def check(ctx: Context) -> Iterator[Diagnostic]:
    default = ctx.project.spec.engine if isinstance(ctx.project, Project) else None
    in_sql: dict[str, str] = {}  # source -> the SQL engine that runs its checks
    for spec in ctx.specset.of_kind("DataSource"):
        body = spec.model.spec
        folder = body.duckdb.spill_folder if body.duckdb is not None else None
        if folder is not None and (why := unsafe_path(folder)):
            yield make("S225", f"unsafe spill folder: {why}", ctx.span(spec, "/spec/duckdb/spill_folder"),
                       pointer="/spec/duckdb/spill_folder", help="give a folder inside the repository, such as "
                                                                 "`.charter/duckdb`")
        engine = body.engine or default
        if engine == "duckdb":
            in_sql[spec.name] = engine
            if body.format not in FORMATS:
                pointer = "/spec/format"
                yield make("S235", f"engine `duckdb` cannot read a `{body.format}` source", ctx.span(spec, pointer),
                           pointer=pointer, help="use `format: parquet` or `csv`, or `engine: polars` for this source")
        elif engine == "postgres":
            in_sql[spec.name] = engine
            yield from _postgres_source(ctx, spec, body)
        elif engine == "spark":
            in_sql[spec.name] = engine
            yield from _spark_source(ctx, spec, body)
    for spec in ctx.specset.of_kind("ValidationSuite"):
        engine = in_sql.get(spec.model.spec.source)
        if engine is None:
            continue
        yield from _references(ctx, spec, engine)
        checked = ctx.specset.get("DataSource", spec.model.spec.source)
        declared = {c.name: c.type for c in checked.model.spec.columns} if checked is not None else {}
        for i, step in enumerate(spec.model.spec.prepare):
            pointer = f"/spec/prepare/{i}/{step.op}"
            if step.op not in STEPS:
                yield make("S235", f"engine `{engine}` cannot run the prepare step `{step.op}`",
                           ctx.span(spec, pointer, key=True), pointer=pointer,
                           help=f"source `{spec.model.spec.source}` runs on {_NAMES[engine]}, which runs "
                                + ", ".join(f"`{s}`" for s in STEPS) + "; or use `engine: polars` for it")
            elif step.op == "standardize" and step.args.mapping is not None and (
                    any(not isinstance(v, str) for v in step.args.mapping.values())
                    or declared.get(step.args.column, "string") not in ("string", "category")):
                yield make("S235", f"engine `{engine}` maps spellings of text onto text only: `standardize` of "
                                   f"`{step.args.column}` needs a text column and text replacements",
                           ctx.span(spec, f"{pointer}/mapping"), pointer=f"{pointer}/mapping",
                           help="quote the replacements (`M: \"male\"`), use `true`/`false` for a boolean column, "
                                "or `engine: polars` for this source")


_NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}


def _references(ctx: Context, suite, engine: str) -> Iterator[Diagnostic]:
    """A foreign key's referenced source is read by the suite's engine: in its files, database or session."""
    checked = ctx.specset.get("DataSource", suite.model.spec.source)
    for i, rule in enumerate(suite.model.spec.rules):
        target = ctx.specset.get("DataSource", rule.references.source) if rule.rule == "foreign_key" else None
        if target is None or checked is None:
            continue  # not a foreign key, or reported by the references rule
        why = _unreadable(engine, checked.model.spec, target.model.spec)
        if why:
            pointer = f"/spec/rules/{i}/references/source"
            yield make("S235", f"engine `{engine}` cannot look the foreign key up in `{target.name}`: {why}",
                       ctx.span(suite, pointer), pointer=pointer,
                       help=f"{_NAMES[engine]} reads the referenced source itself; use `engine: polars` for "
                            f"`{checked.name}`, or a referenced source it can read")


def _unreadable(engine: str, checked, target) -> str | None:
    """Why `engine` cannot read `target` beside `checked` (the source it checks), or None."""
    if engine == "duckdb":
        return None if target.format in FORMATS else f"it is a `{target.format}` source, not a CSV or Parquet file"
    if engine == "postgres":
        if target.format != "sql" or target.connection is None:
            return "it is not a table or query of a database"
        if target.connection != checked.connection:
            return "it is in another database (its `connection` differs)"
        if target.table is not None and not target.primary_key:
            return f"table `{target.table}` declares no `primary_key` (its rows are numbered for type errors)"
        if target.query is not None and not top_level_order_by(target.query):
            return "its query has no top-level `ORDER BY` (its rows are numbered for type errors)"
        return None
    if target.format not in ("parquet", "spark"):
        return f"it is a `{target.format}` source, not a Parquet file or a table of the catalog"
    if target.format == "spark" and not target.primary_key:
        return f"table `{target.table}` declares no `primary_key` (its rows are numbered for type errors)"
    return None


def _spark_source(ctx: Context, spec, body) -> Iterator[Diagnostic]:
    pointer = "/spec/format"
    if body.format == "csv":
        yield make("S235", "engine `spark` cannot number the rows of a `csv` source: Spark gives a CSV file's rows "
                           "no position once it splits the file", ctx.span(spec, pointer), pointer=pointer,
                   help="convert the file to Parquet (Spark reads each row's index in it), or use `engine: duckdb` "
                        "or `polars` for this source")
    elif body.format not in ("parquet", "spark"):
        yield make("S235", f"engine `spark` cannot read a `{body.format}` source", ctx.span(spec, pointer),
                   pointer=pointer, help="use `format: parquet`, or `format: spark` with a `table` of the Spark "
                                         "catalog, or `engine: polars` for this source")
    elif body.format == "spark" and not body.primary_key:
        yield make("S236", f"engine `spark` needs the row order of table `{body.table}`, and it declares no "
                           "`primary_key`", ctx.span(spec, "/spec/table"), pointer="/spec/table",
                   help="declare the columns that identify a row, e.g. `primary_key: [id]`: rows are numbered, and "
                        "failing rows sampled, in that order")


def _postgres_source(ctx: Context, spec, body) -> Iterator[Diagnostic]:
    if body.format != "sql" or body.connection is None:
        pointer = "/spec/format" if body.format != "sql" else "/spec/path"
        what = f"a `{body.format}` source" if body.format != "sql" else "a SQLite file"
        yield make("S235", f"engine `postgres` cannot read {what}", ctx.span(spec, pointer), pointer=pointer,
                   help="use `format: sql` with `connection: {url_env: ...}` naming a PostgreSQL URL, or "
                        "`engine: polars` for this source")
    elif body.table is not None and not body.primary_key:
        yield make("S236", f"engine `postgres` needs the row order of table `{body.table}`, and it declares no "
                           "`primary_key`", ctx.span(spec, "/spec/table"), pointer="/spec/table",
                   help="declare the columns that identify a row, e.g. `primary_key: [id]`: rows are numbered, and "
                        "failing rows sampled, in that order")
    elif body.query is not None and not top_level_order_by(body.query):
        yield make("S236", "engine `postgres` needs the query's row order, and it has no top-level `ORDER BY`",
                   ctx.span(spec, "/spec/query"), pointer="/spec/query",
                   help="end the query with `ORDER BY` columns that identify a row: rows are numbered, and failing "
                        "rows sampled, in that order")


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def top_level_order_by(query: str) -> bool:  # noqa: C901 - one case per lexical element
    """Whether `query` has an `ORDER BY` outside every parenthesis, comment and quoted text.

    A light lexer of PostgreSQL's syntax (no SQL parser is installed with the core): an
    `ORDER BY` inside `OVER (...)`, a subquery or a CTE does not order the result.
    """
    depth, i, words = 0, 0, []
    while i < len(query):
        char = query[i]
        if query.startswith("--", i):
            end = query.find("\n", i)
            i = len(query) if end < 0 else end
        elif query.startswith("/*", i):  # block comments nest in PostgreSQL
            level, i = 1, i + 2
            while i < len(query) and level:
                level += 1 if query.startswith("/*", i) else -1 if query.startswith("*/", i) else 0
                i += 2 if query.startswith(("/*", "*/"), i) else 1
        elif char in "'\"":
            backslash = char == "'" and i > 0 and query[i - 1] in "eE" and not (i > 1 and query[i - 2].isalnum())
            i += 1
            while i < len(query):
                if backslash and query[i] == "\\":
                    i += 2
                elif query[i] == char:
                    if query.startswith(char * 2, i):
                        i += 2
                    else:
                        break
                else:
                    i += 1
            i += 1
        elif char == "$" and (tag := _DOLLAR.match(query, i)):
            end = query.find(tag.group(0), tag.end())
            i = len(query) if end < 0 else end + len(tag.group(0))
        elif char in "([":
            depth, i = depth + 1, i + 1
        elif char in ")]":
            depth, i = max(depth - 1, 0), i + 1
        elif (word := _WORD.match(query, i)) is not None:
            if depth == 0:
                words.append(word.group(0).upper())
            i = word.end()
        else:
            i += 1
    return any(a == "ORDER" and b == "BY" for a, b in zip(words, words[1:], strict=False))

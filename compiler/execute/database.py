"""Database sources: read a query through SQLAlchemy, and say in the user's terms what failed.

A failure is one of: the URL does not parse, names an unknown dialect, or needs a driver that
is not installed; the server cannot be reached; it refuses the credentials; the table or a
column does not exist. The first four are the environment's problems (`RunError`, exit 2),
a missing table or column is the spec not matching the data (`DataError`, exit 1). No message
shows the URL's user name or password: only its dialect, host, port and database, and the
driver's own text with every credential of the URL replaced by `***`.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.execute import bounded
from compiler.execute.errors import DataError
from compiler.execute.failure import RunError

if TYPE_CHECKING:  # polars is imported to read rows only: `charter status` reads a watermark without it
    import polars as pl

# PostgreSQL SQLSTATE classes (psycopg's `sqlstate`): 28xxx credentials, 3D000 no database,
# 42P01 no table, 42703 no column.
_AUTH_STATES = ("28000", "28P01")
_MISSING = {"42P01": "table", "42703": "column", "3D000": "database"}
# The same facts in the words of drivers without SQLSTATE (SQLite, MySQL's clients).
_MISSING_TEXT = re.compile(r"no such (table|column)|(?:table|relation|column) .{0,200}(?:does not exist|doesn't exist)"
                           r"|unknown column", re.IGNORECASE)
_AUTH_TEXT = re.compile(r"password authentication failed|authentication failed|access denied for user"
                        r"|no password supplied|password is required", re.IGNORECASE)


def read_query(params: dict, url: str, env: str, query: str) -> pl.DataFrame:
    """The rows of `query` at the database `url` (read from the environment variable `env`)."""
    with connect(params, url, env) as conn:
        return _read(params, query, conn)


@contextmanager
def connect(params: dict, url: str, env: str, *, backend: str | None = None) -> Iterator:
    """A SQLAlchemy connection to `url`; every failure inside the block is told in the user's terms.

    `backend` (`postgresql`) refuses a URL of another database before connecting.
    """
    try:
        import sqlalchemy
    except ImportError:
        raise RunError("reading a database URL needs SQLAlchemy", hint="pip install 'charter[postgres]'") from None
    source = params["source"]
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise RunError(f"source `{source}`: `{env}` does not hold a database URL (its value is not shown: it may "
                       "hold a password)", hint="use SQLAlchemy's form, `dialect+driver://user:password@host:port/"
                                                "database`, e.g. `postgresql+psycopg://...`") from None
    if backend is not None and parsed.get_backend_name() != backend:
        raise RunError(f"source `{source}`: `{env}` names a `{parsed.get_backend_name()}` database, and this engine "
                       f"runs in {backend}", hint="use `engine: polars` for this source, or a `postgresql+psycopg://` "
                                                  "URL")
    secrets = [s for s in (parsed.password, f'"{parsed.username}"', f"'{parsed.username}'") if s and len(s) > 2]
    where = _where(parsed)
    try:
        engine = sqlalchemy.create_engine(parsed)
    except sqlalchemy.exc.NoSuchModuleError:
        raise RunError(f"source `{source}`: `{env}` names an unknown database dialect `{parsed.drivername}`",
                       hint="use an SQLAlchemy dialect such as `postgresql+psycopg`, `mysql+pymysql` or "
                            "`sqlite`") from None
    except ImportError as exc:
        raise RunError(f"source `{source}`: the database driver `{exc.name or parsed.get_driver_name()}` for "
                       f"`{parsed.drivername}` URLs is not installed", hint=_driver_hint(parsed)) from None
    try:
        with engine.connect() as conn:
            yield conn
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _explain(source, exc, where, env, secrets) from None
    finally:
        engine.dispose()


def source_query(params: dict) -> str:
    """What a `format: sql` source reads: its `query`, or its whole `table`."""
    return params.get("query") or table_query(params["table"], params.get("primary_key") or [])


def table_query(table: str, key: list[str]) -> str:
    """The whole table, in the order of its primary key when it has one (`engine: postgres` numbers rows so).

    Names are validated column names (letters, digits, `_`): double quotes keep their case and let
    reserved words through.
    """
    order = " ORDER BY " + ", ".join(f'"{k}"' for k in key) if key else ""
    return f'SELECT * FROM "{table}"{order}'


def watermark(params: dict) -> str:
    """The row count and the largest `watermark` value of a database source, as one inert string.

    One aggregate inside the database (no row crosses the network): a run records it in its data
    fingerprint, and `charter status --data` compares. Rows added, or changed with their
    watermark column moved forward, change it; a change that moves neither is not seen.
    """
    import sqlalchemy

    url, env = url_from_env(params)
    column = params["watermark"]  # a validated column name, quoted as table_query quotes
    query = source_query(params).strip().rstrip(";")
    sql = f'SELECT COUNT(*), MAX("{column}") FROM ({query}) AS charter_watermark'
    with connect(params, url, env) as conn:
        rows, newest = conn.execute(sqlalchemy.text(sql)).one()
    return f"rows={rows} max={newest!r}"


def url_from_env(params: dict) -> tuple[str, str]:
    """(URL, variable name) of a source's `connection.url_env`; unset or empty is the spec's problem."""
    name = params["connection"]["url_env"]
    url = os.environ.get(name)
    if not url:
        raise DataError(f"source `{params['source']}`: environment variable `{name}` is not set",
                        hint="export it with the database URL (SQLAlchemy form) before running")
    return url, name


def read_sqlite(params: dict, path: Path, query: str) -> pl.DataFrame:
    """The rows of `query` in a SQLite file of the repository, opened read-only."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return _read(params, query, conn)
    except sqlite3.Error as exc:
        missing = _missing(exc, str(exc))
        if missing is not None:
            raise DataError(f"source `{params['source']}`: the query failed in `{params['path']}`: {missing}",
                            hint=_MISSING_HINT) from None
        raise  # read_source says the file is not a readable database


def _read(params: dict, query: str, conn) -> pl.DataFrame:
    """Read in batches, stopping one row past `max_rows`, so a huge table is never fetched whole."""
    import polars as pl

    cap = bounded.row_cap(params)
    if cap is None:
        return pl.read_database(query, connection=conn, infer_schema_length=None)
    batches, rows = [], 0
    for batch in pl.read_database(query, connection=conn, iter_batches=True, batch_size=min(cap, 50_000),
                                  infer_schema_length=None):
        batches.append(batch)
        rows += batch.height
        if rows >= cap:
            break
    bounded.check_rows(params, rows)
    return pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame()


_MISSING_HINT = "check `table` or `query` of the DataSource, and its `schema`, against the database"


def _where(parsed) -> str:
    """`database` on `host:port`; libpq's socket form (`?host=/run/sock&port=5432`) too."""
    host = parsed.host or _one(parsed.query.get("host")) or "localhost"
    port = parsed.port or _one(parsed.query.get("port"))
    shown = f"`{host}:{port}`" if port else f"`{host}`"
    return f"`{parsed.database}` on {shown}" if parsed.database else f"on {shown}"


def _one(value) -> str | None:
    return value[0] if isinstance(value, tuple) else value


def _driver_hint(parsed) -> str:
    if parsed.get_backend_name() == "postgresql":
        return "pip install 'charter[postgres]' (psycopg), and name it in the URL: `postgresql+psycopg://...`"
    return f"install the Python driver for `{parsed.drivername}`, or name an installed one in the URL"


def _explain(source: str, exc, where: str, env: str, secrets: list[str]) -> Exception:
    orig = getattr(exc, "orig", None)
    text = _scrub(str(orig if orig is not None else exc).split("\n(Background")[0], secrets)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    state = getattr(orig, "sqlstate", None)
    if state in _AUTH_STATES or _AUTH_TEXT.search(text):
        return RunError(f"source `{source}`: the database {where} refused the credentials in `{env}` "
                        "(authentication failed)", hint="check the user name and password of the URL (neither is "
                                                        "shown here)")
    missing = _missing(orig, text)
    if missing is not None:
        return DataError(f"source `{source}`: the query failed: {missing}", hint=_MISSING_HINT)
    import sqlalchemy

    if isinstance(exc, sqlalchemy.exc.OperationalError) or isinstance(exc, sqlalchemy.exc.InterfaceError):
        return RunError(f"source `{source}`: cannot connect to the database {where}: {_short(first)}",
                        hint=f"check that the server runs and that `{env}` names its host, port and database")
    return DataError(f"source `{source}`: the query failed: {_short(first)}", hint=_MISSING_HINT)


def _missing(orig, text: str) -> str | None:
    """`table `x` does not exist` and the like, or None when the error is about something else."""
    state = getattr(orig, "sqlstate", None)
    what = _MISSING.get(state or "")
    if what is None:
        match = _MISSING_TEXT.search(text)
        if match is None:
            return None
        what = "column" if "column" in match.group(0).lower() else "table"
    name = re.search(r'"([^"]+)"|: (\S+)\s*$|`([^`]+)`|\'([^\']+)\'', text.splitlines()[0])
    shown = next((g for g in name.groups() if g), None) if name else None
    return f"{what} `{shown}` does not exist" if shown else f"a {what} does not exist ({_short(text)})"


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"

"""Ingest: read a source into a polars DataFrame and enforce its declared column schema.

Files are read with every column as text, then each declared column is cast to its type
here, so that a bad value is reported with its column and rows instead of a reader's
exception. Boolean columns stay text until after the prepare steps (`standardize` maps `yes`,
`Y`, `1` onto true first); `finalize_types` in `prepare.py` casts them. Category columns are
kept as strings: the declared `values` are checked by rules, not by the reader. Columns the
schema does not declare are dropped.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from pathlib import Path

import polars as pl

from compiler.execute.errors import DataError, shorten

_TRUE = ("true", "1", "t")
_FALSE = ("false", "0", "f")


def _path(params: dict, root: Path) -> Path:
    path = (root / params["path"]).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"source `{params['source']}`: path `{params['path']}` leaves the repository")
    if not path.is_file():
        raise DataError(f"source `{params['source']}`: file `{params['path']}` not found",
                        hint="check `path`; it is relative to the repository root")
    return path


def fingerprint(params: dict, root: Path, cache: dict | None = None) -> str:
    """sha256 of the input bytes; for database queries, of the query.

    Data changes behind a query are not detected: `charter run --force` re-reads them.

    `cache` maps a path to (size, mtime_ns, inode, hash), so an unchanged file is not hashed
    again on every run (as DVC's state database does).
    """
    digest = hashlib.sha256()
    if params["format"] == "sql" and params.get("connection"):
        digest.update(f"{params['source']}\0{params.get('query') or params.get('table')}".encode())
        return digest.hexdigest()
    try:
        path = _path(params, root)
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = cache.get(str(path)) if cache is not None else None
        if known and known[:3] == stamp:
            file_hash = known[3]
        else:
            inner = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    inner.update(chunk)
            file_hash = inner.hexdigest()
            if cache is not None:
                cache[str(path)] = [*stamp, file_hash]
        digest.update(file_hash.encode())
    except DataError:
        digest.update(b"missing")  # reported when ingest runs
    if params["format"] == "sql":
        digest.update(f"\0{params.get('query') or params.get('table')}".encode())
    return digest.hexdigest()


def read_source(params: dict, root: Path, allow_missing: tuple[str, ...] | list[str] = ()) -> pl.DataFrame:
    fmt = params["format"]
    try:
        if fmt == "csv":
            df = _read_csv(params, root)
        elif fmt == "parquet":
            df = pl.read_parquet(_path(params, root))
        elif fmt == "jsonl":
            df = pl.read_ndjson(_path(params, root), infer_schema_length=None)
        else:
            df = _read_sql(params, root)
    except DataError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError, sqlite3.Error) as exc:
        raise DataError(f"source `{params['source']}`: cannot read {fmt}: {shorten(str(exc).splitlines()[0], 200)}") \
            from None
    return enforce_schema(df, params, allow_missing)


def _read_csv(params: dict, root: Path) -> pl.DataFrame:
    opts = params.get("csv") or {}
    path = _path(params, root)
    names = [c["name"] for c in params["schema"]]
    encoding = opts.get("encoding", "utf-8")
    source: Path | io.BytesIO = path
    if encoding != "utf-8":  # polars reads UTF-8 only: decode here, once
        source = io.BytesIO(path.read_bytes().decode(encoding).encode("utf-8"))
    header = opts.get("header", True)
    return pl.read_csv(source, separator=opts.get("delimiter", ","), has_header=header, infer_schema=False,
                       new_columns=None if header else names[: None], raise_if_empty=False)


def _read_sql(params: dict, root: Path) -> pl.DataFrame:
    query = params.get("query") or f'SELECT * FROM "{params["table"]}"'
    connection = params.get("connection")
    if connection:
        name = connection["url_env"]
        url = os.environ.get(name)
        if not url:
            raise DataError(f"source `{params['source']}`: environment variable `{name}` is not set",
                            hint="export it with the database URL (SQLAlchemy form) before running")
        try:
            import sqlalchemy
        except ImportError:
            raise DataError("reading a database URL needs SQLAlchemy", hint="pip install 'charter[postgres]'") from None
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as conn:
                return pl.read_database(query, connection=conn, infer_schema_length=None)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # The URL may hold a password: report the driver's complaint, never the URL.
            raise DataError(f"source `{params['source']}`: query failed: {type(exc).__name__}") from None
        finally:
            engine.dispose()
    with sqlite3.connect(f"file:{_path(params, root)}?mode=ro", uri=True) as conn:
        return pl.read_database(query, connection=conn, infer_schema_length=None)


def enforce_schema(df: pl.DataFrame, params: dict, allow_missing=()) -> pl.DataFrame:
    """Select the declared columns in schema order and cast all but booleans."""
    schema = params["schema"]
    missing = [c["name"] for c in schema if c["name"] not in df.columns and c["name"] not in allow_missing]
    if missing:
        raise DataError(f"source `{params['source']}`: declared column(s) missing from the data: "
                        + ", ".join(f"`{m}`" for m in missing), column=missing[0])
    exprs = []
    for col in schema:
        name = col["name"]
        if name not in df.columns:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            exprs.append(pl.col(name))
    df = df.select(exprs)
    casts = {c["name"]: c["type"] for c in schema if c["type"] != "boolean"}
    return cast_columns(df, casts, params["source"])


def _target(kind: str, column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars()
    if kind == "integer":
        if dtype.is_integer():
            return column.cast(pl.Int64)
        return text.cast(pl.Float64, strict=False).pipe(
            lambda f: pl.when(f == f.round(0)).then(f.cast(pl.Int64, strict=False)).otherwise(None))
    if kind == "float":
        return column.cast(pl.Float64) if dtype.is_numeric() else text.cast(pl.Float64, strict=False)
    if kind == "date":
        if dtype == pl.Date:
            return column
        if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            return column.dt.date()
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "datetime":
        if isinstance(dtype, pl.Datetime):
            return column.dt.replace_time_zone(None) if getattr(dtype, "time_zone", None) else column
        if dtype == pl.Date:
            return column.cast(pl.Datetime("us"))
        return pl.coalesce(text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"),
                           text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"),
                           text.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us"),
                           text.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us"),
                           text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")))
    if kind == "boolean":
        lower = text.str.to_lowercase()
        return pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False).otherwise(None)
    return column.cast(pl.String)  # string, category


_WORDS = {"integer": "integers", "float": "numbers", "date": "dates (YYYY-MM-DD)",
          "datetime": "timestamps (ISO 8601)", "boolean": "booleans (true/false/1/0)"}  # fmt: skip


def cast_columns(df: pl.DataFrame, types: dict[str, str], source: str) -> pl.DataFrame:
    """Cast columns to their declared types; any value that does not convert is a DataError."""
    if not types:
        return df
    # Columns already of the target type need no cast and cannot fail one.
    _same = {"integer": (pl.Int64,), "float": (pl.Float64,), "string": (pl.String,), "category": (pl.String,),
             "date": (pl.Date,), "datetime": (pl.Datetime("us"),), "boolean": (pl.Boolean,)}  # fmt: skip
    types = {n: k for n, k in types.items() if df.schema[n] not in _same[k]}
    if not types:
        return df
    exprs = [_target(kind, pl.col(name), df.schema[name]).alias(name) for name, kind in types.items()]
    cast = df.with_columns(exprs)

    def failed(name: str) -> pl.Expr:
        # A value failed when it was present before and is null after; blank text counts as missing.
        before = pl.col(f"__before_{name}")
        present = before.is_not_null()
        if df.schema[name] == pl.String:
            present = present & (before.str.strip_chars() != "")
        return pl.col(name).is_null() & present

    both = cast.with_columns([df.get_column(n).alias(f"__before_{n}") for n in types])
    bad = both.select([failed(n).sum().alias(n) for n in types]).row(0, named=True)
    for name, count in bad.items():
        if count:
            mask = both.select(failed(name).alias("m")).get_column("m")
            rows = mask.arg_true().head(5).to_list()
            values = ", ".join(f"`{shorten(df.get_column(name)[r])}`" for r in rows[:3])
            raise DataError(f"source `{source}`: column `{name}` ({types[name]}): {count} value(s) are not "
                            f"{_WORDS.get(types[name], types[name])}, e.g. {values}", column=name, rows=rows)
    return cast

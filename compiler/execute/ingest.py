"""Ingest: read a source into a polars DataFrame and enforce its declared column schema.

Files are read with every column as text, then each declared column is cast to its type
here, so that a bad value is reported with its column and rows instead of a reader's
exception, and every failing column in one error. Null markers (`null_values`) become missing
before any cast. Boolean columns stay text until after the prepare steps (`standardize` maps
`yes`, `Y`, `1` onto true first); `finalize_types` in `prepare.py` casts them. Category columns
are kept as strings, and their declared `values` are enforced here. Columns the schema does
not declare are dropped. No message repeats the reader library's text.
"""

from __future__ import annotations

import csv
import io
import itertools
import sqlite3
from pathlib import Path

import polars as pl

from compiler.execute import bounded
from compiler.execute.errors import DataError, shorten
from compiler.execute.fingerprint import source_path

_TRUE = ("true", "1", "t")
_FALSE = ("false", "0", "f")


_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
          (b"PK\x03\x04", "zip"))  # fmt: skip
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def compression(path: Path) -> str | None:
    """`gzip`, `zip`, ... when the file's first bytes say it is compressed."""
    with path.open("rb") as f:
        head = f.read(8)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def read_source(params: dict, root: Path, allow_missing: tuple[str, ...] | list[str] = ()) -> pl.DataFrame:
    """The source as a typed table, read within its `limits` (`compiler.execute.bounded`)."""
    return _read(params, root, allow_missing)[0]


def read_training(params: dict, root: Path, fingerprint: str) -> tuple[pl.DataFrame, dict | None]:
    """A model's training source, and what the run records of its sample (None when read whole).

    The sample is drawn when the model declares one and the source is larger than its budget
    (`compiler.execute.sample`).
    """
    return _read(params, root, (), fingerprint)


def _read(params: dict, root: Path, allow_missing, fingerprint: str | None = None) -> tuple[pl.DataFrame, dict | None]:
    fmt = params["format"]
    sampled = None
    if fmt == "feast":  # the entity rows are read by this function too, with their own source's params
        from compiler.execute.feast import read_feast

        df = read_feast(params, root)
        if fingerprint is not None and params.get("sample"):
            from compiler.execute.sample import read_sample

            df, sampled = read_sample(params, None, lambda: df, fingerprint)
        return enforce_schema(df, params, allow_missing), sampled
    try:
        whole = ((lambda: _read_sql(params, root)) if fmt == "sql" else (lambda: _read_spark(params, root))
                 if fmt == "spark" else (lambda: _read_file(params, root)))
        if fingerprint is not None and params.get("sample"):
            from compiler.execute.sample import read_sample

            path = None if fmt in ("sql", "spark") else source_path(params, root)
            df, sampled = read_sample(params, path, whole, fingerprint)
        else:
            df = whole()
        df = enforce_schema(df, params, allow_missing)
    except DataError as exc:
        packed = _packed(params, root)
        if packed is None:
            raise
        raise DataError(f"{exc.message} (the file is {packed}-compressed)", column=exc.column, rows=exc.rows,
                        hint=exc.hint) from None
    except (pl.exceptions.PolarsError, OSError, ValueError, sqlite3.Error) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is not None:
            raise  # the machine's problem (permission, disk), not the file's content
        # The reader's own words name its API, not the file: say what the file looks like instead.
        raise DataError(f"source `{params['source']}`: cannot read the file as {_FORMATS.get(fmt, fmt)}"
                        + _what_it_is(params, root), hint=_hint(exc, params)) from None
    return df, sampled


def _read_file(params: dict, root: Path) -> pl.DataFrame:
    path = source_path(params, root)
    bounded.check_size(params, path)  # before anything reads it
    fmt = params["format"]
    packed = compression(path) if fmt != "parquet" else None
    if packed is not None:
        with bounded.inflated(params, path, packed) as plain:
            return _read_plain(params, plain)
    return _read_plain(params, path)


def _read_plain(params: dict, path: Path) -> pl.DataFrame:
    fmt, cap = params["format"], bounded.row_cap(params)
    if fmt == "csv":
        df = _read_csv(params, path)
    elif fmt == "parquet":
        bounded.check_parquet(params, path)
        df = pl.read_parquet(path)
    elif fmt == "json":  # one array: read whole (`max_file_size` bounds it before), rows checked after
        df = _nulls(_json_array(path, params["path"]), (params.get("jsonl") or {}).get("null_values") or [])
    else:
        df = _nulls(pl.read_ndjson(path, infer_schema_length=None, n_rows=cap),
                    (params.get("jsonl") or {}).get("null_values") or [])
    bounded.check_rows(params, df.height)
    return df


def _packed(params: dict, root: Path) -> str | None:
    if params["format"] in ("sql", "spark"):
        return None
    try:
        return compression(source_path(params, root))
    except (DataError, OSError):
        return None


_FORMATS = {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines", "json": "a JSON array of objects",
            "sql": "a database table", "spark": "a Spark table"}


def _json_array(path: Path, shown: str) -> pl.DataFrame:
    with path.open("rb") as f:
        first = f.read(4096).lstrip()[:1]
    if first != b"[":  # JSON Lines, or one object: say so rather than let the reader guess
        raise DataError(f"source file `{shown}` is not a JSON array of objects"
                        + (" (it starts with an object: JSON Lines?)" if first == b"{" else ""),
                        hint="one object per line is `format: jsonl`")
    return pl.read_json(path, infer_schema_length=None)


def _what_it_is(params: dict, root: Path) -> str:
    try:
        path = source_path(params, root)
        if path.stat().st_size == 0:
            return ": the file is empty"
        packed = compression(path)
        if packed:
            return f": the file is {packed}-compressed"
        if params["format"] == "csv":
            return _ragged(path, params.get("csv") or {})
    except (DataError, OSError, UnicodeDecodeError, csv.Error):
        pass
    return ""


def _ragged(path: Path, opts: dict) -> str:
    """Where the rows stop having the same number of fields, as a person counts lines."""
    with path.open(encoding=opts.get("encoding", "utf-8"), newline="") as f:
        lines = itertools.islice(f, opts.get("skip_rows", 0), opts.get("skip_rows", 0) + 10000)
        prefix = opts.get("comment_prefix")
        quote = opts.get("quote_char", '"')
        reader = csv.reader((ln for ln in lines if not (prefix and ln.startswith(prefix))),
                            delimiter=opts.get("delimiter", ","), quotechar=quote or '"',
                            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        first = None
        for number, row in enumerate(reader, 1 + opts.get("skip_rows", 0)):
            if first is None:
                first = (number, len(row))
            elif row and len(row) != first[1]:
                return (f": line {number} has {len(row)} field(s), line {first[0]} has {first[1]}")
    return ""


def _hint(exc: Exception, params: dict) -> str | None:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not in the declared `csv.encoding`"
    if params["format"] == "csv":
        return "skip leading metadata lines with `csv.skip_rows`, or set `csv.delimiter` and `csv.quote_char`"
    return None


def null_markers(params: dict) -> list[str]:
    """The values a source's text columns read as missing."""
    key = {"csv": "csv", "json": "jsonl", "jsonl": "jsonl"}.get(params["format"])
    return ((params.get(key) or {}).get("null_values") or []) if key else []


def _nulls(df: pl.DataFrame, markers: list[str]) -> pl.DataFrame:
    """Text columns: the declared null markers (`NA`, `-`) become missing values."""
    if not markers:
        return df
    text = [n for n, t in df.schema.items() if t == pl.String]
    return df.with_columns([pl.when(pl.col(n).str.strip_chars().is_in(markers)).then(None).otherwise(pl.col(n))
                            .alias(n) for n in text])


def _read_csv(params: dict, path: Path) -> pl.DataFrame:
    opts = params.get("csv") or {}
    names = [c["name"] for c in params["schema"]]
    source_name = params["source"]
    if path.stat().st_size == 0:
        raise DataError(f"source `{source_name}`: the file `{params['path']}` is empty",
                        hint="it has no header and no rows")
    encoding = opts.get("encoding", "utf-8")
    source: Path | io.BytesIO = path
    if encoding != "utf-8":  # polars reads UTF-8 only: decode here, once
        source = io.BytesIO(path.read_bytes().decode(encoding).encode("utf-8"))
    header = opts.get("header", True)
    df = pl.read_csv(source, separator=opts.get("delimiter", ","), has_header=header, infer_schema=False,
                     skip_rows=opts.get("skip_rows", 0), comment_prefix=opts.get("comment_prefix"),
                     quote_char=opts.get("quote_char", '"'), raise_if_empty=False, n_rows=bounded.row_cap(params))
    if not header:
        if df.width != len(names):
            raise DataError(f"source `{source_name}`: the file has {df.width} column(s) and the schema declares "
                            f"{len(names)}", hint="with `header: false`, declare every column of the file in order"
                            + (", or skip leading lines with `csv.skip_rows`" if not opts.get("skip_rows") else ""))
        df = df.rename(dict(zip(df.columns, names, strict=True)))
    return _nulls(df, opts.get("null_values") or [])


def _read_spark(params: dict, root: Path) -> pl.DataFrame:
    from compiler.execute.engines.spark import read_table

    return read_table(params, root)


def _read_sql(params: dict, root: Path) -> pl.DataFrame:
    from compiler.execute import database

    query = database.source_query(params)
    if params.get("connection"):
        url, name = database.url_from_env(params)
        return database.read_query(params, url, name, query)
    path = source_path(params, root)
    bounded.check_size(params, path)
    return database.read_sqlite(params, path, query)


def enforce_schema(df: pl.DataFrame, params: dict, allow_missing=()) -> pl.DataFrame:
    """Select the declared columns in schema order, cast all but booleans, check category values."""
    schema = params["schema"]
    missing = [c["name"] for c in schema if c["name"] not in df.columns and c["name"] not in allow_missing]
    if missing:
        raise DataError(f"source `{params['source']}`: declared column(s) missing from the data: "
                        + ", ".join(f"`{m}`" for m in missing), column=missing[0],
                        hint=_missing_hint(df, params))
    exprs = []
    for col in schema:
        name = col["name"]
        if name not in df.columns:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            exprs.append(pl.col(name))
    df = df.select(exprs)
    casts = {c["name"]: c["type"] for c in schema if c["type"] != "boolean"}
    df = cast_columns(df, casts, params["source"], (params.get("csv") or {}).get("decimal", "."))
    check_values(df, schema, params["source"])
    return df


def _missing_hint(df: pl.DataFrame, params: dict) -> str | None:
    if params["format"] == "csv" and df.width == 1:
        header = df.columns[0]
        delimiter = (params.get("csv") or {}).get("delimiter", ",")
        for other in _OTHER_DELIMITERS:
            if other != delimiter and other in header:
                shown = "\\t" if other == "\t" else other
                return (f"the header looks separated by `{shown}`, not `{delimiter}`: "
                        f"set `csv: {{delimiter: \"{shown}\"}}`")
    if df.height == 0 and df.width == 0:
        return "the file has no header and no rows"
    found = ", ".join(f"`{shorten(c)}`" for c in df.columns[:8])
    return f"the file's columns are {found}" + (" ..." if df.width > 8 else "") if found else None


_MARKERS = ("NA", "N/A", "NaN", "null", "NULL", "None", "-", "?", ".")


def _null_hint(problems: list[str]) -> str | None:
    if any(f"`{m}`" in p for p in problems for m in _MARKERS):
        return "if that marks a missing value, declare it in `null_values` of the reader options (`csv` or `jsonl`)"
    return None


def _at(rows: list[int]) -> str:
    return ", first at row" + ("s " if len(rows) > 1 else " ") + ", ".join(str(r + 1) for r in rows)


def check_values(df: pl.DataFrame, schema: list[dict], source: str) -> None:
    """Declared `values` of category columns hold at ingest: counts and sample rows of the others."""
    problems, first = [], None
    for col in schema:
        if col["type"] != "category" or not col.get("values") or col["name"] not in df.columns:
            continue
        allowed = [str(v) for v in col["values"]]
        column = df.get_column(col["name"])
        bad = column.is_not_null() & ~column.is_in(allowed)
        count = int(bad.sum())
        if count:
            rows = bad.arg_true().head(5).to_list()
            shown = ", ".join(f"`{shorten(v)}`" for v in column.filter(bad).unique(maintain_order=True).head(3))
            problems.append(f"column `{col['name']}` (category): {count} value(s) not among the declared `values`, "
                            f"e.g. {shown}{_at(rows)}")
            first = first or (col["name"], rows)
    if problems:
        raise DataError(f"source `{source}`: " + "; ".join(problems), column=first[0] if first else None,
                        hint=_null_hint(problems) or "add the value to the column's `values`, or map it with a "
                        "`standardize` step")


def _target(kind: str, column: pl.Expr, dtype: pl.DataType, decimal: str = ".") -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars()
    if decimal == "," and kind in ("integer", "float") and dtype == pl.String:
        text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)  # 1.234,5
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


def cast_columns(df: pl.DataFrame, types: dict[str, str], source: str, decimal: str = ".") -> pl.DataFrame:
    """Cast columns to their declared types; any value that does not convert is a DataError."""
    if not types:
        return df
    # Columns already of the target type need no cast and cannot fail one.
    _same = {"integer": (pl.Int64,), "float": (pl.Float64,), "string": (pl.String,), "category": (pl.String,),
             "date": (pl.Date,), "datetime": (pl.Datetime("us"),), "boolean": (pl.Boolean,)}  # fmt: skip
    types = {n: k for n, k in types.items() if df.schema[n] not in _same[k]}
    if not types:
        return df
    exprs = [_target(kind, pl.col(name), df.schema[name], decimal).alias(name) for name, kind in types.items()]
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
    problems, first = [], None
    for name, count in bad.items():  # every failing column, not only the first
        if count:
            mask = both.select(failed(name).alias("m")).get_column("m")
            rows = mask.arg_true().head(5).to_list()
            values = ", ".join(f"`{shorten(df.get_column(name)[r])}`" for r in rows[:3])
            problems.append(f"column `{name}` ({types[name]}): {count} value(s) are not "
                            f"{_WORDS.get(types[name], types[name])}, e.g. {values}{_at(rows)}")
            first = first or (name, rows)
    if problems:
        raise DataError(f"source `{source}`: " + "; ".join(problems), column=first[0] if first else None,
                        hint=_null_hint(problems))
    return cast

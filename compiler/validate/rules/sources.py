"""Data source paths and columns (S225, X304, S226).

## What it does
Checks that a DataSource's `path` is relative and stays inside the repository, that its
column names are unique, and that `primary_key` and `freshness.column` name declared columns.

## Why is this bad?
A path outside the repository makes a pipeline depend on one machine's files, or read files
it should never see (`../../etc/passwd`). A key or freshness column missing from the schema
fails only when the pipeline runs, long after the pull request merged.

## Example
```yaml
kind: DataSource
spec:
  format: csv
  path: ../shared/customers.csv
  primary_key: [customer]
  schema:
    - {name: customer_id, type: string}
```

## Use instead
```yaml
kind: DataSource
spec:
  format: csv
  path: data/customers.csv
  primary_key: [customer_id]
  schema:
    - {name: customer_id, type: string}
```
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, Label, make
from compiler.validate.context import Context
from compiler.validate.frames import TEMPORAL, source_frame, unknown_column

CODES = ("S225", "X304", "S226", "X308")


def unsafe_path(path: str) -> str | None:
    """Why `path` may not be used, or None when it is a safe repository-relative path."""
    if "\\" in path:
        return "use `/` as the separator"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "the path is absolute"
    if "://" in path:
        return "the path is a URL; data sources read files of the repository"
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return "the path leaves the repository"
    return None


def check(ctx: Context) -> Iterator[Diagnostic]:
    for spec in ctx.specset.of_kind("DataSource"):
        body = spec.model.spec
        if body.path is not None and (why := unsafe_path(body.path)):
            yield make("S225", f"unsafe data path: {why}", ctx.span(spec, "/spec/path"), pointer="/spec/path",
                       help="give a path relative to the repository root, such as `data/customers.csv`")
        seen: dict[str, int] = {}
        for i, column in enumerate(body.columns):
            if column.name in seen:
                first = ctx.span(spec, f"/spec/schema/{seen[column.name]}/name")
                yield make("S226", f"column `{column.name}` is declared twice",
                           ctx.span(spec, f"/spec/schema/{i}/name"), pointer=f"/spec/schema/{i}/name",
                           labels=(Label(first, "first declared here"),))
            seen.setdefault(column.name, i)
            if column.values is not None and column.type != "category":
                yield make("S226", "`values` applies only to `type: category`",
                           ctx.span(spec, f"/spec/schema/{i}/values"), pointer=f"/spec/schema/{i}/values")
        cols = source_frame(spec).columns
        for i, key in enumerate(body.primary_key):
            if key not in cols:
                yield unknown_column(ctx, spec, f"/spec/primary_key/{i}", key, cols)
        if body.watermark is not None and body.watermark not in cols:
            yield unknown_column(ctx, spec, "/spec/watermark", body.watermark, cols)
        if body.freshness is not None:
            name = body.freshness.column
            if name not in cols:
                yield unknown_column(ctx, spec, "/spec/freshness/column", name, cols)
            elif cols[name] not in TEMPORAL:
                yield make("X308", f"freshness needs a date or datetime column, `{name}` is {cols[name]}",
                           ctx.span(spec, "/spec/freshness/column"), pointer="/spec/freshness/column")

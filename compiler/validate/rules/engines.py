"""What a data engine cannot run (S235), and where DuckDB may spill (S225).

## What it does
For every DataSource whose `charter check-data` runs on `engine: duckdb` (its own `engine`,
else `engine` in charter.yaml), checks that the source is a CSV or Parquet file, that the
prepare steps of the suites checking it are ones DuckDB runs as SQL (`rename`,
`drop_columns`, `drop_null`, `deduplicate`), and that its `duckdb.spill_folder` stays inside
the repository.

## Why is this bad?
DuckDB reads the file itself and never holds the table in Python: a step such as
`standardize` or `clip` with quantiles has no SQL translation yet, and a JSON or database
source has no reader here. Without this check the data check would stop at run time, after
review and merge, instead of in the pull request.

## Example
```yaml
kind: DataSource
spec:
  format: jsonl
  path: data/events.jsonl
  engine: duckdb
```

## Use instead
```yaml
kind: DataSource
spec:
  format: parquet
  path: data/events.parquet
  engine: duckdb
```
or keep `engine: polars` (the default) for this source.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.spec import Project
from compiler.validate.context import Context
from compiler.validate.rules.sources import unsafe_path

CODES = ("S235", "S225")
FORMATS = ("csv", "parquet")
STEPS = ("rename", "drop_columns", "drop_null", "deduplicate")


def check(ctx: Context) -> Iterator[Diagnostic]:
    default = ctx.project.spec.engine if isinstance(ctx.project, Project) else None
    on_duckdb = set()
    for spec in ctx.specset.of_kind("DataSource"):
        body = spec.model.spec
        folder = body.duckdb.spill_folder if body.duckdb is not None else None
        if folder is not None and (why := unsafe_path(folder)):
            yield make("S225", f"unsafe spill folder: {why}", ctx.span(spec, "/spec/duckdb/spill_folder"),
                       pointer="/spec/duckdb/spill_folder", help="give a folder inside the repository, such as "
                                                                 "`.charter/duckdb`")
        if (body.engine or default) != "duckdb":
            continue
        on_duckdb.add(spec.name)
        if body.format not in FORMATS:
            pointer = "/spec/format"
            yield make("S235", f"engine `duckdb` cannot read a `{body.format}` source", ctx.span(spec, pointer),
                       pointer=pointer, help="use `format: parquet` or `csv`, or `engine: polars` for this source")
    for spec in ctx.specset.of_kind("ValidationSuite"):
        if spec.model.spec.source not in on_duckdb:
            continue
        for i, step in enumerate(spec.model.spec.prepare):
            if step.op not in STEPS:
                pointer = f"/spec/prepare/{i}/{step.op}"
                yield make("S235", f"engine `duckdb` cannot run the prepare step `{step.op}`",
                           ctx.span(spec, pointer, key=True), pointer=pointer,
                           help=f"source `{spec.model.spec.source}` runs on DuckDB, which runs "
                                + ", ".join(f"`{s}`" for s in STEPS) + "; or use `engine: polars` for it")

"""The columns a spec can see: a DataSource's schema reshaped by a suite's prepare steps.

Pure functions over the models, shared by validation (which reports unknown columns) and the
IR builder (which resolves feature lists), so both agree on what `rename`, `drop_columns`
and `standardize` do to the table.
"""

from __future__ import annotations

from collections.abc import Iterator

# Column type -> expression type.
EXPR_TYPE = {"integer": "number", "float": "number", "string": "string", "category": "string",
             "boolean": "boolean", "datetime": "datetime", "date": "datetime"}  # fmt: skip
NUMERIC = frozenset({"integer", "float"})
TEXT = frozenset({"string", "category"})
TEMPORAL = frozenset({"datetime", "date"})


def source_columns(source) -> dict[str, str]:
    """Column name -> type, in schema order, of a DataSource model."""
    return {c.name: c.type for c in source.spec.columns}


def prepare_steps(suite, columns: dict[str, str],
                  mistyped: list[tuple[str, str, str, str]] | None = None) -> Iterator[tuple[str, str]]:
    """Apply a ValidationSuite's prepare steps to `columns` in place.

    Yields (pointer, column) for every column a step names that does not exist at that point;
    pointers are relative to the document (`/spec/prepare/2/rename/mapping/old`). With
    `mistyped`, appends (pointer, column, its type, what the step does) for a step that computes
    on a column that is not a number at that point (the mean or median of `fill_null`, `clip`),
    which every engine refuses when it runs.
    """
    for i, step in enumerate(suite.spec.prepare):
        op, args = step.op, step.args
        ptr = f"/spec/prepare/{i}/{op}"
        if mistyped is not None:
            numeric = [(f, c) for f, c in _named(args) if f.startswith("columns/")] \
                if op == "fill_null" and args.strategy in ("mean", "median") else \
                [("column", args.column)] if op == "clip" else []
            what = f"`fill_null` with `{args.strategy}`" if op == "fill_null" else "`clip`"
            mistyped.extend((f"{ptr}/{f}", c, columns[c], what) for f, c in numeric
                            if c in columns and columns[c] not in NUMERIC)
        if op == "rename":
            renamed = {}
            for old, new in args.mapping.items():
                if old not in columns:
                    yield f"{ptr}/mapping/{_escape(old)}", old
                else:
                    renamed[old] = new
            # Renames apply together and keep column order.
            items = [(renamed.get(k, k), v) for k, v in columns.items()]
            columns.clear()
            columns.update(items)
            continue
        for field, col in _named(args):
            if col not in columns:
                yield f"{ptr}/{field}", col
        if op == "drop_columns":
            for col in args.columns:
                columns.pop(col, None)
        elif op == "standardize" and args.mapping is None and args.column in columns:
            columns[args.column] = "boolean"


def prepared_columns(source, suite) -> dict[str, str]:
    """The columns after the suite's prepare steps (the suite may be None)."""
    columns = source_columns(source)
    if suite is not None:
        for _ in prepare_steps(suite, columns):
            pass
    return columns


def features(model, columns: dict[str, str]) -> list[str]:
    """The model's feature columns, in table order: `features`, else all but target and `exclude`."""
    data = model.spec.data
    if data.features is not None:
        return [c for c in data.features if c in columns]
    skip = {data.target, *data.exclude}
    return [c for c in columns if c not in skip]


def _named(args) -> Iterator[tuple[str, str]]:
    if hasattr(args, "column"):
        yield "column", args.column
    for field in ("columns", "keys"):
        for k, col in enumerate(getattr(args, field, None) or ()):
            yield f"{field}/{k}", col


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")

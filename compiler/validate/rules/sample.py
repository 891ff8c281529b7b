"""A model trained on a sample whose data rules are judged on that sample only (X322)."""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context

CODES = ("X322",)


def check(ctx: Context) -> Iterator[Diagnostic]:
    project = getattr(ctx.project, "spec", None)
    for model in ctx.specset.of_kind("Model"):
        body = model.model.spec
        if body.sample is None or body.data.validation is None:
            continue
        source = ctx.specset.get("DataSource", body.data.source)
        suite = ctx.specset.get("ValidationSuite", body.data.validation)
        if source is None or suite is None or not suite.model.spec.rules:
            continue
        engine = source.model.spec.engine or getattr(project, "engine", None) or "polars"
        if engine == "polars":
            yield make("X322", f"Model `{model.name}` trains on a sample of `{source.name}`, whose data check runs "
                               f"on polars: the rules of `{suite.name}` would be judged on the sample, not the table",
                       ctx.span(model, "/spec/sample"), pointer="/spec/sample",
                       help=f"set `engine: duckdb` on DataSource `{source.name}` (or `engine: postgres` for a "
                            "database), so the rules read every row out of core while training reads the sample")

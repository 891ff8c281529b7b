"""Validate stage: `Document`s -> `SpecSet` + diagnostics.

Input: the documents of one tree (and the project settings). Output: a `SpecSet` of the
documents that passed the model pass, plus diagnostics from the model pass (`S2xx`) and from
the semantic rules in `compiler.validate.rules` (`S2xx`, `X3xx`). Never raises for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from compiler.diagnostics import Diagnostic
from compiler.load.document import Document
from compiler.spec import Project, Spec, SpecSet
from compiler.validate.context import Context
from compiler.validate.memo import RuleMemo
from compiler.validate.rules import load_rules
from compiler.validate.schema import check_document

__all__ = ["validate_documents"]


def validate_documents(
    documents: Sequence[Document], project: Project | None = None, project_doc: Document | None = None,
    root: Path | None = None, memo: RuleMemo | None = None,
) -> tuple[SpecSet, list[Diagnostic]]:
    """Run the model pass over every document, then every semantic rule over the result.

    With `root`, the rules that read files beside the specs (a Feast registry) read them there.
    With `memo`, a rule that checks one spec at a time reuses its findings for a spec whose
    content, and whose lookups' content, are unchanged (`compiler/validate/memo.py`).
    """
    diags: list[Diagnostic] = []
    specs: list[Spec] = []
    broken: set[tuple[str, str]] = set()
    for doc in documents:
        model, problems = check_document(doc)
        diags.extend(problems)
        if model is not None:
            specs.append(Spec(model, doc.file, doc.index, doc.span("")))
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("metadata"), dict):
            # Already reported; references to it must not be reported again as unknown.
            broken.add((str(doc.data.get("kind")), str(doc.data["metadata"].get("name"))))
    specset = SpecSet(tuple(specs), project)
    ctx = Context(specset, tuple(documents), project, project_doc, frozenset(broken), root)
    for rule in load_rules():
        if memo is not None and hasattr(rule, "check_document"):
            diags.extend(memo.run_documents(rule.__name__, ctx.documents, rule.check_document))
        elif memo is not None and hasattr(rule, "check_one"):
            diags.extend(memo.run(rule.__name__, ctx, ctx.specset.of_kind(rule.SUBJECT), rule.check_one))
        else:
            diags.extend(rule.check(ctx))
    return specset, _drop_secret_echoes(diags)


def _drop_secret_echoes(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A literal secret is one cause: keep its S223 and drop the other diagnostics on the same value.

    Their messages might repeat it (`... is not an environment variable name`).
    """
    secret = {(d.span.file, d.span.line, d.span.col) for d in diags if d.code == "S223" and d.span}
    if not secret:
        return diags
    return [d for d in diags if d.code == "S223" or d.span is None
            or (d.span.file, d.span.line, d.span.col) not in secret]

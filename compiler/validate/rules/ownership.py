"""Ownership coverage (X305, X306).

## What it does
Checks that every spec is covered by exactly one Ownership, either by name in its `covers`
list or through the project's `default_ownership` in `charter.yaml`.

## Why is this bad?
Approvals in `charter plan` come from the RACI of the Ownership that covers a changed spec.
A spec nobody owns can change without review; a spec owned twice has two conflicting sets
of approvers.

## Example
```yaml
kind: Ownership
metadata: {name: churn-owners}
spec:
  covers: [customers]          # the Model `churn` is not covered by anyone
```

## Use instead
```yaml
kind: Ownership
metadata: {name: churn-owners}
spec:
  covers: [customers, churn]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context

CODES = ("X301", "X302", "X305", "X306")


def check(ctx: Context) -> Iterator[Diagnostic]:
    owners: dict[str, list] = {}
    for own in ctx.specset.of_kind("Ownership"):
        for i, name in enumerate(own.model.spec.covers):
            owners.setdefault(name, []).append((own, i))
    default = getattr(getattr(ctx.project, "spec", None), "default_ownership", None)
    if (default is not None and ctx.specset.get("Ownership", default) is None
            and ("Ownership", default) not in ctx.broken):
        yield _unknown_default(ctx, default)
    for spec in ctx.specset:
        if spec.kind == "Ownership":
            continue
        covering = owners.get(spec.name, [])
        if not covering and default is None:
            yield make("X305", f"{spec.kind} `{spec.name}` is covered by no Ownership",
                       ctx.span(spec, "/metadata/name"), pointer="/metadata/name",
                       help="add its name to the `covers` list of an Ownership, or set `default_ownership` "
                            "in charter.yaml")
        elif len({own.name for own, _ in covering}) > 1:
            (first, _), (second, i) = covering[0], covering[1]
            yield make("X306", f"{spec.kind} `{spec.name}` is covered by Ownership `{first.name}` and `{second.name}`",
                       ctx.span(second, f"/spec/covers/{i}"), pointer=f"/spec/covers/{i}",
                       labels=(ctx.defined_here(first, f"`{first.name}` covers it too"),),
                       help="keep it in exactly one `covers` list")


def _unknown_default(ctx: Context, name: str) -> Diagnostic:
    from compiler.diagnostics import Span
    from compiler.diagnostics.suggest import suggestion

    doc = ctx.project_doc
    span = doc.span("/spec/default_ownership") if doc is not None else Span("charter.yaml", 1, 1)
    other = next((s for s in ctx.specset if s.name == name), None)
    if other is not None:
        return make("X302", f"`{name}` is a {other.kind}, not an Ownership", span,
                    pointer="/spec/default_ownership", labels=(ctx.defined_here(other),))
    return make("X301", f"unknown ownership `{name}`", span, pointer="/spec/default_ownership",
                help=suggestion(name, ctx.specset.names("Ownership"), "ownerships"))

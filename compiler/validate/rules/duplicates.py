"""Duplicate names (X303).

## What it does
Checks that no two specs of one kind share a name.

## Why is this bad?
Specs refer to each other by name, and names become Kubernetes, Argo and Airflow identifiers.
Two specs with one name make every reference to it ambiguous and generated files collide.

## Example
```yaml
# specs/a.yaml
kind: DataSource
metadata: {name: customers}
---
# specs/b.yaml
kind: DataSource
metadata: {name: customers}
```

## Use instead
```yaml
kind: DataSource
metadata: {name: customers-eu}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.spec import Spec
from compiler.validate.context import Context

CODES = ("X303",)


def check(ctx: Context) -> Iterator[Diagnostic]:
    first: dict[tuple[str, str], Spec] = {}
    for spec in ctx.specset:
        key = (spec.kind, spec.name)
        if key not in first:
            first[key] = spec
            continue
        original = first[key]
        yield make("X303", f"{spec.kind} `{spec.name}` is defined twice", ctx.span(spec, "/metadata/name"),
                   pointer="/metadata/name", labels=(ctx.defined_here(original, "first defined here"),),
                   help="rename one of them; names are unique per kind")

"""Unsafe text and literal secrets (S210, S223).

## What it does
Scans every string of every document, before any other check, for two things:
control or bidirectional-override characters (S210), and credentials written into the spec
(S223): URLs with a password, private keys, cloud and GitHub tokens, values of keys
named like `password`, `secret`, `token` or `api_key`, and `key=value` / `key: value` forms
(`password=hunter2` in a SQL comment, `pwd: x` in a description) in any string or key.
Comments holding one are masked in every source snippet.

## Why is this bad?
Bidi overrides make text read differently from what it is ("Trojan Source"), and terminal
escapes in a name would rewrite a reviewer's terminal or a PR comment. A secret in a spec is
in git history forever, and in every generated file and log that repeats it. Charter never
echoes the value it found: diagnostics and source snippets mask it.

## Example
```yaml
kind: DataSource
spec:
  format: sql
  connection: {url: "postgresql://etl:hunter2@db/prod"}
```

## Use instead
```yaml
kind: DataSource
spec:
  format: sql
  connection: {url_env: CHURN_DB_URL}   # set in the runner's environment or a secret store
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from compiler.diagnostics import Diagnostic, Span, has_unsafe_chars, make
from compiler.diagnostics.secrets import HINTS, SECRET_KEYS, comment_secrets, secret_values
from compiler.load.document import Document, escape_token
from compiler.validate.context import Context

CODES = ("S210", "S223")

def check(ctx: Context) -> Iterator[Diagnostic]:
    for doc in ctx.documents:
        yield from check_document(doc)


def check_document(doc: Document) -> Iterator[Diagnostic]:
    """One document's findings, a function of it alone (memoised per document: compiler/validate/memo.py)."""
    if doc.suspect:  # the loader pre-scanned the file's text; most files need no walk
        yield from _walk(doc, doc.data, "")


def _walk(doc: Document, value: object, ptr: str) -> Iterator[Diagnostic]:
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{ptr}/{escape_token(k)}"
            if has_unsafe_chars(k):
                yield make("S210", "a key holds control or bidi characters", doc.span(p, key=True), pointer=p,
                           help="retype the key; it may not display what it contains")
            if HINTS.search(k) and (what := next((w for pat, w in secret_values() if pat.search(k)), None)):
                yield make("S223", f"{what} is written into a key of the spec", doc.span(p, key=True), pointer=p,
                           help="remove it and rotate it; keys are printed like values")
            if isinstance(v, str) and v and SECRET_KEYS.search(k) and not v.startswith(("${", "env:", "secret:")):
                yield _secret(doc, p, f"a literal value for `{k}`")
                continue
            yield from _walk(doc, v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(doc, v, f"{ptr}/{i}")
    elif isinstance(value, str):
        if has_unsafe_chars(value):
            yield make("S210", "text holds control or bidi characters", doc.span(ptr), pointer=ptr,
                       help="retype the value; it may not display what it contains")
        if HINTS.search(value):
            for pattern, what in secret_values():
                if pattern.search(value):
                    yield _secret(doc, ptr, what)
                    break


def _secret(doc: Document, ptr: str, what: str) -> Diagnostic:
    return make("S223", f"{what} is written into the spec", doc.span(ptr), pointer=ptr,
                help="remove it, rotate it, and read it from an environment variable (e.g. `connection.url_env`)")


def redactions(diags, texts: dict[str, str] | None = None,
               comments: Callable[[str, str], list[tuple[int, int]]] | None = None) -> list:
    """Spans whose source text must be masked in every snippet: the secrets found above, and
    comments that hold one (comments are not data, so no rule reports them, but snippets show them).

    `comments(path, text)` finds those comments (default: `comment_secrets(text)`; the rule memo's
    remembers them per file).
    """  # noqa: D205
    spans = [d.span for d in diags if d.code == "S223" and d.span is not None]
    for path, text in (texts or {}).items():
        found = comments(path, text) if comments is not None else comment_secrets(text)
        spans += [Span(path, line, col, line, 10**6) for line, col in found]
    return spans

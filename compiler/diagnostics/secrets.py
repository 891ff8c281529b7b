"""Literal secrets in spec values: what `charter validate` reports (S223) and what plans and diffs must never print.

A bottom-layer module with no imports of its own, so `charter plan` redacts without loading the
validator (and pydantic).
"""

from __future__ import annotations

import functools
import re

_PATTERNS = (
    (r"[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@", "a URL with a password"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "a private key"),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "an AWS access key"),
    (r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", "a GitHub token"),
    (r"\bglpat-[A-Za-z0-9_-]{20,}\b", "a GitLab token"),
    (r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b", "a Slack token"),
    (r"\bsk-[A-Za-z0-9]{32,}\b", "an API secret key"),
    # `password=hunter2`, `pwd: x`, `api_key = "..."` inside any text (SQL comments, descriptions,
    # label values); a reference such as `${DB_PASSWORD}`, `env:X` or `secret:x` is not a secret.
    (r"(?i)(?<![a-z0-9])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[\"']?(?:\s*=|\s*:(?=\s))\s*"
     r"(?![\"']?(?:\$\{|env:|secret:|<))[\"']?[^\s\"',;)]{3,}", "a credential (`key=value`)"),
)


@functools.cache
def secret_values() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The patterns, compiled on first use: most commands (a plan of values without a hint) never need them."""
    return tuple((re.compile(pattern), what) for pattern, what in _PATTERNS)


SECRET_KEYS = re.compile(
    r"(?i)(?:^|_|-)(?:password|passwd|secret|token|api_?key|access_?key|private_?key|credentials?)$")
# Cheap pre-filter: most strings hold none of these, so the regexes above rarely run.
HINTS = re.compile(r"://|-----|AKIA|ASIA|gh[pousr]_|glpat-|xox|sk-|(?i:passw|pwd|secret|token|api.?key|access.?key)")


def comment_secrets(text: str) -> list[tuple[int, int]]:
    """(line, column) of every YAML comment that holds a credential, 1-based, for masking snippets.

    Comments never reach a spec's data, but they are printed in source snippets.
    """
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        at = line.find("#")
        while at != -1 and at > 0 and not line[at - 1].isspace():  # `#` inside a value is not a comment
            at = line.find("#", at + 1)
        if at == -1 or not HINTS.search(line, at):
            continue
        if any(p.search(line, at) for p, _ in secret_values()):
            found.append((lineno, at + 1))
    return found


def secret(key: object, value: object) -> bool:
    """Would `charter validate` report this value as a literal secret (S223)?"""
    if not isinstance(value, str) or not value:
        return False
    if isinstance(key, str) and SECRET_KEYS.search(key) and not value.startswith(("${", "env:", "secret:")):
        return True
    return bool(HINTS.search(value)) and any(p.search(value) for p, _ in secret_values())


REDACTED = "<redacted>"


def redact(value: object, key: object = None) -> object:
    """`value` with every literal secret in it replaced by `<redacted>`.

    For plans and diffs, which print spec values into pull requests.
    """
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    return REDACTED if secret(key, value) else value

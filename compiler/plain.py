"""Settings that generated files carry as plain text: one definition for the validator and the renderers.

`shared_store` stands in GitHub and Argo expressions, GitLab variables and Jinja templates, and
`install.constraints` in workflow env and a Dockerfile, unquoted. Validation refuses any other
value (`compiler.spec.project` uses these patterns); renderers check again, since a hand-made IR
has not been validated.
"""

from __future__ import annotations

import re

# A URL without quotes, `$`, braces, backticks, backslashes, spaces or control characters.
PLAIN_URL = r"^[a-z][a-z0-9+.-]*://[^\s\x00-\x1f\x7f'\"`$\\{}]+$"
# A spec's name: a DNS-1123 label (lowercase letters, digits, `-`, at most 63). It reaches
# generated files unquoted, and a rename maps one such name to another (`gitops.history`).
SPEC_NAME = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
# A repository-relative path of letters, digits and `_./-`.
PLAIN_PATH = r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$"
_URL, _PATH = re.compile(PLAIN_URL), re.compile(PLAIN_PATH)


def plain_url(value: str) -> bool:
    return bool(_URL.match(value)) and "\n" not in value


def plain_path(value: str) -> bool:
    """Also inside the repository: no `..` segment (and, by the pattern, not absolute)."""
    return bool(_PATH.match(value)) and "\n" not in value and ".." not in value.split("/")

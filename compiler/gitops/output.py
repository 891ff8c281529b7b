r"""What the git-aware commands share: their error, JSON output, change entries, and escaping.

File names may hold any bytes: git and the file system hand them over as surrogate escapes
(`\udce9` for the byte 0xE9), which survive every step inside Charter but cannot be written
as UTF-8. Every command's output goes through `shown`, so such a name prints as `caf\xe9.yaml`.
"""

from __future__ import annotations

import json

from compiler.diagnostics import shown
from compiler.gitops.risk import assess, worst


class CommandError(Exception):
    """A user error of a git-aware command (exit 1)."""


def _escaped(doc):
    if isinstance(doc, str):
        return shown(doc)
    if isinstance(doc, dict):
        return {_escaped(k): _escaped(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_escaped(v) for v in doc]
    return doc


def dump(doc) -> str:
    return json.dumps(_escaped(doc), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"



def changes_doc(changes, in_use, renames: dict[str, str] | None = None) -> list[dict]:
    """Resource changes with their findings, classified exactly as `charter plan` does."""
    out = []
    for ch, found in zip(changes, assess(changes, in_use, renames=renames), strict=True):
        out.append({"address": ch.address, "action": ch.action, "file": ch.file, "previous_file": ch.previous_file,
                    "previous_name": ch.previous_name, "risk": worst(found),
                    "changes": [c.to_dict() for c in ch.changes if c.path],
                    "findings": [f.to_dict() for f in found]})
    return out


def changes_text(doc: list[dict], indent: str = "") -> list[str]:
    from compiler.gitops.report import _change_lines, _header

    lines = []
    for res in doc:
        lines.append(indent + _header(res))
        lines += [f"{indent}    {line}" for line in _change_lines(res)]
    return lines



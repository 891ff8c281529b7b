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


class _Plain:
    """Whether a document holds only what orjson writes as the standard library does (`dump`)."""

    __slots__ = ("ok",)

    def __init__(self) -> None:
        self.ok = True


def _escaped(doc, plain: _Plain):
    kind = type(doc)
    if kind is not str and kind is not dict and kind is not list and kind is not tuple and plain.ok:
        if kind is float:
            text = repr(doc)  # orjson writes 1e-05 as 0.00001, and NaN as null
            plain.ok = "e" not in text and "n" not in text
        elif kind is int:
            plain.ok = -(1 << 63) <= doc < (1 << 64)
        elif kind is not bool and doc is not None:
            plain.ok = False  # a subclass, or what json.dumps writes as str() (default=str): orjson differs
    if isinstance(doc, str):
        return shown(doc)
    if isinstance(doc, dict):
        if plain.ok and any(type(k) is not str for k in doc):
            plain.ok = False
        return {_escaped(k, plain): _escaped(v, plain) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_escaped(v, plain) for v in doc]
    return doc


def dump(doc) -> str:
    """Pretty, key-sorted JSON: the bytes of `json.dumps(indent=2, sort_keys=True, ensure_ascii=False,
    default=str)`, written by orjson when the document allows it (tests/property/test_output_json.py).

    The standard library's indenting encoder is pure Python: a long `charter history` spent a
    fifth of its time in it.
    """  # noqa: D205 - a docstring of two sentences
    plain = _Plain()
    escaped = _escaped(doc, plain)
    if plain.ok:
        try:
            import orjson
        except ImportError:  # a core install has it; a broken environment still gets its output
            pass
        else:
            return orjson.dumps(escaped, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    return json.dumps(escaped, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"



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



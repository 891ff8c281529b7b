"""Diagnostics: the bottom layer every stage reports through.

Stage: none (shared by all). Input: facts about a problem. Output: `Diagnostic` values that
stages *return* next to their results; formatters in `compiler.diagnostics.format` turn them
into text, JSON, GitHub annotations or SARIF, always through `Diagnostic.to_dict()`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from compiler.diagnostics.codes import CODES, lookup

__all__ = [
    "CODES",
    "Diagnostic",
    "Label",
    "Severity",
    "Span",
    "lookup",
    "make",
    "safe_text",
    "sort_key",
]


class Severity(enum.StrEnum):
    """How bad a diagnostic is; only errors fail a run unless `--strict`."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: repo-relative POSIX path, 1-based line and column."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
        }


@dataclass(frozen=True, slots=True)
class Label:
    """A secondary span with a short message, such as "first defined here"."""

    span: Span
    message: str

    def to_dict(self) -> dict:
        return {"span": self.span.to_dict(), "message": self.message}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in the specs, with a stable code and the smallest span that shows it."""

    code: str
    name: str
    severity: Severity
    message: str
    span: Span | None = None
    pointer: str | None = None
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "span": self.span.to_dict() if self.span else None,
            "pointer": self.pointer,
            "labels": [label.to_dict() for label in self.labels],
            "notes": list(self.notes),
            "help": self.help,
        }


def make(
    code: str,
    message: str,
    span: Span | None = None,
    *,
    pointer: str | None = None,
    help: str | None = None,
    labels: tuple[Label, ...] = (),
    notes: tuple[str, ...] = (),
    severity: Severity | None = None,
) -> Diagnostic:
    """Build a diagnostic from the registry entry of `code`, sanitising every text field."""
    entry = lookup(code)
    return Diagnostic(
        code=entry.code,
        name=entry.name,
        severity=severity or Severity(entry.severity),
        message=safe_text(message),
        span=span,
        pointer=pointer,
        labels=tuple(Label(lb.span, safe_text(lb.message)) for lb in labels),
        notes=tuple(safe_text(n) for n in notes),
        help=safe_text(help) if help else None,
    )


# C0/C1 controls (terminal escapes start with ESC), and the Unicode bidi controls behind
# "Trojan Source" (CVE-2021-42574): spec text must never reach a terminal or a PR comment raw.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """Escape control and bidi characters so that a message shows them instead of obeying them."""
    if not _UNSAFE.search(text):
        return text.replace("\n", "\\n") if "\n" in text else text
    text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.replace("\n", "\\n")


def shown(text: str) -> str:
    r"""`text` with the bytes of a file name that are not UTF-8 as `\xNN` escapes.

    The file system and git hand such names over as surrogate escapes, which no UTF-8 output
    (a terminal, JSON, a generated file) can hold.
    """
    if text.isascii():  # most text: nothing to escape, and a C check
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def has_unsafe_chars(text: str) -> bool:
    """True when `text` holds a control or bidi character (newlines and tabs excepted)."""
    return _UNSAFE.search(text.replace("\n", "").replace("\t", "")) is not None


def sort_key(diag: Diagnostic) -> tuple:
    """Order diagnostics by file, position and code, so output is stable across runs."""
    span = diag.span
    if span is None:
        return ("", 0, 0, diag.code, diag.message)
    return (span.file, span.line, span.col, diag.code, diag.message)

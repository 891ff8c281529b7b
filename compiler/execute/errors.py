"""`DataError`: the data does not match its spec (unreadable, missing columns, wrong types).

Its message names the source, the column and the first offending rows (1-based data rows, as a
person counts them in the file, header excluded) and never dumps long values.
"""

from __future__ import annotations


def shorten(value: object, limit: int = 40) -> str:
    text = str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


class DataError(Exception):
    """Bad data: `message` says what, `column` and `rows` (0-based) where, `hint` what to do."""

    def __init__(self, message: str, *, column: str | None = None, rows: list[int] | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message, self.column, self.rows, self.hint = message, column, list(rows or [])[:5], hint

    def __str__(self) -> str:
        text = self.message
        if self.rows:
            text += ", first at row" + ("s " if len(self.rows) > 1 else " ") + ", ".join(str(r + 1) for r in self.rows)
        return text + (f" (help: {self.hint})" if self.hint else "")

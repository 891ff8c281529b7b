"""`RunError`: a run that cannot go on for a reason the user can fix (exit 2 or 1, never a traceback).

Data problems have their own `DataError` in `compiler.execute.errors`.
"""

from __future__ import annotations


class RunError(Exception):
    """A run stopped: `message` says what is wrong, `hint` how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message + (f"\n  help: {self.hint}" if self.hint else "")

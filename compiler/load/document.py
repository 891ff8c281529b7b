"""The handoff types of the load stage."""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.diagnostics import Span

# (line, col, end_line, end_col), 1-based; a tuple, not a Span, because the loader records
# one per node and a tuple is several times cheaper to build.
Pos = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The intermediate state between a path on disk (or a git blob) and its parsed documents.

    `path` is repo-relative POSIX and is what every diagnostic names; `text` is the decoded
    content, kept for the source snippets of diagnostics.
    """

    path: str
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    """The intermediate state between YAML text and a validated spec: plain data plus positions.

    `data` holds only dicts, lists, str, int, float, bool and None. `values` maps a JSON pointer
    (`/spec/rules/0/column`) to the span of the value there, `keys` maps it to the span of the
    mapping key that introduced it, so a diagnostic can point at either.
    """

    file: str
    index: int
    data: object
    values: dict[str, Pos] = field(repr=False)
    keys: dict[str, Pos] = field(repr=False)
    # False when the file's text holds nothing that could be a secret or an unsafe character,
    # so the rule that looks for them can skip walking this document (see load.suspect).
    suspect: bool = True

    def span(self, pointer: str, *, key: bool = False) -> Span:
        """The span of the value (or key) at `pointer`, or of its nearest recorded ancestor."""
        table = self.keys if key else self.values
        ptr = pointer
        while True:
            pos = table.get(ptr)
            if pos is None and key:
                pos = self.values.get(ptr)
            if pos is not None:
                return Span(self.file, pos[0], pos[1], pos[2], pos[3])
            if not ptr:
                return Span(self.file, 1, 1)
            ptr = ptr.rsplit("/", 1)[0]


def escape_token(token: object) -> str:
    """One JSON-pointer reference token (RFC 6901)."""
    text = str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return text


def join(pointer: str, *tokens: object) -> str:
    """Extend `pointer` by the given tokens."""
    for t in tokens:
        pointer = f"{pointer}/{escape_token(t)}"
    return pointer

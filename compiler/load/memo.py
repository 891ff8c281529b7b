"""Parsed documents reused while a file's text is unchanged: an edit of one spec parses one file.

Reading YAML with source positions is the largest part of validating a large tree (about half
a second for 1,000 files). The memo keeps, per file, the digest of its path and text and the
documents parsed from it (data and positions), in `.charter/cache/parse.marshal`: `marshal`,
because documents hold only dicts, lists, tuples, strings, numbers, booleans and None, which it
reads back several times faster than JSON (and, unlike pickle, it builds no objects of any
class). The file is keyed by Charter's code and the Python version (marshal's format is
Python's own); a missing, damaged or foreign one is ignored. Like every cache in `.charter/`,
it is trusted as this checkout's own output. Files that had load problems are never memoised,
so their diagnostics are always reported afresh.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from pathlib import Path

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.diagnostics import Diagnostic
from compiler.load.document import Document, SourceFile

MEMO = Path(".charter") / "cache" / "parse.marshal"
FORMAT = 1
Entry = tuple[tuple[int, object, dict, dict, bool], ...]


def _stamp() -> str:
    return f"{FORMAT}:{sys.version}:{code_fingerprint()}"


class ParseMemo:
    def __init__(self, entries: dict[str, Entry] | None = None) -> None:
        self._old = entries or {}
        self._new: dict[str, Entry] = {}
        self.parsed = 0  # files parsed in this run (misses)

    @classmethod
    def load(cls, root: Path) -> ParseMemo:
        try:
            stamp, entries = marshal.loads((root / MEMO).read_bytes())
            if stamp != _stamp() or not isinstance(entries, dict):
                return cls()
            return cls(entries)
        except (OSError, ValueError, EOFError, TypeError):
            return cls()

    def save(self, root: Path) -> None:
        if not self.parsed and self._new.keys() == self._old.keys():
            return
        try:
            write_atomic(root / MEMO, marshal.dumps((_stamp(), self._new)), durable=False)
        except (OSError, ValueError):
            pass  # a read-only checkout (or a value marshal cannot write) just parses again next time

    def parse(self, source: SourceFile) -> tuple[list[Document], list[Diagnostic]]:
        from compiler.load import load_source

        key = hashlib.sha256(source.path.encode("utf-8", "surrogatepass") + b"\0"
                             + source.text.encode("utf-8", "surrogatepass")).hexdigest()
        hit = self._old.get(key)
        if hit is not None:
            try:
                docs = [Document(source.path, index, data, values, keys, suspect)
                        for index, data, values, keys, suspect in hit]
                self._new[key] = hit
                return docs, []
            except (TypeError, ValueError):
                pass  # a damaged entry: parse the file
        docs, diags = load_source(source)
        self.parsed += 1
        if not diags:
            self._new[key] = tuple((d.index, d.data, d.values, d.keys, d.suspect) for d in docs)
        return docs, diags


__all__ = ["MEMO", "ParseMemo"]

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

A document's positions (a span per value and key: four fifths of the memo) stay packed, as
marshal bytes, until a span inside it is asked for, which in a clean tree is only a
diagnostic's: a memoised document is read with its data and the span of its root only.
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from pathlib import Path

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.diagnostics import Diagnostic, Span
from compiler.load.document import Document, Pos, SourceFile

MEMO = Path(".charter") / "cache" / "parse.marshal"
FORMAT = 2
# per document: (index, data, marshal bytes of (values, keys), the root's position or None, suspect)
Entry = tuple[tuple[int, object, bytes, "Pos | None", bool], ...]


class _Packed(Document):
    """A memoised Document: `values` and `keys` unpacked from marshal bytes on first use.

    Should the bytes not unpack (damage the outer file's check could not see), the file's text is
    parsed again for them.
    """

    __slots__ = ("_packed", "_root", "_source", "_tables")
    _packed: bytes
    _root: Pos | None
    _source: SourceFile
    _tables: tuple[dict[str, Pos], dict[str, Pos]] | None

    def __init__(self, source: SourceFile, index: int, data: object, packed: bytes, root: Pos | None,
                 suspect: bool) -> None:
        for name, value in (("file", source.path), ("index", index), ("data", data), ("suspect", suspect),
                            ("_packed", packed), ("_root", root), ("_source", source), ("_tables", None)):
            object.__setattr__(self, name, value)  # frozen, like Document

    def _unpacked(self) -> tuple[dict[str, Pos], dict[str, Pos]]:
        tables = self._tables
        if tables is None:
            try:
                loaded: object = marshal.loads(self._packed)
                if not (isinstance(loaded, tuple) and len(loaded) == 2 and all(isinstance(t, dict) for t in loaded)):
                    raise ValueError("damaged positions")
                tables = (loaded[0], loaded[1])
            except (ValueError, EOFError, TypeError):
                from compiler.load import load_source

                again = next(d for d in load_source(self._source)[0] if d.index == self.index)
                tables = (again.values, again.keys)
            object.__setattr__(self, "_tables", tables)
        return tables

    @property
    def values(self) -> dict[str, Pos]:  # read-only, as on a frozen Document
        return self._unpacked()[0]

    @property
    def keys(self) -> dict[str, Pos]:
        return self._unpacked()[1]

    def span(self, pointer: str, *, key: bool = False) -> Span:
        if not pointer and not key:  # every spec's origin: known without unpacking
            root = self._root
            return Span(self.file, root[0], root[1], root[2], root[3]) if root is not None else Span(self.file, 1, 1)
        return Document.span(self, pointer, key=key)


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
                docs: list[Document] = []
                entries: tuple[tuple[object, ...], ...] = hit
                for index, data, packed, root, suspect in entries:
                    if not isinstance(index, int) or not isinstance(packed, bytes) or not isinstance(suspect, bool) \
                            or not (root is None or isinstance(root, tuple) and len(root) == 4):
                        raise ValueError("damaged entry")
                    docs.append(_Packed(source, index, data, packed, root, suspect))
                self._new[key] = hit
                return docs, []
            except (TypeError, ValueError):
                pass  # a damaged entry: parse the file
        docs, diags = load_source(source)
        self.parsed += 1
        if not diags:
            self._new[key] = tuple((d.index, d.data, marshal.dumps((d.values, d.keys)), d.values.get(""), d.suspect)
                                   for d in docs)
        return docs, diags


__all__ = ["MEMO", "ParseMemo"]

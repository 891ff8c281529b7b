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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.diagnostics import Diagnostic, Span
from compiler.load.document import Document, Pos, SourceFile

if TYPE_CHECKING:
    from compiler.fork import Pending

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
        self._ahead: Ahead | None = None  # files being parsed by a child since `prefetch`

    @classmethod
    def load(cls, root: Path) -> ParseMemo:
        """The memo of `root`: the one `prefetch` loaded (with its files being parsed), else from the file."""
        global _PREFETCHED
        if _PREFETCHED is not None:
            found, _PREFETCHED = _PREFETCHED, None
            if found[0] == root:
                return found[1]
            found[1].drop()
        return cls.read(root)

    def drop(self) -> None:
        if self._ahead is not None:
            self._ahead.pending.cancel()
            self._ahead = None

    @classmethod
    def read(cls, root: Path) -> ParseMemo:
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
        key = _key(source)
        found = self._reuse(source, key)
        return (found, []) if found is not None else self._parse_new(source, key)

    def parse_all(self, sources: list[SourceFile]) -> list[tuple[list[Document], list[Diagnostic]]]:
        """`parse` of each source, in order; many files not memoised are parsed on two cores (`compiler/fork.py`).

        Parsing is a pure function of a file's text, so a forked child parses every other file
        that must be parsed and sends back the memo's entries for them (the documents of a file
        with load problems as they are): the documents, and the memo, are the same either way.
        """
        from compiler import fork

        keys = [_key(s) for s in sources]
        results: list[tuple[list[Document], list[Diagnostic]] | None] = []
        misses: list[int] = []
        for i, (source, key) in enumerate(zip(sources, keys, strict=True)):
            found = self._reuse(source, key)
            results.append((found, []) if found is not None else None)
            if found is None:
                misses.append(i)
        ahead = self._ahead
        if ahead is not None and misses:
            self._ahead = None
            mine = [i for i in misses if keys[i] not in ahead.keys]  # not in the child's share: parsed here
            for i in mine:
                results[i] = self._parse_new(sources[i], keys[i])
            got = ahead.pending.join()
            try:
                entries = marshal.loads(got.value) if isinstance(got.value, bytes) else {}
            except (ValueError, EOFError, TypeError):
                entries = {}
            for i in misses:
                if results[i] is not None:
                    continue
                entry = entries.get(keys[i])
                if entry is not None:
                    results[i] = self._adopt(sources[i], keys[i], entry)
                else:  # a file with load problems (their diagnostics are made here), or a failed child
                    results[i] = self._parse_new(sources[i], keys[i])
            return self._in_order(results, keys)
        if ahead is not None:
            self._ahead = None
            ahead.pending.join()
        if len(misses) < PARALLEL_FILES or not fork.available():
            for i in misses:
                results[i] = self._parse_new(sources[i], keys[i])
            return results  # type: ignore[return-value]
        mine, theirs = misses[0::2], misses[1::2]

        Parsed = tuple[list[Document], list[Diagnostic]]

        def second() -> list[tuple[bytes | None, Parsed | None]]:
            out: list[tuple[bytes | None, Parsed | None]] = []
            for i in theirs:
                docs, diags = _parsed(sources[i])
                out.append((marshal.dumps(_entry(docs)), None) if not diags  # type: ignore[arg-type]
                           else (None, (docs, diags)))
            return out

        here, there = fork.both(lambda: [self._parse_new(sources[i], keys[i]) for i in mine], second)
        for i, done in zip(mine, here.get(), strict=True):
            results[i] = done
        for i, (packed, unpacked) in zip(theirs, there.get(), strict=True):
            if packed is None:
                self.parsed += 1
                results[i] = unpacked
            else:
                results[i] = self._adopt(sources[i], keys[i], marshal.loads(packed))
        return self._in_order(results, keys)

    def _adopt(self, source: SourceFile, key: str, entry: Entry) -> tuple[list[Document], list[Diagnostic]]:
        """A file another process parsed: its entry kept, its documents made from it."""
        self.parsed += 1
        self._new[key] = entry
        return self._documents(source, entry), []

    def _in_order(self, results: list, keys: list[str]) -> list[tuple[list[Document], list[Diagnostic]]]:
        """The results; the memo's new entries in file order, as one process would have added them."""
        self._new = {k: self._new[k] for k in keys if k in self._new} | self._new
        return results

    def _parse_new(self, source: SourceFile, key: str) -> tuple[list[Document], list[Diagnostic]]:
        docs, diags = _parsed(source)
        self.parsed += 1
        if not diags:
            self._new[key] = _entry(docs)
        return docs, diags

    def _reuse(self, source: SourceFile, key: str) -> list[Document] | None:
        hit = self._old.get(key)
        if hit is None:
            return None
        try:
            docs = self._documents(source, hit)
        except (TypeError, ValueError):
            return None  # a damaged entry: parse the file
        self._new[key] = hit
        return docs

    @staticmethod
    def _documents(source: SourceFile, entries: tuple[tuple[object, ...], ...]) -> list[Document]:
        docs: list[Document] = []
        for index, data, packed, root, suspect in entries:
            if not isinstance(index, int) or not isinstance(packed, bytes) or not isinstance(suspect, bool) \
                    or not (root is None or isinstance(root, tuple) and len(root) == 4):
                raise ValueError("damaged entry")
            docs.append(_Packed(source, index, data, packed, root, suspect))
        return docs


@dataclass(frozen=True, slots=True)
class Ahead:
    """Files a forked child parses (by key) while this process goes on; `pending.join()` gives their entries."""

    keys: set[str]
    pending: Pending[bytes]


_PREFETCHED: tuple[Path, ParseMemo] | None = None
# The share of the files to parse that the child takes: this process meanwhile imports pydantic
# and the spec models and reads charter.yaml (about 0.2 s), then parses the rest.
AHEAD_SHARE = 0.7


def prefetch(root: Path) -> None:
    """Start parsing the spec files of `root` in a forked child, before this process imports pydantic.

    A cold compile of 1,000 specs parses for about 0.35 s and imports and builds the spec models
    for about 0.2 s, one after the other; the child does most of the parsing meanwhile. The spec
    folders are a guess from charter.yaml read without pydantic (`guess_spec_dirs`): `ParseMemo.parse_all`
    parses whatever the child did not, and entries are keyed by each file's path and text, so a
    wrong guess costs time, never a different result. Does nothing for a tree that parses quickly.
    """
    global _PREFETCHED
    from compiler import fork
    from compiler.load import _rel, decode, discover

    if _PREFETCHED is not None:  # another command's, never joined: stop it
        _PREFETCHED[1].drop()
        _PREFETCHED = None
    if not fork.available():
        return
    memo = ParseMemo.read(root)
    if len(memo._old) >= PARALLEL_FILES:  # a tree compiled before: few files to parse, if any
        _PREFETCHED = (root, memo)  # read once, not again by ParseMemo.load
        return
    files, _ = discover([root / d for d in guess_spec_dirs(root)], root)
    config = (root / "charter.yaml").resolve()
    base = str(root.resolve())
    todo: list[tuple[str, SourceFile]] = []
    for path in files:
        if path == config:
            continue
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        source, _problem = decode(_rel(str(path), base), raw)
        if source is not None and (key := _key(source)) not in memo._old:
            todo.append((key, source))
    if len(todo) < PARALLEL_FILES:
        return
    share = todo[:int(len(todo) * AHEAD_SHARE)]

    def parse() -> bytes:  # marshal: documents are plain data, and it is several times faster than pickle
        entries: dict[str, Entry] = {}
        for key, source in share:
            docs, diags = _parsed(source)
            if not diags:
                entries[key] = _entry(docs)
        return marshal.dumps(entries)

    memo._ahead = Ahead({key for key, _ in share}, fork.start(parse))
    _PREFETCHED = (root, memo)


def guess_spec_dirs(root: Path) -> list[str]:
    """charter.yaml's `spec.specs` as a guess: read without pydantic, by Charter's own loader.

    Its size, depth and alias limits hold; only folders inside the repository are taken, else
    the default.
    """
    from compiler.load import decode, load_source

    try:
        source, _ = decode("charter.yaml", (root / "charter.yaml").read_bytes())
    except OSError:
        return ["specs"]
    docs = load_source(source)[0] if source is not None else []
    data = docs[0].data if docs else None
    dirs = data.get("spec", {}).get("specs") if isinstance(data, dict) and isinstance(data.get("spec"), dict) else None
    if isinstance(dirs, list) and dirs and all(isinstance(d, str) and d and not Path(d).is_absolute()
                                              and ".." not in Path(d).parts for d in dirs):
        return dirs
    return ["specs"]


# Files to parse above which they are parsed on two cores: about 0.1 s of parsing (a fork costs
# about 0.01 s). A tree of 1,000 specs parses in about 0.35 s on one core.
PARALLEL_FILES = 200


def _key(source: SourceFile) -> str:
    return hashlib.sha256(source.path.encode("utf-8", "surrogatepass") + b"\0"
                          + source.text.encode("utf-8", "surrogatepass")).hexdigest()


def _parsed(source: SourceFile) -> tuple[list[Document], list[Diagnostic]]:
    from compiler.load import load_source

    return load_source(source)


def _entry(docs: list[Document]) -> Entry:
    return tuple((d.index, d.data, marshal.dumps((d.values, d.keys)), d.values.get(""), d.suspect) for d in docs)


__all__ = ["MEMO", "ParseMemo", "guess_spec_dirs", "prefetch"]

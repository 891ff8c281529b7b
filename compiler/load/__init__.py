"""Load stage: files -> `Document`s (plain data + positions by JSON pointer).

Input: paths (or bytes from a git blob). Output: `SourceFile`s, `Document`s and load
diagnostics (`L1xx`). Knows nothing about ML or about the spec kinds; one unreadable file
never stops the others from being read.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.diagnostics import Diagnostic, Span, make
from compiler.load.document import Document, SourceFile
from compiler.load.yaml import parse_documents

if TYPE_CHECKING:
    from compiler.load.memo import ParseMemo

__all__ = ["Document", "SourceFile", "decode", "discover", "load_documents", "load_source", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a spec is hand-written; anything larger is a mistake or an attack
SPEC_SUFFIXES = (".yaml", ".yml")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


# Spec files read whole by this command before it loads them (the tree's hash, `ir.cache.tree_key`),
# each handed to `load_documents` once: a compile reads each file once, not twice. Cleared when a
# command starts (`compiler.ir.cache.forget`), like the hash itself.
_READ: dict[Path, bytes] = {}


def read_spec(path: Path) -> bytes:
    """A spec file's bytes; kept (up to the size limit) for this command's `load_documents`."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) <= MAX_FILE_BYTES:
        _READ[path] = raw
    return raw


def forget_read() -> None:
    _READ.clear()


def decode(path: str, raw: bytes) -> tuple[SourceFile | None, Diagnostic | None]:
    """Bytes -> text. UTF-8 by default; UTF-16/32 only with a byte order mark, as YAML allows."""
    if len(raw) > MAX_FILE_BYTES:
        return None, make("L103", f"file is {len(raw)} bytes, over the limit of {MAX_FILE_BYTES}",
                          Span(path, 1, 1), help="split it into several spec files")
    encoding, skip = "utf-8", 0
    for bom, name in _BOMS:
        if raw.startswith(bom):
            encoding, skip = name, len(bom)
            break
    try:
        text = raw[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        line = raw.count(b"\n", 0, offset) + 1
        col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        return None, make("L107", f"the file is not valid {encoding.upper()} (byte 0x{raw[offset]:02x})",
                          Span(path, line, col), help="save the file as UTF-8")
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        return None, make("L107", "the file holds NUL characters (binary or mis-encoded?)",
                          Span(path, line, at - text.rfind("\n", 0, at)), help="save the file as UTF-8")
    return SourceFile(path, text), None


# Substrings (lower-cased) that any credential or credential-like key contains, and the
# characters that may not reach a terminal. A file with none of them needs no closer look.
_SECRET_HINTS = ("://", "-----", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "xox", "sk-",
                 "passw", "passwd", "secret", "token", "apikey", "api_key", "accesskey", "access_key", "privatekey",
                 "private_key", "credential", "pwd", "api-key", "access-key")
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def suspect(text: str) -> bool:
    """Could `text` hold a literal secret or unsafe characters?

    Cheap: C substring searches.
    """
    if "\\" in text:  # double-quoted escapes (`\e`, `\u202e`) produce characters the text does not show
        return True
    lower = text.lower()
    return any(h in lower for h in _SECRET_HINTS) or _UNSAFE_CHARS.search(text) is not None


def load_source(source: SourceFile) -> tuple[list[Document], list[Diagnostic]]:
    """Parse one decoded file; never raises for bad input."""
    docs, diags = parse_documents(source)
    if not docs and not diags:
        diags = [make("L111", "the file holds no YAML document", Span(source.path, 1, 1))]
    if docs and not suspect(source.text):
        docs = [dataclasses.replace(d, suspect=False) for d in docs]
    return docs, diags


def discover(paths: Iterable[Path], root: Path) -> tuple[list[Path], list[str]]:
    """Spec files under `paths`, sorted; returns (files, missing paths)."""
    found: set[Path] = set()
    missing: list[str] = []
    for p in paths:
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir():
            # Resolve the folder once, not every file: realpath costs a syscall per component.
            for dirpath, dirnames, filenames in os.walk(p.resolve()):
                # Hidden folders (.git, .venv) never hold specs; sorted for a stable walk.
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    if name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                        found.add(Path(dirpath, name))
        else:
            missing.append(str(p))
    base = str(root.resolve())
    return sorted(found, key=lambda f: _rel(str(f), base)), missing


def _rel(path: str, base: str) -> str:
    prefix = base.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def relpath(path: Path, root: Path) -> str:
    """Repo-relative POSIX path when inside `root`, else the path as given."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_documents(files: Iterable[Path], root: Path,
                   memo: ParseMemo | None = None) -> tuple[list[SourceFile], list[Document], list[Diagnostic]]:
    """Read and parse every file; collect all problems of all files.

    With `memo`, a file whose text was parsed before is not parsed again (`load/memo.py`).
    """
    sources: list[SourceFile] = []
    documents: list[Document] = []
    diags: list[Diagnostic] = []
    base = str(root.resolve())
    slots: list[SourceFile | Diagnostic] = []  # per file, in order: its text, or why it has none
    for path in files:
        rel = _rel(str(path), base) if path.is_absolute() else relpath(path, root)
        try:
            read = _READ.pop(path, None)
            size = path.stat().st_size if read is None else len(read)
            if size > MAX_FILE_BYTES:  # checked before reading, so a huge file is never loaded
                slots.append(make("L103", f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}",
                                  Span(rel, 1, 1), help="split it into several spec files"))
                continue
            raw = path.read_bytes() if read is None else read
        except OSError as exc:
            slots.append(make("L108", f"cannot read file: {exc.strerror or exc}", Span(rel, 1, 1)))
            continue
        source, problem = decode(rel, raw)
        if problem:
            slots.append(problem)
            continue
        assert source is not None  # decode returns a source or a problem
        slots.append(source)
    texts = [s for s in slots if isinstance(s, SourceFile)]
    parsed = iter(memo.parse_all(texts) if memo is not None else [load_source(s) for s in texts])
    for slot in slots:
        if isinstance(slot, Diagnostic):
            diags.append(slot)
            continue
        sources.append(slot)
        docs, problems = next(parsed)
        documents.extend(docs)
        diags.extend(problems)
    return sources, documents, diags

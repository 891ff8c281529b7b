"""Safe YAML: libyaml's event stream turned into plain data and positions in one pass.

Why events instead of `yaml.safe_load`: PyYAML's C composer recurses without a limit (a
file of 100,000 `[` crashes the interpreter), expands aliases only when constructing (after
a billion-laughs bomb has been accepted), and resolves scalars by YAML 1.1 (`no` -> False,
`0777` -> 511, `1:20` -> 80). Walking libyaml's events ourselves lets us check depth,
aliases, tags and duplicate keys as they arrive, record positions from the same parse, and
resolve scalars by the YAML 1.2 core schema. It is also faster than `yaml.load` with the C
loader, because no node tree is built and thrown away.

Scalar resolution (documented in docs/spec-language.md):
- quoted and block scalars are strings;
- plain `null`, `~` and empty are None; `true`/`false` (any case form of YAML 1.2) are bools;
- plain decimal integers without leading zeros, `0x..` and `0o..` are ints; YAML 1.2 floats
  and `.inf`/`.nan` are floats;
- everything else stays a string: `yes`, `no`, `on`, `off`, `0777`, `1:20`, `1_000`;
- mapping keys are always strings, so `on:` and `true:` are the keys "on" and "true".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from yaml import events as ev

from compiler.diagnostics import Diagnostic, Span, make
from compiler.load.document import Document, SourceFile, escape_token

if TYPE_CHECKING:
    from compiler.diagnostics import Label

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_NUMBER_CHARS = 64

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+\Z")
_INT_OTHER = re.compile(r"0x[0-9a-fA-F]+\Z|0o[0-7]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL = {
    "null": None, "Null": None, "NULL": None, "~": None, "": None,
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}  # fmt: skip
_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")} | {"!"}
_NUMERIC_START = frozenset("0123456789-+.")


class _Abort(Exception):
    """Stops the walk of one file with a diagnostic; never leaves this module."""

    def __init__(self, diag: Diagnostic):
        self.diag = diag


def _resolve_plain(text: str, file: str, start=None, end=None) -> object:
    if text in _SPECIAL:
        return _SPECIAL[text]
    if text[0] in _NUMERIC_START:
        if len(text) > MAX_NUMBER_CHARS and (_INT.match(text) or _FLOAT.match(text)):
            span = _span(file, start, end) if start is not None else Span(file, 1, 1)
            raise _Abort(make("L110", f"numeric literal of {len(text)} characters", span,
                              help="quote it if it is an identifier; numbers this long are not supported"))
        if _INT.match(text):
            return int(text)
        if _LEADING_ZERO.match(text):
            return text  # YAML 1.1 reads 0777 as octal, YAML 1.2 as decimal: keep what was written
        if _INT_OTHER.match(text):
            return int(text, 0)
        if _FLOAT.match(text):
            return float(text)
    return text


def _tagged(tag: str, text: str, span: Span) -> object:
    kind = tag[len(_TAG):]
    if kind == "str":
        return text
    value = _resolve_plain(text, span.file)
    wanted: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[kind]  # a type or types
    if kind == "int" and isinstance(value, bool) or not isinstance(value, wanted):
        raise _Abort(make("L101", f"`{text}` is not a valid `!!{kind}`", span))
    return float(value) if kind == "float" else value


def _span(file: str, start, end) -> Span:
    return Span(file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def parse_documents(source: SourceFile) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of `source`; on the first fatal problem, return what came before."""
    docs: list[Document] = []
    problems: list[Diagnostic] = []
    file = source.path
    try:
        _walk(source, docs, problems)
    except _Abort as stop:
        return docs, problems + [stop.diag]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and "nesting depth" in (exc.problem or ""):
            return _deeper_than_charter_allows(source, mark.index)
        span = Span(file, mark.line + 1, mark.column + 1) if mark else Span(file, 1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        hint = None
        lines = source.text.splitlines()
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            hint = "YAML does not allow tabs for indentation; indent with spaces"
        return docs, problems + [make("L101", problem, span, help=hint)]
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(source.text, exc.position)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        return docs, [make("L101", f"unacceptable character {what}: {exc.reason}", Span(file, line, col))]
    except yaml.YAMLError as exc:
        return docs, [make("L101", str(exc).splitlines()[0] if str(exc) else "invalid YAML", Span(file, 1, 1))]
    except (RecursionError, MemoryError):
        return docs, [make("L104", "the document is too deeply nested or too large to read", Span(file, 1, 1))]
    return docs, problems


def _deeper_than_charter_allows(source: SourceFile, index: int) -> tuple[list[Document], list[Diagnostic]]:
    """L104 where the document passes Charter's depth limit, when libyaml's own limit fired first.

    libyaml (0.2.6 and later, in PyYAML 6.0.4's wheels) stops at 1,000 levels itself, and in
    a flow collection its scanner reads that far ahead before the first event reaches the
    walk: the error it raises is at the 1,000th level, not at Charter's 65th. Walking the text
    before libyaml's stop point reaches Charter's limit at the same place as with a libyaml
    without that limit, so the code and the position do not depend on the library.
    """
    docs: list[Document] = []
    problems: list[Diagnostic] = []
    prefix = SourceFile(source.path, source.text[:index])
    try:
        _walk(prefix, docs, problems)
    except _Abort as stop:
        if stop.diag.code == "L104":
            return docs, problems + [stop.diag]
    except yaml.YAMLError:
        pass
    # Unreachable with any libyaml whose limit is above Charter's; kept so that one that is
    # not still gives Charter's code.
    line, col = _line_col(source.text, index)
    return docs, problems + [make("L104", f"the document nests deeper than {MAX_DEPTH} levels",
                                  Span(source.path, line, col))]


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[: max(0, offset)]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _walk(source: SourceFile, docs: list[Document], problems: list[Diagnostic]) -> None:
    file = source.path
    loader = yaml.CSafeLoader(source.text)
    ScalarEvent, AliasEvent = ev.ScalarEvent, ev.AliasEvent
    MappingStartEvent, SequenceStartEvent = ev.MappingStartEvent, ev.SequenceStartEvent
    CollectionEndEvent = ev.CollectionEndEvent
    DocumentStartEvent, DocumentEndEvent = ev.DocumentStartEvent, ev.DocumentEndEvent
    try:
        # Per document state. A stack frame is
        # [container, pointer, pending_key, node_count_at_start, anchor, pending_key_pointer].
        stack: list[list] = []
        values: dict = {}
        keys: dict = {}
        anchors: dict[str, tuple[object, int]] = {}
        root: object = None
        count = 0
        while True:
            # Dispatched on its exact type below (faster than isinstance), which mypy cannot follow.
            event: Any = loader.get_event()
            if event is None:
                break
            etype = type(event)
            if etype is ScalarEvent or etype is AliasEvent:
                start, end = event.start_mark, event.end_mark
                if etype is AliasEvent:
                    if event.anchor not in anchors:
                        raise _Abort(make("L101", f"alias `*{event.anchor}` refers to no earlier anchor",
                                          _span(file, start, end),
                                          help="define the anchor before its use; recursive aliases are not allowed"))
                    value, size = anchors[event.anchor]
                    count += size
                    if count > MAX_NODES:
                        raise _Abort(make("L105", f"aliases expand this document beyond {MAX_NODES} nodes",
                                          _span(file, start, end), help="this looks like an alias bomb"))
                else:
                    count += 1
                    tag = event.tag
                    if tag is not None and tag not in _ALLOWED_TAGS:
                        raise _Abort(_bad_tag(tag, _span(file, start, end)))
                    text = event.value
                    frame = stack[-1] if stack else None
                    if frame is not None and frame[2] is None and type(frame[0]) is dict:
                        # A mapping key: always its text, never resolved. Its pointer is kept in
                        # the frame for the value that follows.
                        key = text
                        if key == "<<" and not event.style:
                            raise _Abort(make("L112", "merge keys (`<<`) are not supported", _span(file, start, end),
                                              help="write the fields out; an alias (`*name`) may still be used "
                                                   "as a whole value"))
                        ptr = frame[1] + "/" + (escape_token(key) if ("/" in key or "~" in key) else key)
                        pos = (start.line + 1, start.column + 1, end.line + 1, end.column + 1)
                        container = frame[0]
                        if key in container:
                            # Not fatal: report every duplicate of the file; the last one wins.
                            problems.append(_duplicate(key, ptr, keys, _span(file, start, end)))
                        else:
                            keys[ptr] = pos
                        frame[2] = key
                        frame[5] = ptr
                        container[key] = None  # reserve, so a later duplicate is seen
                        if event.anchor is not None:
                            anchors[event.anchor] = (key, 1)
                        continue
                    if tag is None:
                        # libyaml reports plain scalars with style ''
                        value = text if event.style else (_resolve_plain(text, file, start, end) if text else None)
                    elif tag == "!":
                        value = text
                    else:
                        value = _tagged(tag, text, _span(file, start, end))
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1)
                pos = (start.line + 1, start.column + 1, end.line + 1, end.column + 1)
                if not stack:
                    root = value
                    values[""] = pos
                    continue
                frame = stack[-1]
                container = frame[0]
                if type(container) is dict:
                    if frame[2] is None:  # only an alias can get here as a key
                        raise _Abort(make("L109", "an alias cannot be a mapping key", _span(file, start, end)))
                    ptr = frame[5]
                    container[frame[2]] = value
                    frame[2] = None
                else:
                    ptr = f"{frame[1]}/{len(container)}"
                    container.append(value)
                values[ptr] = pos
            elif etype is MappingStartEvent or etype is SequenceStartEvent:
                start = event.start_mark
                count += 1
                tag = event.tag
                if tag is not None and tag not in _ALLOWED_TAGS:
                    raise _Abort(_bad_tag(tag, _span(file, start, event.end_mark)))
                new: object = {} if etype is MappingStartEvent else []
                if len(stack) >= MAX_DEPTH:
                    raise _Abort(make("L104", f"the document nests deeper than {MAX_DEPTH} levels",
                                      _span(file, start, event.end_mark)))
                if not stack:
                    ptr = ""
                    root = new
                else:
                    frame = stack[-1]
                    container = frame[0]
                    if type(container) is dict:
                        key = frame[2]
                        if key is None:
                            raise _Abort(make("L109", "a mapping key must be a plain scalar, not a collection",
                                              _span(file, start, event.end_mark)))
                        ptr = frame[5]
                        container[key] = new
                        frame[2] = None
                    else:
                        ptr = f"{frame[1]}/{len(container)}"
                        container.append(new)
                values[ptr] = (start.line + 1, start.column + 1, start.line + 1, start.column + 1)
                stack.append([new, ptr, None, count, event.anchor, None])
            elif issubclass(etype, CollectionEndEvent):
                frame = stack.pop()
                end = event.end_mark
                first = values[frame[1]]
                values[frame[1]] = (first[0], first[1], end.line + 1, end.column + 1)
                if frame[4] is not None:
                    anchors[frame[4]] = (frame[0], count - frame[3] + 1)
            elif etype is DocumentStartEvent:
                stack, values, keys, anchors, root, count = [], {}, {}, {}, None, 0
            elif etype is DocumentEndEvent:
                if root is not None:
                    docs.append(Document(file, len(docs), root, values, keys))
    finally:
        loader.dispose()


def _bad_tag(tag: str, span: Span) -> Diagnostic:
    shown = tag.replace(_TAG, "!!")
    return make("L106", f"tag `{shown[:60]}` is not allowed", span,
                help="Charter specs are plain data; remove the tag (nothing in a spec is executed)")


def _duplicate(key: str, ptr: str, keys: dict, span: Span) -> Diagnostic:
    first = keys.get(ptr)
    labels: tuple[Label, ...] = ()
    if first is not None:
        from compiler.diagnostics import Label

        labels = (Label(Span(span.file, first[0], first[1], first[2], first[3]), "first defined here"),)
    return make("L102", f"duplicate key `{key[:80]}`", span, labels=labels,
                help="YAML keeps only one of them; remove or rename the other")

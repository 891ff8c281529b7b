"""Formatters: one data model (`Diagnostic.to_dict()`), several outputs.

`text` is for people (rustc-like, coloured only on a terminal), `short` is yamllint's
parsable layout, `json` is for tools, `github` emits workflow-command annotations and
`sarif` is SARIF 2.1.0 for code scanning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from compiler import __version__
from compiler.diagnostics import Diagnostic, Span, safe_text
from compiler.diagnostics.codes import CODES

FORMATS = ("text", "short", "json", "github", "sarif")

_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m"}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"


def _masked(line: str, lineno: int, redactions: Sequence[Span]) -> str:
    """Replace redacted regions (literal secrets) of one source line with asterisks."""
    for r in redactions:
        if r.line <= lineno <= (r.end_line or r.line):
            start = r.col - 1 if r.line == lineno else 0
            end = (r.end_col - 1) if (r.end_line or r.line) == lineno and r.end_col else len(line)
            line = line[:start] + "*" * max(0, min(end, len(line)) - start) + line[end:]
    return line


def format_text(
    diags: Sequence[Diagnostic],
    sources: Mapping[str, str] | None = None,
    *,
    colour: bool = False,
    redactions: Sequence[Span] = (),
) -> str:
    """`file:line:col: error[CODE]: message`, the source line with a caret, then help."""
    sources = sources or {}
    out: list[str] = []
    for d in diags:
        sev = d.severity.value
        where = f"{d.span.file}:{d.span.line}:{d.span.col}: " if d.span else ""
        head = f"{sev}[{d.code}]"
        if colour:
            head = f"{_COLOURS[sev]}{head}{_RESET}"
            out.append(f"{_BOLD}{where}{_RESET}{head}: {_BOLD}{d.message}{_RESET}")
        else:
            out.append(f"{where}{head}: {d.message}")
        if d.span and d.span.file in sources:
            out.extend(_snippet(d.span, sources[d.span.file], colour, redactions))
        for label in d.labels:
            s = label.span
            out.append(f"  note: {label.message} at {s.file}:{s.line}:{s.col}")
        for note in d.notes:
            out.append(f"  note: {note}")
        if d.help:
            out.append(f"  {_BLUE + 'help' + _RESET if colour else 'help'}: {d.help}")
    return "\n".join(out) + ("\n" if out else "")


def _snippet(span: Span, text: str, colour: bool, redactions: Sequence[Span]) -> list[str]:
    lines = text.splitlines()
    if not 1 <= span.line <= len(lines):
        return []
    raw = _masked(lines[span.line - 1], span.line, redactions)
    if len(raw) > 160:
        return []
    line = safe_text(raw.replace("\t", " "))
    start = span.col - 1
    if span.end_line == span.line and span.end_col and span.end_col > span.col:
        width = span.end_col - span.col
    else:
        width = max(1, len(line.rstrip()) - start)
    gutter = str(span.line)
    pad = " " * len(gutter)
    caret = " " * start + "^" * max(1, min(width, max(1, len(line) - start)))
    if colour:
        caret = f"{_COLOURS['error']}{caret}{_RESET}"
    return [f" {pad} |", f" {gutter} | {line}", f" {pad} | {caret}"]


def format_short(diags: Sequence[Diagnostic], **_: object) -> str:
    """The parsable layout of yamllint: `file:line:col: severity code message [name]`."""
    rows = []
    for d in diags:
        where = f"{d.span.file}:{d.span.line}:{d.span.col}" if d.span else "-:0:0"
        rows.append(f"{where}: {d.severity.value} {d.code} {d.message} [{d.name}]")
    return "\n".join(rows) + ("\n" if rows else "")


def format_json(diags: Sequence[Diagnostic], *, status: str = "", **_: object) -> str:
    """`{"status": ..., "diagnostics": [...]}` like check-jsonschema's JSON reporter."""
    doc = {"status": status, "diagnostics": [d.to_dict() for d in diags]}
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _gh_escape(value: str, prop: bool = False) -> str:
    # GitHub's workflow-command escaping; properties also escape `:` and `,`.
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def format_github(diags: Sequence[Diagnostic], **_: object) -> str:
    """`::error file=...,line=...,col=...,title=CODE::message` workflow commands."""
    rows = []
    level = {"error": "error", "warning": "warning", "note": "notice"}
    for d in diags:
        props = []
        if d.span:
            props += [f"file={_gh_escape(d.span.file, True)}", f"line={d.span.line}", f"col={d.span.col}"]
            if d.span.end_line:
                props.append(f"endLine={d.span.end_line}")
        props.append(f"title={_gh_escape(f'{d.code} {d.name}', True)}")
        text = d.message + (f" (help: {d.help})" if d.help else "")
        rows.append(f"::{level[d.severity.value]} {','.join(props)}::{_gh_escape(text)}")
    return "\n".join(rows) + ("\n" if rows else "")


def format_sarif(diags: Sequence[Diagnostic], **_: object) -> str:
    """SARIF 2.1.0, one run, rules taken from the code registry."""
    used = sorted({d.code for d in diags})
    rules = [
        {
            "id": code,
            "name": CODES[code].name,
            "shortDescription": {"text": CODES[code].summary},
            "helpUri": f"https://charter.invalid/docs/diagnostics#{code.lower()}",
        }
        for code in used
    ]
    level = {"error": "error", "warning": "warning", "note": "note"}
    results = []
    for d in diags:
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": level[d.severity.value],
            "message": {"text": d.message + (f"\nhelp: {d.help}" if d.help else "")},
        }
        if d.span:
            region = {"startLine": d.span.line, "startColumn": d.span.col}
            if d.span.end_line:
                region["endLine"] = d.span.end_line
            if d.span.end_col:
                region["endColumn"] = d.span.end_col
            result["locations"] = [
                {"physicalLocation": {"artifactLocation": {"uri": d.span.file}, "region": region}}
            ]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "charter", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


FORMATTERS: dict[str, Callable[..., str]] = {
    "text": format_text,
    "short": format_short,
    "json": format_json,
    "github": format_github,
    "sarif": format_sarif,
}

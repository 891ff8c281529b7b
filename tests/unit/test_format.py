"""Formatters: every output goes through `Diagnostic.to_dict()` data, with the target's escaping."""

from __future__ import annotations

import json

from compiler.diagnostics import Span, make
from compiler.diagnostics.format import format_github, format_json, format_sarif, format_short, format_text

D = make("X301", "unknown data source `a,b:c%`", Span("specs/x y.yaml", 3, 5, 3, 8), pointer="/spec/source",
         help="did you mean `ab`?")
W = make("S222", "no analysis", Span("specs/r.yaml", 1, 1))


def test_text_has_position_snippet_and_help():
    out = format_text([D], {"specs/x y.yaml": "a\nb\nsrc: abc\n"})
    assert out.splitlines() == [
        "specs/x y.yaml:3:5: error[X301]: unknown data source `a,b:c%`",
        "   |",
        " 3 | src: abc",
        "   |     ^^^",
        "  help: did you mean `ab`?",
    ]


def test_text_colour_only_when_asked():
    assert "\x1b[" not in format_text([D])
    assert "\x1b[1;31m" in format_text([D], colour=True)


def test_short_is_parsable():
    assert format_short([D, W]).splitlines() == [
        "specs/x y.yaml:3:5: error X301 unknown data source `a,b:c%` [unknown-reference]",
        "specs/r.yaml:1:1: warning S222 no analysis [canary-without-analysis]",
    ]


def test_github_escapes_properties_and_message():
    line = format_github([D]).strip()
    assert line.startswith("::error file=specs/x y.yaml,line=3,col=5,endLine=3,title=X301 unknown-reference::")
    assert "a,b:c%25" in line  # message escapes % only; properties also escape , and :
    assert format_github([W]).startswith("::warning ")


def test_json_round_trips_to_dict():
    doc = json.loads(format_json([D], status="fail"))
    assert doc == {"status": "fail", "diagnostics": [D.to_dict()]}


def test_sarif_shape():
    doc = json.loads(format_sarif([D, W]))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["S222", "X301"]
    first = run["results"][0]
    assert first["ruleId"] == "X301" and first["level"] == "error"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "X301"
    region = first["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 8}


def test_messages_are_sanitised():
    d = make("S207", "`a\u202eb\x1b[2J` is bad", Span("f.yaml", 1, 1))
    assert d.message == "`a\\u202eb\\u001b[2J` is bad"

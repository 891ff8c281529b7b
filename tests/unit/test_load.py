"""The loader against hostile and unusual input: always a diagnostic, never a traceback."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from compiler.load import MAX_FILE_BYTES, decode, load_documents, load_source
from compiler.load.yaml import MAX_DEPTH, MAX_NODES


def load_text(text: str, path: str = "specs/x.yaml"):
    source, problem = decode(path, text.encode("utf-8"))
    assert problem is None
    return load_source(source)


def codes(diags) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in diags]


def test_billion_laughs_is_rejected_before_expansion():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    docs, diags = load_text("\n".join(lines))
    assert docs == []
    [(code, line, _)] = codes(diags)
    assert code == "L105"
    assert line <= 7  # stopped as soon as the budget ran out, not at the end
    assert str(MAX_NODES) in diags[0].message


def test_deep_flow_nesting_does_not_crash():
    # PyYAML's C composer segfaults on this; the event walk stops at MAX_DEPTH.
    docs, diags = load_text("[" * 100_000 + "]" * 100_000)
    assert codes(diags) == [("L104", 1, MAX_DEPTH + 1)]


def test_depth_limit_is_charters_whatever_libyaml_stops_at():
    """Charter's depth limit fires first, at the same place, whatever libyaml's own limit is.

    libyaml 0.2.6+ stops at 1,000 levels itself, after reading a flow collection that far
    ahead. Checked in a block mapping, in flow mappings, and past libyaml's own limit.
    """
    text = "a:\n  b: " + "{x: " * 2000 + "1" + "}" * 2000
    _, diags = load_text(text)
    # the root and `a` are two levels, so the 63rd `{` is the 65th level
    assert codes(diags) == [("L104", 2, 6 + 62 * 4)]
    for depth in (MAX_DEPTH + 1, 999, 1000, 1001, 5000):
        _, diags = load_text("[" * depth + "]" * depth)
        assert codes(diags) == [("L104", 1, MAX_DEPTH + 1)], depth
    _, diags = load_text("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert diags == []


def test_deep_block_nesting():
    text = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v"
    _, diags = load_text(text)
    assert [d.code for d in diags] == ["L104"]


def test_file_over_size_limit_is_not_read(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * (MAX_FILE_BYTES // 5 + 1))
    good = tmp_path / "good.yaml"
    good.write_text("a: [1\n")
    sources, docs, diags = load_documents([big, good], tmp_path)
    assert [(d.code, d.span.file) for d in diags] == [("L103", "big.yaml"), ("L101", "good.yaml")]


def test_unreadable_file_does_not_stop_the_others(tmp_path: Path):
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: 1\n")
    sources, docs, diags = load_documents([tmp_path / "dangling.yaml", ok], tmp_path)
    assert [d.code for d in diags] == ["L108"]
    assert [d.data for d in docs] == [{"a": 1}]


def test_yaml11_surprises_stay_strings():
    [doc], diags = load_text("a: no\nb: on\nc: 0777\nd: 1:20\ne: yes\nf: 1_000\ng: 0x1F\nh: .5\non: x\ntrue: y\n")
    assert diags == []
    assert doc.data == {"a": "no", "b": "on", "c": "0777", "d": "1:20", "e": "yes", "f": "1_000", "g": 31,
                        "h": 0.5, "on": "x", "true": "y"}


def test_core_schema_scalars():
    [doc], _ = load_text("a: true\nb: null\nc: ~\nd: -12\ne: 1e3\nf: 'true'\ng: !!str 12\nh:\n")
    assert doc.data == {"a": True, "b": None, "c": None, "d": -12, "e": 1000.0, "f": "true", "g": "12", "h": None}


def test_tabs_get_a_hint():
    _, diags = load_text("a:\n\tb: 1\n")
    assert codes(diags) == [("L101", 2, 1)]
    assert "tabs" in diags[0].help


def test_python_and_local_tags_are_rejected():
    for text in ("a: !!python/object/apply:os.system [ls]", "a: !custom x", "a: !!binary aGk=",
                 "!!python/name:os.system"):
        _, diags = load_text(text)
        assert [d.code for d in diags] == ["L106"], text


def test_long_integer_is_a_diagnostic():
    _, diags = load_text("a: " + "9" * 5000)
    assert codes(diags) == [("L110", 1, 4)]


def test_bad_keys():
    for text in ("[a]: 1", "? {a: 1}\n: 2", "x: &k key\n*k : 1"):
        _, diags = load_text(text)
        assert [d.code for d in diags] == ["L109"], text


def test_recursive_and_undefined_aliases():
    for text in ("a: &a [*a]", "a: *nope"):
        _, diags = load_text(text)
        assert [d.code for d in diags] == ["L101"], text


def test_duplicate_keys_all_reported_with_first_definition():
    _, diags = load_text("a: 1\nb: 2\na: 3\nb: 4\n")
    assert codes(diags) == [("L102", 3, 1), ("L102", 4, 1)]
    assert diags[0].labels[0].span.line == 1


def test_encodings():
    text = "a: é\n"
    for raw in (codecs.BOM_UTF8 + text.encode(), text.encode("utf-16"), codecs.BOM_UTF32_LE + text.encode("utf-32-le")):
        source, problem = decode("x.yaml", raw)
        assert problem is None and load_source(source)[0][0].data == {"a": "é"}
    source, problem = decode("x.yaml", "a: 1\nb: caf\xe9\n".encode("latin-1"))
    assert source is None and (problem.code, problem.span.line, problem.span.col) == ("L107", 2, 7)
    source, problem = decode("x.yaml", b"a: 1\x00")
    assert problem.code == "L107"


def test_control_characters_are_a_syntax_error():
    _, diags = load_text("a: \x07bell")
    assert [d.code for d in diags] == ["L101"]


def test_positions_of_keys_and_values():
    [doc], _ = load_text("spec:\n  rules:\n    - {rule: between, column: x}\n")
    assert doc.values["/spec/rules/0/column"] == (3, 31, 3, 32)
    assert doc.keys["/spec/rules/0/column"] == (3, 23, 3, 29)
    assert doc.span("/spec/rules/0/missing").line == 3  # falls back to the nearest ancestor


def test_multiple_documents_and_empty_ones():
    docs, diags = load_text("---\n---\na: 1\n---\nb: 2\n...\n")
    assert diags == [] and [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    _, diags = load_text("# nothing\n")
    assert [d.code for d in diags] == ["L111"]


def test_many_small_aliases_within_budget_are_fine():
    text = "base: &b {x: 1}\n" + "".join(f"k{i}: *b\n" for i in range(1000))
    [doc], diags = load_text(text)
    assert diags == [] and doc.data["k999"] == {"x": 1}


def test_unsafe_characters_never_reach_output(tmp_path: Path):
    from compiler.driver import validate_tree

    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "x.yaml").write_text(
        "apiVersion: charter/v1\nkind: DataSource\nmetadata: {name: \"abc\\u202edef\", description: \"\\e[31mred\"}\n"
        "spec: {format: csv, path: a.csv, schema: [{name: a, type: string}]}\n"
    )
    result = validate_tree(tmp_path)
    found = {d.code for d in result.diagnostics}
    assert {"S207", "S210"} <= found
    for d in result.diagnostics:
        assert "\u202e" not in d.message and "\x1b" not in d.message
    assert os.sep not in "".join(d.span.file for d in result.diagnostics if d.span) or os.sep == "/"


def test_suspect_prescan():
    from compiler.load import suspect

    assert not suspect("spec:\n  primary_key: [id]\n  keys: [a]\n")
    for text in ("url: postgresql://u:p@h/db", "password: x", "a: \"\\e[31m\"", "a: \u202e", "API_KEY: x",
                 "t: ghp_abcdefghijklmnopqrstuvwxyz0123456789"):
        assert suspect(text), text


def test_bytes_read_for_the_trees_hash_are_loaded_once(tmp_path):
    """`read_spec` (the tree's hash) hands its bytes to the next load of the file, and only to it."""
    from compiler.load import _READ, MAX_FILE_BYTES, forget_read, load_documents, read_spec

    spec = tmp_path / "m.yaml"
    spec.write_text("apiVersion: charter/v1\nkind: Model\nmetadata: {name: first}\n")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    forget_read()
    assert read_spec(spec).endswith(b"{name: first}\n") and read_spec(big)
    assert spec in _READ and big not in _READ  # over the limit: never kept
    spec.write_text("apiVersion: charter/v1\nkind: Model\nmetadata: {name: later}\n")
    _, docs, diags = load_documents([spec, big], tmp_path)
    assert docs[0].data["metadata"]["name"] == "first"  # the bytes the hash saw
    assert [d.code for d in diags] == ["L103"]
    _, docs, _ = load_documents([spec], tmp_path)
    assert docs[0].data["metadata"]["name"] == "later" and not _READ  # used once, then the disk

"""The generated docs are committed; they must equal what `python -m compiler.docgen` writes now."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compiler import docgen
from compiler.diagnostics.codes import CODES
from compiler.spec import KINDS
from tests.conftest import REPO


@pytest.mark.parametrize("path", sorted(docgen.documents()))
def test_generated_docs_are_up_to_date(path):
    text = docgen.documents()[path]
    committed = (REPO / path).read_text(encoding="utf-8") if (REPO / path).is_file() else None
    if committed != text:  # not `assert ==`: pytest would print a diff of the whole file
        pytest.fail(f"{path} is stale: run `python -m compiler.docgen` and commit the result", pytrace=False)


def test_output_is_deterministic():
    assert docgen.documents() == docgen.documents()
    # A fresh interpreter (another hash seed) gives the same bytes.
    code = "import sys, compiler.docgen as d; sys.stdout.write(d.spec_reference() + d.diagnostics_doc())"
    runs = {subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    assert len(runs) == 1 and runs == {docgen.spec_reference() + docgen.diagnostics_doc()}


def test_diagnostics_doc_lists_every_code_and_exit_code():
    doc = docgen.diagnostics_doc()
    for code, entry in CODES.items():
        assert f"| [{code}](#{code.lower()}) | `{entry.name}` | {entry.severity} |" in doc
        assert f'<a id="{code.lower()}"></a>\n\n### {code} {entry.name}\n' in doc
    assert "| 0 | `EXIT_OK` |" in doc and "| 1 | `EXIT_SPEC_ERRORS` |" in doc and "| 2 | `EXIT_USAGE` |" in doc
    # Explanation headings sit below the code's heading; YAML comments in examples are untouched.
    assert "\n#### What it does\n" in doc and "\n## What it does\n" not in doc


def test_spec_reference_covers_kinds_nested_models_and_rules():
    doc = docgen.spec_reference()
    for kind in (*KINDS, "Project"):
        assert f"\n## {kind}\n" in doc
    for section in ("### ColumnSchema", "### PrepareStep", "### Deduplicate", "### Strategy",
                    "### NotNull (`rule: not_null`)", "### Expression (`rule: expression`)"):
        assert f"\n{section}\n" in doc
    assert "| `format` | one of: csv, parquet, jsonl, json, sql, feast, spark | required |" in doc
    assert "| `exclude` | list\\[[column](#value-types)\\] | `[]` |" in doc
    assert "| `max_drop` | number (>= 0) | optional |" in doc
    assert "| `schema` | list\\[[ColumnSchema](#columnschema)\\] (length >= 1) | required |" in doc


def test_docgen_imports_no_runtime_library():
    code = ("import sys, compiler.docgen; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'sklearn', 'polars')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_writes_nothing_and_names_the_command(tmp_path, capsys):
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 1
    assert list(tmp_path.iterdir()) == []
    err = capsys.readouterr().err
    assert "docs/diagnostics.md" in err and "docs/spec-reference.md" in err and "python -m compiler.docgen" in err
    assert docgen.main(["--root", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["diagnostics.md", "spec-reference.md"]
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 0

"""The generated docs are committed; they must equal what the generator writes now."""

from __future__ import annotations

from compiler.docgen import documents
from tests.conftest import REPO


def test_generated_docs_are_up_to_date():
    for path, text in documents().items():
        committed = (REPO / path).read_text(encoding="utf-8") if (REPO / path).is_file() else None
        assert committed == text, f"{path} is stale: run `python -m compiler.docgen` and commit the result"


def test_every_kind_and_code_is_documented():
    docs = documents()
    for kind in ("DataSource", "ValidationSuite", "Model", "MetricSet", "Ownership", "RolloutPolicy", "Project"):
        assert f"\n## {kind}\n" in docs["docs/spec-reference.md"]
    assert "| `max_drop` | number (or null) |" in docs["docs/spec-reference.md"]
    assert "### X301" in docs["docs/diagnostics.md"] and "### L105" in docs["docs/diagnostics.md"]

"""Golden files: each renderer's output for the worked example, byte for byte.

`pytest --update-golden` rewrites `tests/golden/<target>/example/expected/`; review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.render import TARGETS, render_graph
from tests.conftest import REPO

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_golden_example(target: str, update_golden: bool):
    _, graph = compile_tree(REPO)
    bundle = render_graph(graph, [target], "generated")
    expected = GOLDEN / target / "example" / "expected"
    if update_golden:
        for path, text in bundle.files.items():
            (expected / path).parent.mkdir(parents=True, exist_ok=True)
            (expected / path).write_text(text, encoding="utf-8")
    on_disk = {p.relative_to(expected).as_posix(): p.read_text(encoding="utf-8")
               for p in expected.rglob("*") if p.is_file()}
    assert on_disk == bundle.files, "run `pytest --update-golden` and review the diff"


def test_rendering_is_deterministic():
    _, graph = compile_tree(REPO)
    assert render_graph(graph, sorted(TARGETS), "out").files == render_graph(graph, sorted(TARGETS), "out").files


def test_codeowners_is_what_github_matches():
    codeowners = pytest.importorskip("codeowners")
    _, graph = compile_tree(REPO)
    text = render_graph(graph, ["codeowners"], "generated").files[".github/CODEOWNERS"]
    owners = codeowners.CodeOwners(text)
    assert {o[1] for o in owners.of("specs/churn/model.yaml")} == {"@acme/ds", "@bob"}
    assert owners.of("README.md") == []


def test_compile_check_in_a_repository(example_repo):
    from tests.conftest import run_charter

    assert run_charter("compile", "--check", cwd=example_repo).returncode == 1  # nothing generated yet
    assert run_charter("compile", cwd=example_repo).returncode == 0
    assert run_charter("compile", "--check", cwd=example_repo).returncode == 0
    owners = example_repo / ".github/CODEOWNERS"
    owners.write_text(owners.read_text() + "/README.md @mallory\n")
    edited = run_charter("compile", "--check", cwd=example_repo)
    assert edited.returncode == 1 and ".github/CODEOWNERS: stale or edited by hand" in edited.stderr
    (example_repo / "generated/old.yaml").write_text("x: 1\n")
    assert "no longer generated" in run_charter("compile", "--check", cwd=example_repo).stderr
    # one target: the other targets' files are neither stale nor orphans
    (example_repo / "generated/old.yaml").unlink()
    one = run_charter("compile", "--check", "--target", "kubeflow", cwd=example_repo)
    assert one.returncode == 0 and not one.stderr, one.stderr
    assert "no longer generated" not in run_charter("compile", "--target", "kubeflow", cwd=example_repo).stderr


def test_docs_escape_spec_text(example_repo):
    from tests.conftest import run_charter

    model = example_repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace(
        "description: Predicts which customers cancel within the next month.",
        'description: "<script>alert(1)</script> [x](javascript:alert(1)) | *bold* `tick`"'))
    assert run_charter("compile", "--target", "docs", cwd=example_repo).returncode == 0
    page = (example_repo / "generated/docs/churn.md").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "[x](javascript" not in page and "\\[x\\]" in page
    assert "\\| \\*bold\\*" in page

"""`charter maturity` end to end: the real command in a temporary git repository, and docs/maturity.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from compiler.gitops.criteria import RULES
from tests.conftest import COMMITTED, EXAMPLE, REPO, copy_example, run_charter

DOC = REPO / "docs" / "maturity.md"
BLOCK = re.compile(r"(<!-- BEGIN charter maturity -->\n```console\n\$ charter maturity\n)(.*?)(```\n<!-- END)", re.S)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The example with its lock and generated files, committed in a fresh repository."""
    root = copy_example(tmp_path_factory.mktemp("e2e") / "repo", EXAMPLE + COMMITTED)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], cwd=root, check=True)
    return root


def test_the_docs_show_the_real_report_of_the_example(repo, update_golden):
    result = run_charter("maturity", cwd=repo)
    assert result.returncode == 0, result.stderr
    text = DOC.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "docs/maturity.md lost its `charter maturity` block"
    if update_golden:
        DOC.write_text(text[:match.start(2)] + result.stdout + text[match.end(2):], encoding="utf-8")
    else:
        assert match.group(2) == result.stdout, \
            "docs/maturity.md shows another report: run `pytest tests/acceptance/test_maturity.py --update-golden`"
    for rule in RULES:  # the criteria table names every criterion
        assert f"| `{rule.id}` | {rule.level} |" in text


def test_json_markdown_and_one_model(repo):
    result = run_charter("maturity", "delivery-time", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    (model,) = doc["models"]
    assert (model["model"], model["level"]) == ("delivery-time", 1)
    assert [c["id"] for c in model["criteria"] if not c["met"]] == ["retraining", "progressive-delivery", "rollback"]
    md = run_charter("maturity", "--format", "markdown", cwd=repo)
    assert md.returncode == 0 and md.stdout.startswith("# MLOps maturity\n")
    assert "## churn: level 1, automated training pipeline" in md.stdout
    assert "| ✅ | 1 | data validation rules | `specs/churn/data.yaml`: ValidationSuite customers-quality" in md.stdout


def test_an_unknown_model_is_a_usage_error_with_a_suggestion(repo):
    result = run_charter("maturity", "chrun", cwd=repo)
    assert result.returncode == 2
    assert result.stderr == "charter: error: no Model named `chrun`\n  help: did you mean `churn`?\n"
    assert result.stdout == ""


def test_specs_that_do_not_compile_exit_1_without_a_traceback(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    model = root / "specs/churn/model.yaml"
    model.write_text(model.read_text(encoding="utf-8").replace("source: customers", "source: custmers"),
                     encoding="utf-8")
    result = run_charter("maturity", cwd=root)
    assert result.returncode == 1
    assert "X301" in result.stderr and "no level can be judged" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_reads_without_the_runtime_libraries(repo):
    code = ("import sys; from compiler.cli import main; code = main(['maturity', '--root', sys.argv[1]]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'sklearn', 'polars', 'numpy')), "
            "code, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, cwd=REPO)
    assert result.stderr.strip() == "[] 0"

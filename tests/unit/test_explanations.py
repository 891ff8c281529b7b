"""Every diagnostic code has an explanation in Ruff's template, and `charter explain` prints it."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from compiler.diagnostics.codes import CODES, explanation
from tests.conftest import REPO, run_charter

HEADINGS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead"]
_HEADING = re.compile(r"^#+ .*$", re.M)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def _files() -> dict[str, str]:
    folder = resources.files("compiler.diagnostics.explain")
    return {p.name[:-3]: p.read_text("utf-8") for p in folder.iterdir() if p.name.endswith(".md")}


def _section(text: str, heading: str) -> str:
    start = text.index(heading) + len(heading)
    following = [text.find(h, start) for h in HEADINGS if text.find(h, start) != -1]
    return text[start:min(following, default=len(text))]


@pytest.mark.parametrize("code", sorted(CODES))
def test_explanation_follows_the_template(code):
    text = explanation(code)
    # Exactly the four headings, in order, and no others (fences hold no `#` lines at column 0
    # except YAML comments, so headings are looked for outside them).
    outside = _FENCE.sub("", text)
    assert _HEADING.findall(outside) == HEADINGS, f"{code}: headings must be exactly {HEADINGS}, in order"
    for heading in ("## Example", "## Use instead"):
        blocks = [lang for lang, _ in _FENCE.findall(_section(text, heading))]
        assert "yaml" in blocks, f"{code}: `{heading}` needs a ```yaml block"
    assert 10 <= len(text.splitlines()) <= 30, f"{code}: keep the explanation short"


@pytest.mark.parametrize("code", sorted(CODES))
def test_yaml_blocks_parse(code):
    for lang, body in _FENCE.findall(explanation(code)):
        if lang == "yaml":
            try:
                list(yaml.safe_load_all(body))
            except yaml.YAMLError as exc:
                pytest.fail(f"{code}: a ```yaml block does not parse with PyYAML:\n{body}\n{exc}")


def test_every_code_has_an_explanation_and_no_other():
    files = _files()
    assert sorted(set(CODES) - set(files)) == [], "codes without compiler/diagnostics/explain/CODE.md"
    assert sorted(set(files) - set(CODES)) == [], "explanations of codes that are not in the registry"


def test_explain_prints_the_explanation():
    ok = run_charter("explain", "X301", cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("X301 (unknown-reference, error): ")
    assert explanation("X301") in ok.stdout
    assert ok.stderr == ""


def test_explain_accepts_names_and_lower_case():
    assert run_charter("explain", "x301", cwd=REPO).stdout.startswith("X301 ")
    by_name = run_charter("explain", "duplicate-key", cwd=REPO)
    assert by_name.returncode == 0 and by_name.stdout.startswith("L102 (duplicate-key, error)")


def test_explain_unknown_code_is_a_usage_error():
    bad = run_charter("explain", "X999", cwd=REPO)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "unknown code `X999`" in bad.stderr and "Traceback" not in bad.stderr

"""The shared YAML writer: what it writes, a YAML 1.2 reader reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.render.common import dump_yaml, step_argv
from tests.targets.external import load_yaml_all

TRICKY = ["y", "N", "0o17", "0x1F", ".NaN", "-.inf", "1e3", "1.10", "0123", "yes", "on", "off", "null", "~", "",
          "a\n: b", "x: y", "${{ github.event.pull_request.title }}", "'''", '"""', "back\\slash",
          "trail  \n", "- x", "# c", "a #b", "*alias", "&anchor", "!tag", "%dir", "@at", "`tick`",
          "{{workflow.name}}", "$(rm -rf /)", "\u2028line", "tab\there", "\x85nel"]


def test_tricky_strings_round_trip_as_strings_under_yaml_1_2():
    doc = {"on": {"push": None}, "values": TRICKY}
    assert load_yaml_all(dump_yaml(doc)) == [doc]


def test_no_anchors_for_shared_objects():
    shared = {"a": [1, 2]}
    text = dump_yaml({"x": shared, "y": shared})
    assert "&" not in text and "*" not in text


def test_documents_are_separated():
    assert load_yaml_all(dump_yaml({"a": 1}, {"b": 2})) == [{"a": 1}, {"b": 2}]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40) | st.integers() | st.booleans(),
                       max_size=5))
def test_any_mapping_round_trips(doc):
    assert load_yaml_all(dump_yaml({"doc": doc})) == [{"doc": doc}]


def test_step_command():
    assert step_argv("churn", "train") == ["charter", "run", "churn", "--step", "train"]
    assert step_argv("q", "", check=True) == ["charter", "check-data", "q"]


def test_sunday_is_written_as_zero_for_argo_and_github():
    from compiler.render.argo import cron as argo_cron
    from compiler.render.common import sunday_as_zero
    from compiler.render.github import cron as github_cron

    assert sunday_as_zero("0 6 * * 7") == "0 6 * * 0"
    assert sunday_as_zero("0 6 * * 5-7") == "0 6 * * 0,5,6"
    assert sunday_as_zero("0 6 * * 1-5") == "0 6 * * 1-5"
    assert github_cron("0  6 * * 7") == argo_cron("0 6 * * 7") == "0 6 * * 0"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5), min_size=1, max_size=3))
def test_the_direct_path_writes_exactly_what_pyyaml_writes(docs):
    from compiler.render import common

    assert common.dump_yaml(*docs) == common._pyyaml(*docs)


indicators = st.text(alphabet=st.sampled_from(list(" -?:#,[]{}&*!|>'\"%@`.~=ab0\xa0\u00e9")), max_size=8)


@settings(max_examples=2000, deadline=None)
@given(indicators | st.text(max_size=10))
def test_the_plain_test_agrees_with_pyyaml_analysis(value):
    """`_choose` without PyYAML's character loop picks the style the loop's analysis picks."""
    from compiler.render import common

    if "\n" in value or not common._SIMPLE_CHARS.match(value) or common._WORDS.match(value):
        return  # the other branches of `_choose`
    analysis = common._EMITTER.analyze_scalar(value)
    implicit = common._RESOLVER.resolve(common.yaml.ScalarNode, value, (True, False)) == common._STR
    expected = "plain" if implicit and not analysis.empty and analysis.allow_block_plain else \
        "single" if analysis.allow_single_quoted else "other"
    assert common._choose(value) == expected


multiline = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
                     min_size=2, max_size=5).map("\n".join)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), multiline | st.lists(multiline, max_size=3)
                       | st.dictionaries(st.text(max_size=4), multiline, max_size=2), min_size=1, max_size=4))
def test_multi_line_strings_are_written_as_pyyaml_writes_them(doc):
    """Literal blocks (`|`, `|-`) on the direct path; the rest (`|2-`, `|+`, quoted) through PyYAML."""
    from compiler.render import common

    assert common.dump_yaml(doc) == common._pyyaml(doc)


def test_no_generated_document_falls_back_to_pyyaml(monkeypatch):
    """The shell scripts of the CI targets (multi-line strings) take the direct path too."""
    from compiler.driver import compile_tree
    from compiler.render import common, render_graph
    from compiler.render.registry import TARGETS
    from tests.conftest import REPO

    _, graph = compile_tree(REPO)
    fallbacks: list[object] = []
    pyyaml = common._pyyaml
    monkeypatch.setattr(common, "_pyyaml", lambda *docs: fallbacks.append(docs) or pyyaml(*docs))
    render_graph(graph, sorted(TARGETS), "generated")
    assert fallbacks == []


def test_every_target_takes_the_direct_path_with_the_same_bytes(monkeypatch):
    from compiler.driver import compile_tree
    from compiler.render import common, render_graph
    from compiler.render.registry import TARGETS
    from tests.conftest import REPO

    _, graph = compile_tree(REPO)
    fast = render_graph(graph, sorted(TARGETS), "generated").files
    monkeypatch.setattr(common, "_fast", lambda doc: (_ for _ in ()).throw(common._Fallback()))
    assert render_graph(graph, sorted(TARGETS), "generated").files == fast


def test_push_job_runs_affected_models_or_all_of_them(tmp_path):
    import subprocess

    from compiler.render.common import RUN_AFFECTED

    stub = 'charter() { echo "charter $*"; }\n'
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], cwd=tmp_path, check=True)

    def run(before: str) -> str:
        return subprocess.run(["bash", "-c", stub + f'BEFORE="{before}"\n' + RUN_AFFECTED], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    assert run("0" * 40) == "charter run --all"  # the first push: no commit before it
    first = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "second"], cwd=tmp_path, check=True)
    assert run(first) == f"charter run --affected --base {first}"
    assert run("0" * 40) == f"charter run --affected --base {first}"  # unknown: the previous commit


def test_shared_store_is_refused_unless_a_plain_url(example_repo):
    """Validation rejects a `shared_store` that is not a plain URL; renderers refuse one too.

    It reaches GitHub and Argo expressions, GitLab variables and Jinja as plain text.
    """
    import json
    from dataclasses import replace

    from compiler.driver import compile_tree
    from compiler.render import TARGETS, render_graph
    from compiler.render.common import shared_store
    from tests.conftest import run_charter

    config = example_repo / "charter.yaml"
    text = config.read_text()
    line = "  shared_store: s3://acme-ml-artifacts/charter\n"
    assert line in text
    for bad in ("s3://b/${{ github.token }}", "s3://b/x'y", "gs://b/{{x}}", "s3://b/$(rm)", "/mnt/shared",
                "s3://b/a b", "s3://b/\\x"):
        config.write_text(text.replace(line, f"  shared_store: {json.dumps(bad)}\n"))
        result = run_charter("validate", cwd=example_repo)
        assert result.returncode == 1 and "shared_store" in result.stdout, (bad, result.stdout)
    config.write_text(text)
    _, graph = compile_tree(example_repo)
    for bad in ("s3://b/${{ github.token }}", "s3://b/x'y"):
        hostile = replace(graph, project={**graph.project, "shared_store": bad})
        with pytest.raises(ValueError, match="refusing shared_store"):
            shared_store(hostile.project)
        for target in ("github", "gitlab", "argo", "airflow", "kubeflow", "kubernetes"):
            assert target in TARGETS
            with pytest.raises(ValueError, match="refusing shared_store"):
                render_graph(hostile, [target], "generated")

"""The IR: structure, determinism, round trips and what each spec change invalidates."""

from __future__ import annotations

import random
import shutil
from graphlib import CycleError
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.driver import compile_tree
from compiler.ir import PipelineGraph, Step
from compiler.ir.graph import STEP_KINDS, order_steps
from tests.conftest import REPO


def _copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "charter.yaml", root)
    shutil.copytree(REPO / "specs", root / "specs")
    return root


def _graph(root: Path) -> PipelineGraph:
    result, graph = compile_tree(root)
    assert graph is not None, [d.to_dict() for d in result.diagnostics]
    return graph


def _hashes(graph: PipelineGraph, model: str) -> dict[str, str]:
    return {s.name: s.hash for s in graph.model(model).steps}


def test_example_builds_two_models_in_step_order():
    graph = _graph(REPO)
    assert [m.name for m in graph.models] == ["churn", "delivery-time"]
    for m in graph.models:
        assert tuple(s.name for s in m.steps) == STEP_KINDS
        seen: set[str] = set()
        for s in m.steps:
            assert set(s.needs) <= seen
            seen.add(s.id)
    churn = graph.model("churn")
    assert churn.step("train").params["categorical"] == ["contract", "region"]
    assert churn.rollouts[0]["environments"][1]["approvers"] == ["@carol"]
    assert graph.files["Model/churn"] == {"kind": "Model", "name": "churn", "file": "specs/churn/model.yaml",
                                          "owners": ["@acme/ds", "@bob"]}
    delivery = graph.model("delivery-time")
    assert "courier_tenure" in delivery.step("train").params["features"]  # after the suite's rename
    assert delivery.step("train").params["temporal"] == ["created_at"]


def test_json_round_trip_and_determinism():
    graph = _graph(REPO)
    text = graph.to_json()
    assert PipelineGraph.from_json(text) == graph
    assert _graph(REPO).to_json() == text


def test_unsupported_ir_version_is_refused():
    text = _graph(REPO).to_json().replace('"ir_version": 1', '"ir_version": 99')
    with pytest.raises(ValueError, match="IR version 99"):
        PipelineGraph.from_json(text)


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("rel", "old", "new", "changed_from"),
    [
        ("specs/churn/model.yaml", "learning_rate: 0.1", "learning_rate: 0.05", "train"),
        ("specs/churn/model.yaml", "seed: 42", "seed: 43", "split"),
        ("specs/churn/data.yaml", "{rule: row_count, min: 100}", "{rule: row_count, min: 50}", "validate"),
        ("specs/churn/data.yaml", "keep: last", "keep: first", "prepare"),
        ("specs/churn/data.yaml", "path: specs/data/customers.csv", "path: specs/data/customers2.csv", "ingest"),
        ("specs/churn/model.yaml", "{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.75}", "gate"),
        ("specs/churn/model.yaml", '"tenure_months < 6"', '"tenure_months < 7"', "evaluate"),
        ("specs/churn/model.yaml", "description: Predicts which", "description: Guesses which", None),
    ],
)
def test_a_change_invalidates_exactly_its_step_and_downstream(tmp_path, rel, old, new, changed_from):
    root = _copy_example(tmp_path)
    before = _hashes(_graph(root), "churn")
    _edit(root, rel, old, new)
    after = _hashes(_graph(root), "churn")
    changed = {name for name in STEP_KINDS if before[name] != after[name]}
    if changed_from is None:
        assert changed == set()
        return
    start = STEP_KINDS.index(changed_from)
    downstream = set(STEP_KINDS[start:])
    if changed_from == "evaluate":
        downstream = {"evaluate", "gate", "package"}
    elif changed_from == "gate":
        downstream = {"gate", "package"}
    assert changed == downstream
    assert _hashes(_graph(root), "delivery-time") == _hashes(_graph(REPO), "delivery-time")


def test_cycles_are_detected():
    a = Step("m/a", "m", "a", ("m/b",), (), (), {})
    b = Step("m/b", "m", "b", ("m/a",), (), (), {})
    with pytest.raises(CycleError):
        order_steps([a, b])


@settings(max_examples=100)
@given(st.integers(2, 12), st.randoms(use_true_random=False))
def test_topological_order_respects_edges_and_is_stable(n, rnd: random.Random):
    ids = [f"m/s{i:02d}" for i in range(n)]
    steps = [Step(i, "m", i, tuple(sorted(rnd.sample(ids[:k], rnd.randint(0, k)))), (), (), {})
             for k, i in enumerate(ids)]
    ordered = order_steps(steps)
    position = {s.id: k for k, s in enumerate(ordered)}
    for s in steps:
        assert all(position[d] < position[s.id] for d in s.needs)
    shuffled = list(steps)
    rnd.shuffle(shuffled)
    assert order_steps(shuffled) == ordered


def test_data_checks_share_hashes_with_model_data_steps():
    graph = _graph(REPO)
    assert [c.name for c in graph.checks] == ["customers-quality", "deliveries-quality"]
    check = graph.check("customers")
    assert check is graph.check("customers-quality")
    churn = graph.model("churn")
    assert [s.hash for s in check.steps] == [churn.step(n).hash for n in ("ingest", "prepare", "validate")]
    assert graph.check("nope") is None


def test_ir_json_is_the_standard_librarys_pretty_json():
    import json

    from compiler.driver import compile_tree
    from tests.conftest import REPO

    _, graph = compile_tree(REPO)
    assert graph.to_json() == json.dumps(graph.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_pod_settings_change_the_rendered_pipelines_but_no_step_or_run_key(tmp_path):
    """`compute` says where a step runs, not what it computes: no hash, run key or cache entry moves."""
    from compiler.execute.runner import Runner
    from compiler.render import render_graph

    root = _copy_example(tmp_path)
    before = _graph(root)
    model = root / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("timeout: 1h", "timeout: 3h\n        retries: {limit: 5}")
                     .replace("limits: {cpu: \"2\", memory: 2Gi}", "limits: {cpu: \"4\", memory: 4Gi}, gpus: 1"))
    config = root / "charter.yaml"
    config.write_text(config.read_text().replace("requests: {cpu: 250m, memory: 512Mi}", "requests: {cpu: 500m}")
                      .replace("service_account: charter-pipelines", "service_account: other"))
    after = _graph(root)
    assert after.model("churn").compute != before.model("churn").compute
    assert after.model("churn").compute["train"]["resources"]["gpus"] == 1
    for name in ("churn", "delivery-time"):
        assert _hashes(after, name) == _hashes(before, name)
        keys = [Runner(g, root, store=str(tmp_path / "store")).run_keys(g.model(name)) for g in (before, after)]
        assert keys[0] == keys[1]
    targets = ["argo", "kubeflow", "airflow", "kubernetes"]
    old, new = (render_graph(g, targets, "generated").files for g in (before, after))
    changed = {path for path in new if old.get(path) != new[path]}
    assert {"generated/argo/churn.yaml", "generated/kubeflow/churn.yaml", "generated/airflow/charter_churn.py",
            "generated/argo/delivery-time.yaml"} <= changed  # charter.yaml's defaults reach every model


@pytest.mark.parametrize("tree", ["example", "generated"])
def test_parts_of_indexed_documents_dump_as_the_models_themselves(tree: str, tmp_path: Path, monkeypatch) -> None:
    """`ir.build._dump` takes a nested model's dump from its document's: the same IR as dumping each alone."""
    import compiler.ir.build as build
    from tests.unit.test_bench_specs import _generator

    if tree == "example":
        root = REPO
    else:
        _generator().generate(tmp_path, 150, 3)
        root = tmp_path
    result, indexed = compile_tree(root)
    assert indexed is not None
    monkeypatch.setattr(build, "_indexed", lambda document: None)  # every model dumped on its own
    alone = build.build_graph(result.specset, result.settings.project)
    assert indexed.to_json() == alone.to_json()
    assert not build._DUMPS.parts and not build._DUMPS.raci  # nothing kept after a build

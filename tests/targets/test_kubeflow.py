"""Target `kubeflow`: pipelines compiled by the kfp SDK, read back by KFP's own protobuf
schema (PipelineSpec), so a field KFP does not know fails the test."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import pytest

from compiler.driver import compile_tree
from compiler.render import render_graph
from compiler.render.common import TargetUnavailable
from tests.conftest import REPO, run_charter
from tests.targets.external import load_yaml_all

kfp = pytest.importorskip("kfp", reason="the kubeflow target needs the kfp SDK (in the dev extra)")

EVIL = "{{$.inputs.parameters['x']}} ${{ github.event.pull_request.title }}\n: evil '''\"q\" \\ $(rm -rf /)\r\u2028# x"


def example(graph=None) -> dict[str, str]:
    if graph is None:
        _, graph = compile_tree(REPO)
    return render_graph(graph, ["kubeflow"], "generated").files


def pipeline_spec(text: str):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    [doc] = load_yaml_all(text)
    return doc, json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec())  # unknown fields raise


def test_kfp_reads_every_file_back_and_tasks_follow_the_ir():
    _, graph = compile_tree(REPO)
    files = example(graph)
    for model in graph.models:
        doc, spec = pipeline_spec(files[f"generated/kubeflow/{model.name}.yaml"])
        assert spec.pipeline_info.name == f"charter-{model.name}"
        tasks = doc["root"]["dag"]["tasks"]
        assert sorted(tasks) == sorted(s.name for s in model.steps)
        for step in model.steps:
            task = tasks[step.name]
            assert sorted(task.get("dependentTasks", [])) == sorted(n.split("/", 1)[1] for n in step.needs)
            assert task["cachingOptions"] == {}  # KFP's cache off: charter caches by content
            container = doc["deploymentSpec"]["executors"][f"exec-{step.name}"]["container"]
            assert container["command"] + container["args"] == ["charter", "run", model.name, "--step", step.name]
            assert container["image"] == graph.project["image"]
    doc, _ = pipeline_spec(files["generated/kubeflow/_checks.yaml"])
    assert {t["taskInfo"]["name"] for t in doc["root"]["dag"]["tasks"].values()} == {
        f"check-{c.name}" for c in graph.checks}


def test_hostile_description_is_data_only(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    model.write_text(model.read_text().replace(old, "description: " + json.dumps(EVIL.replace("\r", "").replace(
        "\u2028", ""))))  # validation rejects CR and LS (S210): put them in past validation below
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    churn = replace(graph.model("churn"), description=EVIL)
    graph = replace(graph, models=tuple(churn if m.name == "churn" else m for m in graph.models))
    text = example(graph)["generated/kubeflow/churn.yaml"]
    doc, spec = pipeline_spec(text)
    assert spec.pipeline_info.description == EVIL.replace("\r", " ").replace("\u2028", " ")
    assert set(doc) == {"components", "deploymentSpec", "pipelineInfo", "root", "schemaVersion", "sdkVersion"}
    for executor in doc["deploymentSpec"]["executors"].values():  # no placeholder reached a command
        assert "{{" not in json.dumps(executor)


def test_without_kfp_the_target_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kfp", None)
    _, graph = compile_tree(REPO)
    with pytest.raises(TargetUnavailable, match=r"pip install 'charter\[kubeflow\]'"):
        render_graph(graph, ["kubeflow"], "generated")


def test_deterministic():
    assert example() == example()


def test_libyaml_writes_the_same_bytes_as_kfps_own_writer(monkeypatch):
    from compiler.render import kubeflow

    fast = example()
    monkeypatch.setattr(kubeflow, "FAST", False)
    assert example() == fast

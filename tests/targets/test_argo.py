"""Target `argo`: WorkflowTemplates and CronWorkflows, checked against Argo's own schema
(tightened to reject unknown fields, as ../shared/TARGETS.md describes) and by the
references a schema cannot check."""

from __future__ import annotations

import json
from dataclasses import replace
from graphlib import TopologicalSorter

from compiler.driver import compile_tree
from compiler.render import render_graph
from compiler.render.argo import render
from tests.conftest import REPO, run_charter
from tests.targets.external import errors, load_yaml_all, strict_argo

GOLDEN = REPO / "tests" / "golden" / "argo" / "example" / "expected"
EVIL = "{{workflow.name}} ${{ github.event.pull_request.title }}\n: evil '''\"q\" \\ $(rm -rf /) {{=sprig.env('X')}}"


def example() -> dict[str, str]:
    _, graph = compile_tree(REPO)
    return render_graph(graph, ["argo"], "generated").files


def docs_of(files):
    return [(p, d) for p, t in files.items() for d in load_yaml_all(t)]


def test_golden_example(update_golden: bool):
    files = example()
    if update_golden:
        for path, text in files.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_text(text, encoding="utf-8")
    on_disk = {p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8") for p in GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == files, "run `pytest --update-golden` and review the diff"


def test_every_document_matches_argos_strict_schema():
    kinds = set()
    for path, doc in docs_of(example()):
        assert doc["apiVersion"] == "argoproj.io/v1alpha1"
        kinds.add(doc["kind"])
        assert errors(doc, strict_argo(doc["kind"])) == [], path
    assert kinds == {"WorkflowTemplate", "CronWorkflow"}


def test_tasks_are_the_ir_steps_and_dependencies_are_real():
    _, graph = compile_tree(REPO)
    for model in graph.models:
        [template, *_] = load_yaml_all(render(graph, "generated")[f"generated/argo/{model.name}.yaml"])
        templates = {t["name"]: t for t in template["spec"]["templates"]}
        tasks = templates[template["spec"]["entrypoint"]]["dag"]["tasks"]
        assert [t["name"] for t in tasks] == [s.name for s in model.steps]
        names = {t["name"] for t in tasks}
        order = {}
        for t in tasks:
            deps = [d.removesuffix(".Succeeded") for d in t.get("depends", "").split(" && ") if d]
            assert set(deps) <= names and t["template"] in templates
            order[t["name"]] = deps
        list(TopologicalSorter(order).static_order())  # acyclic
        for step in model.steps:
            container = templates[step.name]["container"]
            assert container["command"] + container["args"] == ["charter", "run", model.name, "--step", step.name]
            assert container["workingDir"] == "/workspace"
        assert "retryStrategy" in templates["ingest"] and "retryStrategy" not in templates["train"]


def test_monitoring_cron_and_local_store_volume():
    docs = dict((d["kind"], d) for _, d in docs_of({k: v for k, v in example().items() if k.endswith("churn.yaml")}))
    cron = docs["CronWorkflow"]["spec"]
    assert cron["schedules"] == ["0 6 * * *"] and cron["concurrencyPolicy"] == "Forbid" and cron["timezone"] == "UTC"
    assert cron["workflowSpec"]["templates"][0]["container"]["args"] == ["monitor", "churn", "--data", "customers"]
    spec = docs["WorkflowTemplate"]["spec"]
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "charter-store"  # a local store is shared
    _, graph = compile_tree(REPO)
    remote = replace(graph, project={**graph.project, "artifact_store": "s3://bucket/charter"})
    [template, _] = load_yaml_all(render(remote, "generated")["generated/argo/churn.yaml"])
    assert "volumeClaimTemplates" not in template["spec"]
    assert all("env" not in t.get("container", {}) for t in template["spec"]["templates"])


def test_hostile_description_cannot_become_an_argo_expression(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    model.write_text(model.read_text().replace(old, "description: " + json.dumps(EVIL)))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    files = render(graph, "generated")
    for path, doc in docs_of(files):
        assert errors(doc, strict_argo(doc["kind"])) == [], path
        assert "{{" not in json.dumps(doc)  # nothing for Argo to expand, anywhere
        if doc["metadata"]["labels"]["charter.dev/model"] == "churn":
            note = doc["metadata"]["annotations"]["workflows.argoproj.io/description"]
            assert note == EVIL.replace("{{", "{ {").replace("}}", "} }")


def test_deterministic():
    assert example() == example()

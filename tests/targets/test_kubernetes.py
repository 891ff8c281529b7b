"""Target `kubernetes`: KServe, Argo Rollouts, Istio mirroring and kustomizations, checked
against the official schemas in ../shared and by cross-object checks a schema cannot do."""

from __future__ import annotations

import json
from dataclasses import replace

from compiler.driver import compile_tree
from compiler.render import render_graph
from compiler.render.kubernetes import render
from tests.conftest import REPO, run_charter
from tests.targets.external import errors, load_yaml_all, schema

SCHEMAS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve-v0.20.0-inferenceservice_v1beta1.json",
    ("argoproj.io/v1alpha1", "Rollout"): "argo-rollouts-rollout_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "argo-rollouts-analysistemplate_v1alpha1.json",
    ("v1", "Service"): "kubernetes-v1.36.0-standalone-strict/service-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"):
        "kubernetes-v1.36.0-standalone-strict/horizontalpodautoscaler-autoscaling-v2.json",
}
OTHER = {("networking.istio.io/v1", "VirtualService"), ("kustomize.config.k8s.io/v1beta1", "Kustomization")}
EVIL = "${{ github.event.pull_request.title }}\n: evil '''\"q\" \\ $(rm -rf /) {{workflow.name}}"


def example(versions=None) -> dict[str, str]:
    _, graph = compile_tree(REPO)
    return render_graph(graph, ["kubernetes"], "generated", versions).files


def docs_of(files: dict[str, str]) -> list[tuple[str, dict]]:
    return [(path, doc) for path, text in files.items() for doc in load_yaml_all(text)]


def test_every_manifest_matches_its_official_schema():
    seen = set()
    for path, doc in docs_of(example()):
        key = (doc["apiVersion"], doc["kind"])
        seen.add(key)
        if key in OTHER:
            continue
        assert key in SCHEMAS, (path, key)
        assert errors(doc, schema(SCHEMAS[key])) == [], (path, key)
    assert seen == set(SCHEMAS) | OTHER  # the example exercises every kind


def test_cross_object_references():
    for env in ("staging", "production"):
        files = {p: t for p, t in example().items() if f"/kubernetes/{env}/" in p}
        docs = [d for _, d in docs_of(files)]
        kustomization = next(d for d in docs if d["kind"] == "Kustomization")
        folder = f"generated/kubernetes/{env}/"
        assert sorted(folder + r for r in kustomization["resources"]) == sorted(p for p in files if not p.endswith(
            "kustomization.yaml"))
        names = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "Kustomization"}
        for d in docs:
            if d["kind"] == "Rollout" and "blueGreen" in d["spec"]["strategy"]:
                blue = d["spec"]["strategy"]["blueGreen"]
                assert ("Service", blue["activeService"]) in names and ("Service", blue["previewService"]) in names
                for t in blue.get("prePromotionAnalysis", {}).get("templates", []):
                    assert ("AnalysisTemplate", t["templateName"]) in names
                assert "replicas" not in d["spec"]
            elif d["kind"] == "Rollout":
                strategy = d["spec"]["strategy"]["canary"]
                for t in strategy["analysis"]["templates"]:
                    assert ("AnalysisTemplate", t["templateName"]) in names
                assert ("Service", strategy["stableService"]) in names and ("Service", strategy["canaryService"]) in names
                weights = [s["setWeight"] for s in strategy["steps"] if "setWeight" in s]
                assert weights == sorted(set(weights)) and weights[-1] == 100
                assert "replicas" not in d["spec"]  # the HPA owns scaling
                hpa = next(x for x in docs if x["kind"] == "HorizontalPodAutoscaler" and
                           x["metadata"]["name"] == d["metadata"]["name"])
                assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"
            if d["kind"] == "InferenceService":
                assert "replicas" not in json.dumps(d["spec"]).replace("Replicas", "")


def test_canary_steps_and_analysis_follow_the_rollout_policy():
    churn = dict(docs_of({p: t for p, t in example().items() if p.endswith("production/churn.yaml")}))
    docs = [d for _, d in docs_of({p: t for p, t in example().items() if p.endswith("production/churn.yaml")})]
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    assert rollout["spec"]["strategy"]["canary"]["steps"] == [
        {"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 50}, {"pause": {"duration": "2h"}},
        {"setWeight": 100}]
    assert "dryRun" not in rollout["spec"]["strategy"]["canary"]["analysis"]  # on_failure: rollback aborts
    template = next(d for d in docs if d["kind"] == "AnalysisTemplate")
    job = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["charter"] and job["args"] == ["monitor", "churn", "--data", "customers"]
    assert churn


def test_pause_on_failure_is_a_dry_run_with_manual_steps(example_repo):
    rollout = example_repo / "specs/churn/rollout.yaml"
    text = rollout.read_text()
    assert "on_failure: rollback" in text
    rollout.write_text(text.replace("on_failure: rollback", "on_failure: pause"))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    text = render(graph, "generated")["generated/kubernetes/production/churn.yaml"]
    rollout_doc = next(d for d in load_yaml_all(text) if d["kind"] == "Rollout")
    canary = rollout_doc["spec"]["strategy"]["canary"]
    assert canary["analysis"]["dryRun"] == [{"metricName": "gates"}]
    assert canary["steps"].count({"pause": {}}) == 2


def test_storage_uri_serves_the_locked_version():
    files = example({"churn": "d4d4e59a9c68"})
    docs = [d for _, d in docs_of(files)]
    isvc = next(d for d in docs if d["kind"] == "InferenceService" and d["metadata"]["name"] == "churn-shadow")
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == ".charter/artifacts/models/churn/d4d4e59a9c68"
    assert isvc["spec"]["predictor"]["minReplicas"] == 2 and isvc["spec"]["predictor"]["maxReplicas"] == 10


def test_hostile_values_stay_inert(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    model.write_text(model.read_text().replace(old, "description: " + json.dumps(EVIL)))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    graph = replace(graph, project={**graph.project, "artifact_store": "s3://b/" + EVIL})  # past validation
    files = render(graph, "generated")
    for path, doc in docs_of(files):
        if doc["kind"] == "Kustomization":
            continue
        if doc["metadata"]["name"].startswith("churn"):
            assert doc["metadata"]["annotations"]["charter.dev/description"] == EVIL
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}
        key = (doc["apiVersion"], doc["kind"])
        if key in SCHEMAS:
            assert errors(doc, schema(SCHEMAS[key])) == [], path
    isvc = next(d for _, d in docs_of(files) if d["kind"] == "InferenceService")
    assert isvc["spec"]["predictor"]["model"]["storageUri"].startswith("s3://b/" + EVIL)


def test_deterministic():
    assert example() == example()

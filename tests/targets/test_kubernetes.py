"""Target `kubernetes`: KServe, Argo Rollouts, Istio and kustomizations.

Checked against the official schemas in ../shared, by the cross-object checks a schema cannot
do, and by running the analysis Job's verdict script against a stand-in `charter`.

The golden files are compared by tests/test_golden.py (tests/golden/kubernetes/example/).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import replace

import pytest

from compiler.driver import compile_tree
from compiler.render import render_graph
from compiler.render.common import go_duration as _go_duration
from compiler.render.kubernetes import VERDICT, _name, render
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
# No schema in ../shared: checked by hand below (structure, references).
VIRTUAL_SERVICE = ("networking.istio.io/v1", "VirtualService")
KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
EVIL = "${{ github.event.pull_request.title }}\n: evil '''\"q\" \\ $(rm -rf /) {{workflow.name}}\n---\nkind: Secret"
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def example(versions=None) -> dict[str, str]:
    _, graph = compile_tree(REPO)
    return render_graph(graph, ["kubernetes"], "generated", versions).files


def documents(files: dict[str, str]) -> list[tuple[str, dict]]:
    return [(path, doc) for path, text in files.items() for doc in load_yaml_all(text)]


def in_env(files: dict[str, str], env: str) -> list[dict]:
    return [d for p, d in documents(files) if f"/kubernetes/{env}/" in p]


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def edited(repo, path: str, *changes: str):
    """The example's IR after replacing (old, new, old, new...) in one spec, which must still validate."""
    spec = repo / path
    text = spec.read_text()
    for old, new in zip(changes[::2], changes[1::2], strict=True):
        assert old in text, old
        text = text.replace(old, new)
    spec.write_text(text)
    result = run_charter("validate", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    return compile_tree(repo)[1]


def assert_valid(files: dict[str, str]) -> None:
    """Every document matches its official schema, and references a schema cannot see hold."""
    kinds = set()
    for path, doc in documents(files):
        key = (doc["apiVersion"], doc["kind"])  # CRD schemas do not constrain these two
        kinds.add(key)
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec", "namespace", "resources"}, path
        if key in SCHEMAS:
            assert errors(doc, schema(SCHEMAS[key])) == [], (path, key)
        else:
            assert key in (VIRTUAL_SERVICE, KUSTOMIZATION), (path, key)
        if key != KUSTOMIZATION:
            assert DNS_1035.match(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 63, path
        assert "replicas" not in json.dumps(doc), path  # autoscalers own scaling (only min/maxReplicas)
    envs = {p.split("/")[2] for p in files}
    for env in envs:
        assert_references({p: t for p, t in files.items() if p.split("/")[2] == env}, env)


def assert_references(files: dict[str, str], env: str) -> None:
    docs = [d for _, d in documents(files)]
    kustomization = find(docs, "Kustomization")
    listed = sorted(p.rsplit("/", 1)[1] for p in files if not p.endswith("/kustomization.yaml"))
    assert kustomization["resources"] == listed
    names = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "Kustomization"}
    assert len(names) == len(docs) - 1, "two objects of one kind share a name"
    for d in docs:
        if d["kind"] == "Rollout":
            assert_rollout(d, docs, names)
        if d["kind"] == "InferenceService":
            assert d["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
            assert len(d["metadata"]["name"]) <= 53  # KServe appends `-predictor`
        if d["kind"] == "VirtualService":
            for route in d["spec"]["http"]:
                assert sum(r["weight"] for r in route["route"]) == 100
                assert all(("Service", r["destination"]["host"]) in names for r in route["route"])
            assert all(("Service", h) in names for h in d["spec"]["hosts"])
        if "metadata" in d and d["kind"] != "Kustomization":
            assert d["metadata"]["namespace"] == kustomization.get("namespace", d["metadata"]["namespace"])


def assert_rollout(rollout: dict, docs: list[dict], names: set) -> None:
    name, spec = rollout["metadata"]["name"], rollout["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = find(docs, "HorizontalPodAutoscaler", name)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": name}
    strategy = spec["strategy"].get("canary") or spec["strategy"]["blueGreen"]
    services = [strategy.get(k) for k in ("canaryService", "stableService", "activeService", "previewService")]
    for service in filter(None, services):
        assert ("Service", service) in names
        assert find(docs, "Service", service)["spec"]["selector"].items() <= pod_labels.items()
    analyses = [strategy.get("analysis"), strategy.get("prePromotionAnalysis")]
    for template in (t for a in analyses if a for t in a["templates"]):
        assert ("AnalysisTemplate", template["templateName"]) in names
    if "canary" in spec["strategy"]:
        weights = [s["setWeight"] for s in strategy["steps"] if "setWeight" in s]
        assert weights == sorted(set(weights))  # strictly rising
        assert not weights or weights[-1] == 100
        istio = strategy["trafficRouting"]["istio"]["virtualService"]
        service = find(docs, "VirtualService", istio["name"])
        assert set(istio["routes"]) <= {r["name"] for r in service["spec"]["http"]}
        hosts = {r["destination"]["host"] for route in service["spec"]["http"] for r in route["route"]}
        assert hosts == {strategy["canaryService"], strategy["stableService"]}
        mirrors = {s["setMirrorRoute"]["name"] for s in strategy["steps"] if "setMirrorRoute" in s}
        assert mirrors == {r["name"] for r in strategy["trafficRouting"].get("managedRoutes", [])}


def test_files_kinds_and_schemas():
    files = example()
    assert sorted(files) == [f"generated/kubernetes/{env}/{name}.yaml" for env in ("production", "staging")
                             for name in ("churn", "delivery-time", "kustomization")]
    assert_valid(files)
    kinds = {(d["apiVersion"], d["kind"]) for _, d in documents(files)}
    assert kinds == set(SCHEMAS) | {VIRTUAL_SERVICE, KUSTOMIZATION}  # the example exercises every kind
    for env in ("production", "staging"):
        assert find(in_env(files, env), "Kustomization")["namespace"] == env


def test_canary_steps_and_rollback_analysis():
    docs = in_env(example({"churn": "abc123def456"}), "production")
    canary = find(docs, "Rollout", "churn")["spec"]["strategy"]["canary"]
    assert canary["steps"] == [{"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 50},
                               {"pause": {"duration": "2h"}}, {"setWeight": 100}]
    assert canary["analysis"] == {"templates": [{"templateName": "churn-gates"}], "startingStep": 1}  # no dryRun
    metrics = find(docs, "AnalysisTemplate", "churn-gates")["spec"]["metrics"]
    assert [m["name"] for m in metrics] == ["error-rate", "latency-p99", "guardrail-rate", "prediction-shift"]
    for m in metrics:  # the new version on its own traffic, no replay of a committed file
        assert m["interval"] == "5m" and m["failureLimit"] == 0 and "job" not in m["provider"]
        prometheus = m["provider"]["prometheus"]
        assert prometheus["address"] == "http://prometheus.monitoring.svc:9090"  # charter.yaml's `prometheus`
        assert 'model="churn",version="abc123def456"' in prometheus["query"] and "[5m]" in prometheus["query"]
        limit = m["successCondition"].rsplit(" ", 1)[1]
        assert m["successCondition"] == f"len(result) > 0 && result[0] <= {limit}"  # no data: inconclusive
        assert m["failureCondition"] == f"len(result) > 0 && result[0] > {limit}"
    assert [m["successCondition"].rsplit(" ", 1)[1] for m in metrics] == ["0.01", "0.5", "0.25", "0.1"]
    assert 'version!="abc123def456"' in metrics[3]["provider"]["prometheus"]["query"]  # against the stable one


def test_the_serving_pods_run_charters_predictor():
    files = example({"churn": "abc123def456"})
    rollout = find(in_env(files, "staging"), "Rollout", "churn")
    [server] = rollout["spec"]["template"]["spec"]["containers"]
    assert server["image"] == "ghcr.io/acme/charter-runner:0.1.0" and server["workingDir"] == "/workspace"
    assert [*server["command"], *server["args"]] == ["charter", "serve", "churn", "--model-dir", "/mnt/models",
                                                     "--host", "0.0.0.0", "--port", "8080"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in server["env"]}
    assert env == {"CHARTER_ENVIRONMENT": {"fieldRef": {"fieldPath": "metadata.labels['charter.dev/log-environment']"}},
                   "CHARTER_STORE": "s3://acme-ml-artifacts/charter"}
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    canary = rollout["spec"]["strategy"]["canary"]  # a shadow: the mirrored traffic logs under its own environment
    assert canary["canaryMetadata"] == {"labels": {"charter.dev/log-environment": "staging-shadow"}}
    assert canary["stableMetadata"] == {"labels": {"charter.dev/log-environment": "staging"}}
    assert rollout["spec"]["template"]["metadata"]["labels"]["charter.dev/log-environment"] == "staging"
    isvc = find(in_env(files, "staging"), "InferenceService", "delivery-time")["spec"]["predictor"]
    [custom] = isvc["containers"]  # a custom predictor: KServe's storage initializer fetches STORAGE_URI
    assert custom["args"][:2] == ["serve", "delivery-time"] and "model" not in isvc
    assert {e["name"]: e.get("value") for e in custom["env"]} == {
        "STORAGE_URI": "s3://acme-ml-artifacts/charter/models/delivery-time/unpromoted",
        "CHARTER_ENVIRONMENT": "staging", "CHARTER_STORE": "s3://acme-ml-artifacts/charter"}


def test_logged_outcomes_add_the_gates_on_live_predictions(example_repo):
    graph = edited(example_repo, "specs/churn/rollout.yaml", "prediction_log: {sample: 1.0, key: customer_id}",
                   "prediction_log: {sample: 1.0, key: customer_id, outcomes: {source: customers}}",
                   "runtime: charter  #", "service_account: churn-server\n    runtime: charter  #")
    files = render(replace(graph, project={**graph.project, "versions": {"churn": "abc123def456"}}), "out")
    assert_valid(files)
    metrics = find(in_env(files, "production"), "AnalysisTemplate", "churn-gates")["spec"]["metrics"]
    gates = metrics[-1]
    assert gates["name"] == "gates" and gates["interval"] == "5m" and gates["failureLimit"] == 0
    job = gates["provider"]["job"]
    assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"] == {
        "sidecar.istio.io/inject": "false"}
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert [container["command"][0], *container["args"]] == ["python3", "-c", VERDICT, "churn", "production",
                                                             "abc123def456", "5m"]
    assert container["env"][0] == {"name": "CHARTER_STORE", "value": "s3://acme-ml-artifacts/charter"}
    assert all("valueFrom" in e for e in container["env"][1:])  # the monitor's secrets, by reference
    shadow = find(in_env(files, "staging"), "Rollout", "churn")["spec"]["template"]["spec"]
    assert shadow["serviceAccountName"] == "churn-server"  # the store's credentials, never a literal


def test_shadow_mirrors_every_request_then_promotes():
    docs = in_env(example(), "staging")
    canary = find(docs, "Rollout", "churn")["spec"]["strategy"]["canary"]
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "shadow"}]
    assert canary["steps"] == [
        {"setCanaryScale": {"weight": 100}},
        {"setMirrorRoute": {"name": "shadow", "percentage": 100, "match": [{"path": {"prefix": "/"}}]}},
        {"pause": {"duration": "24h"}},
        {"setMirrorRoute": {"name": "shadow"}}]  # no match: Argo Rollouts removes the route
    assert not any(s.get("setWeight") for s in canary["steps"])  # the shadow answers no one
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "InferenceService"] == ["delivery-time"]


def test_shadow_without_duration_waits_for_a_person(example_repo):
    graph = edited(example_repo, "specs/churn/rollout.yaml", "{type: shadow, duration: 24h}", "{type: shadow}")
    canary = find(in_env(render(graph, "out"), "staging"), "Rollout")["spec"]["strategy"]["canary"]
    assert canary["steps"][2] == {"pause": {}}


def test_blue_green_checks_once_before_a_manual_promotion():
    docs = in_env(example(), "production")
    blue = find(docs, "Rollout", "delivery-time")["spec"]["strategy"]["blueGreen"]
    assert blue == {"activeService": "delivery-time", "previewService": "delivery-time-preview",
                    "autoPromotionEnabled": False,
                    "prePromotionAnalysis": {"templates": [{"templateName": "delivery-time-gates"}],
                                             "dryRun": [{"metricName": ".*"}]},  # on_failure: pause
                    "activeMetadata": {"labels": {"charter.dev/log-environment": "production"}},
                    "previewMetadata": {"labels": {"charter.dev/log-environment": "production-preview"}}}
    for metric in find(docs, "AnalysisTemplate", "delivery-time-gates")["spec"]["metrics"]:
        assert "interval" not in metric and "count" not in metric  # one measurement, else promotion never comes
    shift = find(docs, "AnalysisTemplate", "delivery-time-gates")["spec"]["metrics"][3]["provider"]["prometheus"]
    assert "charter_prediction_value_sum" in shift["query"]  # a regressor: the mean prediction's relative change


def test_blue_green_rollback_with_auto_promotion(example_repo):
    graph = edited(example_repo, "specs/delivery/model.yaml", "on_failure: pause}",
                   "on_failure: rollback}\n        auto_promote: true")
    docs = in_env(render(graph, "out"), "production")
    blue = find(docs, "Rollout", "delivery-time")["spec"]["strategy"]["blueGreen"]
    assert blue["autoPromotionEnabled"] is True and "dryRun" not in blue["prePromotionAnalysis"]


def test_canary_pause_on_failure_is_a_dry_run_with_manual_steps(example_repo):
    graph = edited(example_repo, "specs/churn/rollout.yaml", "on_failure: rollback", "on_failure: pause")
    files = render(graph, "out")
    assert_valid(files)
    canary = find(in_env(files, "production"), "Rollout")["spec"]["strategy"]["canary"]
    assert canary["analysis"]["dryRun"] == [{"metricName": ".*"}]  # every metric of the analysis
    assert canary["steps"] == [{"setWeight": 10}, {"pause": {"duration": "1h"}}, {"pause": {}}, {"setWeight": 50},
                               {"pause": {"duration": "2h"}}, {"pause": {}}, {"setWeight": 100}]


def test_durations_become_go_durations(example_repo):
    graph = edited(example_repo, "specs/churn/rollout.yaml", "pause: 1h}", "pause: 2d}",
                   "on_failure: rollback}", "on_failure: rollback, interval: 1w1s}")
    docs = in_env(render(graph, "out"), "production")
    assert find(docs, "Rollout", "churn")["spec"]["strategy"]["canary"]["steps"][1] == {"pause": {"duration": "48h"}}
    metric = find(docs, "AnalysisTemplate", "churn-gates")["spec"]["metrics"][0]
    assert metric["interval"] == "168h1s" and "[168h1s]" in metric["provider"]["prometheus"]["query"]
    assert [_go_duration(d) for d in ("30m", "1h30m", "7d", "1d1h1m1s", "2w")] == [
        "30m", "1h30m", "168h", "25h1m1s", "336h"]


def test_serving_the_locked_version_from_a_url_store():
    _, graph = compile_tree(REPO)
    shared = render_graph(graph, ["kubernetes"], "generated", {"churn": "d4d4e59a9c68"}).files
    init = find(in_env(shared, "production"), "Rollout", "churn")["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"][0] == "s3://acme-ml-artifacts/charter/models/churn/d4d4e59a9c68"  # the example's shared_store
    [server] = find(in_env(shared, "production"), "Rollout", "churn")["spec"]["template"]["spec"]["containers"]
    assert {"name": "CHARTER_STORE", "value": "s3://acme-ml-artifacts/charter"} in server["env"]
    # without shared_store, a URL artifact_store is the one every server and job reaches
    graph = replace(graph, project={**graph.project, "artifact_store": "s3://acme-ml/charter/", "shared_store": None})
    files = render_graph(graph, ["kubernetes"], "generated", {"churn": "d4d4e59a9c68"}).files
    assert_valid(files)
    uri = "s3://acme-ml/charter/models/churn/d4d4e59a9c68"
    for env in ("production", "staging"):
        init = find(in_env(files, env), "Rollout", "churn")["spec"]["template"]["spec"]["initContainers"][0]
        assert init["args"] == [uri, "/mnt/models"]
    churn = files["generated/kubernetes/production/churn.yaml"]
    assert "# note:" not in churn  # a URL store and a promoted version: nothing to warn about
    other = files["generated/kubernetes/staging/delivery-time.yaml"]
    assert "# note: charter.lock has no promoted version of `delivery-time` yet" in other
    isvc = find(in_env(files, "staging"), "InferenceService", "delivery-time")["spec"]["predictor"]
    assert isvc["containers"][0]["env"][0] == {"name": "STORAGE_URI",
                                               "value": "s3://acme-ml/charter/models/delivery-time/unpromoted"}
    assert (isvc["minReplicas"], isvc["maxReplicas"]) == (1, 4)
    assert "no shared_store" not in example()["generated/kubernetes/staging/churn.yaml"]  # the example has one
    folder = replace(graph, project={**graph.project, "artifact_store": ".charter/artifacts", "shared_store": None})
    only_a_folder = render_graph(folder, ["kubernetes"], "generated", {"churn": "d4d4e59a9c68"}).files
    assert "# note: there is no shared_store" in only_a_folder["generated/kubernetes/staging/churn.yaml"]


def test_mlserver_runtime(example_repo):
    no_analysis = "        analysis: {gates: delivery-time-quality, on_failure: pause}\n"
    graph = edited(example_repo, "specs/delivery/model.yaml", "serving: {replicas:",
                   "serving: {runtime: kserve-mlserver, replicas:",
                   no_analysis, "")  # a stock server exports none of the metrics an analysis reads (S231)
    files = render(graph, "out")
    assert_valid(files)
    model = find(in_env(files, "staging"), "InferenceService")["spec"]["predictor"]["model"]
    assert (model["runtime"], model["protocolVersion"], model["modelFormat"]) == (
        "kserve-mlserver", "v2", {"name": "sklearn"})
    server = find(in_env(files, "production"), "Rollout", "delivery-time")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in server["env"]}
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == "mlserver_sklearn.SKLearnModel"
    assert env["MLSERVER_MODEL_URI"] == "/mnt/models/model.joblib" and env["MLSERVER_HTTP_PORT"] == "8080"
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_hostile_values_stay_inert(example_repo):
    store = "s3://b/${{x}}'''\"q\"\\$(rm)#{{a}}"  # no spaces: what charter.yaml's validator accepts
    (example_repo / "charter.yaml").write_text(
        (example_repo / "charter.yaml").read_text().replace(".charter/artifacts", json.dumps(store)))
    graph = edited(example_repo, "specs/churn/model.yaml",
                   "description: Predicts which customers cancel within the next month.",
                   "description: " + json.dumps(EVIL))
    assert graph.project["artifact_store"] == store
    for artifact_store in (store, "s3://b/" + EVIL):  # the second only in a hand-made IR
        hostile = replace(graph, project={**graph.project, "artifact_store": artifact_store, "shared_store": None})
        files = render(hostile, "out")
        benign = render(compile_tree(REPO)[1], "out")
        assert [len(load_yaml_all(t)) for t in files.values()] == [len(load_yaml_all(t)) for t in benign.values()]
        assert_valid(files)
        for _, doc in documents(files):
            if doc["kind"] != "Kustomization" and doc["metadata"]["labels"]["app.kubernetes.io/name"] == "churn":
                assert doc["metadata"]["annotations"]["charter.dev/description"] == EVIL
        uri = artifact_store + "/models/churn/unpromoted"
        init = find(in_env(files, "production"), "Rollout", "churn")["spec"]["template"]["spec"]["initContainers"][0]
        assert init["args"][0].replace("$$", "$") == uri  # Kubernetes reads `$$` as `$`, never `$(rm)`
        assert not re.search(r"(?<!\$)\$\(", init["args"][0])
        isvc = find(in_env(files, "staging"), "InferenceService")["spec"]["predictor"]["containers"][0]
        assert isvc["env"][0]["value"].replace("$$", "$") == artifact_store + "/models/delivery-time/unpromoted"
        assert not re.search(r"(?<!\$)\$\(", isvc["env"][0]["value"])


def test_template_braces_never_reach_an_analysis_metric():
    _, graph = compile_tree(REPO)
    with pytest.raises(ValueError, match="Argo Rollouts expands"):  # only a hand-made IR: validation refuses it
        render(replace(graph, project={**graph.project, "prometheus": "http://p/{{args.y}}"}), "out")
    churn = graph.model("churn")
    policy = {**churn.rollouts[0], "prediction_log": {"key": "customer_id", "outcomes": {"source": "customers"}}}
    logged = replace(graph, models=(replace(churn, rollouts=(policy,)), *graph.models[1:]))
    with pytest.raises(ValueError, match="Argo Rollouts expands"):
        render(replace(logged, project={**logged.project, "image": "ghcr.io/x/{{args.y}}:1"}), "out")


def test_an_analysis_without_the_predictor_or_prometheus_is_refused():
    _, graph = compile_tree(REPO)
    with pytest.raises(ValueError, match="needs `prometheus`"):
        render(replace(graph, project={**graph.project, "prometheus": None}), "out")


def test_two_policies_for_one_environment_are_refused():
    _, graph = compile_tree(REPO)
    churn = graph.model("churn")
    twice = replace(churn, rollouts=(*churn.rollouts, *churn.rollouts))
    with pytest.raises(ValueError, match="two RolloutPolicies of model `churn` name environment `staging`"):
        render(replace(graph, models=(twice, *graph.models[1:])), "out")


def test_names_are_dns_1035_labels_within_limits():
    long = "a" * 63
    for base, suffix, limit in ((long, "-canary", 63), (long, "", 53), ("9lives", "-stable", 63), ("churn", "", 63)):
        name = _name(base, suffix, limit)
        assert DNS_1035.match(name) and len(name) <= limit and name.endswith(suffix)
    assert _name("churn", "-gates") == "churn-gates" and _name("9lives") == "m-9lives"
    assert _name(long, "-canary") != _name("a" * 62 + "b", "-canary")  # a hash keeps long names apart


def test_deterministic():
    assert example() == example()


@pytest.fixture
def fake_charter(tmp_path):
    """Run the analysis Job's script with a stand-in `charter` that prints a given report."""

    def run(report, code: int = 0) -> subprocess.CompletedProcess:
        (tmp_path / "report.json").write_text(report if isinstance(report, str) else json.dumps(report))
        stub = tmp_path / "charter"
        stub.write_text(f"#!{sys.executable}\nimport sys\nopen({str(tmp_path / 'argv')!r}, 'w').write(' '.join("
                        f"sys.argv[1:]))\nsys.stdout.write(open({str(tmp_path / 'report.json')!r}).read())\n"
                        f"sys.exit({code})\n")
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
        env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
        result = subprocess.run([sys.executable, "-c", VERDICT, "churn", "production", "abc123def456", "5m"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert (tmp_path / "argv").read_text() == ("monitor churn --predictions --env production --version "
                                                   "abc123def456 --since 5m --format json")
        return result

    return run


GOOD = {"rows": 90, "drift": {}, "gates": {"passed": True, "gates": []}, "alert": False}


@pytest.mark.parametrize(("report", "code", "message"), [
    (GOOD, 0, None),
    ({**GOOD, "alert": True}, 1, "charter monitor exited 1"),
    ({**GOOD, "gates": {"passed": False, "gates": []}}, 1, "charter monitor exited 1"),
    ({**GOOD, "gates": {"passed": False, "gates": []}}, 0, "the gates failed on the new version's live predictions"),
    ({**GOOD, "gates": None}, 0, None),  # no outcome has arrived yet: said, and the Prometheus metrics judge
    ({**GOOD, "rows": 0, "gates": None}, 3, None),
    ("{}", 2, "charter monitor exited 2"),
])  # fmt: skip
def test_the_gates_job_fails_on_failed_gates_or_a_monitor_that_cannot_run(fake_charter, report, code, message):
    result = fake_charter(report, code)
    assert (result.returncode == 0) == (message is None), result.stderr
    if message:
        assert message in result.stderr
    elif isinstance(report, dict) and report["gates"] is None:
        assert "the gates were not checked" in result.stdout


def test_the_analysis_job_runs_with_the_monitors_pod_settings():
    """The gates Job (a log with outcomes) gets `compute.steps.monitor`: resources, secrets, identity, deadline.

    placement, deadline.
    """
    from tests.targets.pods import FULL, with_full_compute

    _, graph = _with_outcomes(compile_tree(REPO)[1])
    files = render_graph(with_full_compute(graph), ["kubernetes"], "generated").files
    assert_valid(files)
    analysis = find(in_env(files, "production"), "AnalysisTemplate", "churn-gates")["spec"]["metrics"][-1]
    job = analysis["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 600  # a failed measurement is the verdict
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "charter-monitor" and "nodeSelector" not in pod
    [container] = pod["containers"]
    assert container["resources"] == {"requests": FULL["monitor"]["resources"]["requests"]}
    assert container["env"][1:] == [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "store", "key": "access-key-id"}}}]
    placed = replace(graph, models=tuple(replace(m, compute={"monitor": FULL["ingest"]}) for m in graph.models))
    files = render_graph(placed, ["kubernetes"], "generated").files
    assert_valid(files)
    pod = find(in_env(files, "production"), "AnalysisTemplate", "churn-gates")["spec"]["metrics"][-1][
        "provider"]["job"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == FULL["ingest"]["node_selector"] and len(pod["tolerations"]) == 2


def _with_outcomes(graph):
    churn = graph.model("churn")
    policy = {**churn.rollouts[0], "prediction_log": {"key": "customer_id", "outcomes": {"source": "customers"}}}
    return None, replace(graph, models=(replace(churn, rollouts=(policy,)), *graph.models[1:]))

"""Target `kubernetes`: the serving manifests of every model, one folder per environment.

`<out>/kubernetes/<env>/<model>.yaml` for each model whose RolloutPolicy names `<env>`, and a
`kustomization.yaml` per environment. What a file holds depends on the environment's strategy:

- `direct`: a KServe `InferenceService` (Standard mode, KServe's HPA between the replica bounds).
- `canary`: an Argo Rollouts `Rollout` running KServe's model server, with the declared steps
  (`setWeight`, `pause`) as exact weights through an Istio `VirtualService`; the model's
  `Service` plus the stable and canary ones; an `HorizontalPodAutoscaler` on the Rollout;
  with `analysis`, an `AnalysisTemplate` (a Job checking the gates, below).
- `shadow`: the same Rollout, whose steps mirror every request to the new version
  (`setMirrorRoute`) for `duration`, then promote it; the shadow's responses are discarded.
- `blue-green`: a Rollout with `blueGreen` (active and preview Services), promotion automatic
  only with `auto_promote`, the analysis run once before promotion.

Why a Rollout rather than an InferenceService outside `direct`: KServe's canaries are one
fixed split (`canaryTrafficPercent` in Knative mode, ignored in Standard mode; `spec.canary[]`
in v0.20), with no steps, pauses or analysis. The Rollout's pod is what KServe would run: the
same server image and storage initializer. No manifest sets `replicas`: an autoscaler owns it.

Every pod runs the RolloutPolicy's serving runtime: by default `charter` (`charter serve` in
the project's image: Charter's predictor, with the input contract and the guardrails the gates
were measured with), else a stock server on `model.joblib`. The analysis measures the new
version on its own traffic: Prometheus queries over the predictor's metrics (error rate, p99
latency, guardrail override rate, prediction shift from the stable version) against the
RolloutPolicy's thresholds, plus a Job checking the gates on its logged predictions where the
prediction log has outcomes. `on_failure: pause` is a dry run plus manual promotion steps.
"""

from __future__ import annotations

import hashlib

from compiler.render.common import (
    WORKDIR,
    assemble,
    dump_yaml,
    go_duration,
    image,
    manifest,
    pod_resources,
    secret_env,
    shared_store,
    timeout_seconds,
    tolerations,
)
from compiler.render.header import header

KSERVE = "v0.20.0"  # KServe release whose images (model server, storage initializer) the pods run
SERVER = {"kserve-sklearn": f"kserve/sklearnserver:{KSERVE}",  # `charter`: the project's image
          "kserve-mlserver": "docker.io/seldonio/mlserver:1.5.0"}  # the tag KServe's runtime pins
RUNTIME = {"kserve-sklearn": "kserve-sklearnserver", "kserve-mlserver": "kserve-mlserver"}  # ClusterServingRuntimes
# KServe's runtimes' resources, for pods that give none: an HPA cannot scale on CPU without a request.
DEFAULT_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
MODEL_DIR, PORT = "/mnt/models", 8080
ROUTE, MIRROR = "primary", "shadow"  # the VirtualService's route the Rollout weighs, and its mirror route
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}  # a Job pod with an Istio sidecar never completes

# Runs in the analysis Job, where the prediction log has outcomes: the gates on the labelled
# predictions the new version served. `charter monitor` exits 1 on an alert (a gate failing,
# or drift) and 2 when it cannot run: both fail the measurement. Labels arrive late, so a
# window with none is reported and passes (the Prometheus metrics judge the live health).
# Python, not a shell: nothing is interpolated (the model, environment, version, window
# come as arguments).
VERDICT = """\
import json, subprocess, sys

model, environment, version, window = sys.argv[1:5]
run = subprocess.run(["charter", "monitor", model, "--predictions", "--env", environment, "--version", version,
                      "--since", window, "--format", "json"], stdout=subprocess.PIPE, text=True)
print(run.stdout)
if run.returncode not in (0, 3):
    sys.exit(f"charter monitor exited {run.returncode}: an alert, or it could not run")
report = json.loads(run.stdout)
if report["gates"] is None:
    print("no logged prediction of this version has its outcome yet: the gates were not checked")
elif not report["gates"]["passed"]:
    sys.exit("the gates failed on the new version's live predictions")
"""


def render(graph, out: str) -> dict[str, str]:
    return assemble(graph, out, render_model, render_shared)


def render_model(project: dict, model, out: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for policy in model.rollouts:
        for env in policy["environments"]:
            path = manifest(out, env["name"], model.name)
            if path in files:  # the validator should refuse this; never write one over the other
                raise ValueError(f"two RolloutPolicies of model `{model.name}` name environment `{env['name']}`")
            docs = _documents(model, env, policy, project)
            files[path] = header(model.sources) + _notes(model.name, project) + dump_yaml(*docs)
    return files


def render_shared(graph, out: str) -> dict[str, str]:
    """One kustomization per environment, listing the manifests of the models deployed there."""
    files: dict[str, str] = {}
    envs: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}  # env -> file -> (namespace, sources)
    for model in graph.models:
        for policy in model.rollouts:
            for env in policy["environments"]:
                envs.setdefault(env["name"], {})[f"{model.name}.yaml"] = (_namespace(env), model.sources)
    for env, entries in envs.items():
        kustomization: dict[str, object] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
        namespaces = {ns for ns, _ in entries.values()}
        if len(namespaces) == 1:  # models may put one environment in different namespaces
            kustomization["namespace"] = namespaces.pop()
        kustomization["resources"] = sorted(entries)
        sources = [s for _, model_sources in entries.values() for s in model_sources]
        files[f"{out}/kubernetes/{env}/kustomization.yaml"] = header(sources) + dump_yaml(kustomization)
    return files


def _documents(model, env: dict, policy: dict, project: dict) -> list[dict]:
    serving = policy["serving"]
    strategy = env["strategy"]
    if strategy["type"] == "direct":
        return [_inference_service(model, env, serving, project)]
    analysis = strategy.get("analysis")
    docs = [_rollout(model, env, serving, project), *_services(model, env)]
    if strategy["type"] in ("canary", "shadow"):
        docs.append(_virtual_service(model, env))
    docs.append(_autoscaler(model, env, serving))
    if analysis:
        docs.append(_analysis(model, env, policy, project, background=strategy["type"] != "blue-green"))
    return docs


def _name(base: str, suffix: str = "", limit: int = 63) -> str:
    """An object name: a DNS-1035 label of at most `limit` characters.

    Services and InferenceServices must start with a letter, a model name may not; long
    names end in a hash of the whole, so two stay distinct.
    """
    if base[:1].isdigit():
        base = "m-" + base
    full = base + suffix
    if len(full) <= limit:
        return full
    return f"{base[: limit - len(suffix) - 9]}-{hashlib.sha256(full.encode()).hexdigest()[:8]}{suffix}"


def _namespace(env: dict) -> str:
    return env["namespace"] or env["name"]


def _meta(name: str, model, env: dict, annotations: dict | None = None) -> dict:
    # no version label: a development version (`0.1.0+g1a2b`) is not a valid label value
    labels = {"app.kubernetes.io/name": model.name, "app.kubernetes.io/managed-by": "charter",
              "charter.dev/environment": env["name"]}  # fmt: skip
    meta = {"name": name, "namespace": _namespace(env), "labels": labels}
    notes = {**({"charter.dev/description": model.description} if model.description else {}), **(annotations or {})}
    if notes:
        meta["annotations"] = notes  # data for Kubernetes: nothing reads or expands annotations
    return meta


def _storage_uri(project: dict, model: str) -> str:
    """Where the shared store holds the version `charter.lock` records (`Store.promote`)."""
    version = (project.get("versions") or {}).get(model) or "unpromoted"
    root = shared_store(project) or project.get("artifact_store", ".charter/artifacts").rstrip("/")
    return f"{root}/models/{model}/{version}"


def _notes(model: str, project: dict) -> str:
    """Comments saying why a file cannot serve yet.

    Fixed text and a model name (a DNS label), never the store's value (free text).
    """
    lines = []
    if shared_store(project) is None:
        lines += ["note: there is no shared_store and artifact_store is a local folder, which the cluster",
                  "  cannot read; declare shared_store, a URL KServe's storage initializer reads (s3://, gs://)."]
    if not (project.get("versions") or {}).get(model):
        lines += [f"note: charter.lock has no promoted version of `{model}` yet: run `charter run {model}`."]
    return "".join(f"# {line}\n" for line in lines)


def _resources(serving: dict) -> dict:
    out = {}
    for kind in ("requests", "limits"):
        amounts = {k: v for k, v in ((serving.get("resources") or {}).get(kind) or {}).items() if v is not None}
        if amounts:
            out[kind] = amounts
    if not out:
        return {kind: dict(amounts) for kind, amounts in DEFAULT_RESOURCES.items()}
    if "cpu" not in out.get("requests", {}) and "cpu" not in out.get("limits", {}):
        out.setdefault("requests", {})["cpu"] = DEFAULT_RESOURCES["requests"]["cpu"]
    return out


LOG_ENV = "charter.dev/log-environment"  # pod label the server reads its environment from (downward API)


def _charter_server(model, env: dict, serving: dict, project: dict, environment: dict | str) -> dict:
    """`charter serve` in the project's image: Charter's predictor behind KServe's model server.

    `environment` is the value of CHARTER_ENVIRONMENT (the metrics' and the prediction log's
    label), or a `valueFrom` when the Rollout labels its canary pods apart (a shadow logs
    under `<env>-shadow`, a blue-green preview under `<env>-preview`).
    """
    args = ["serve", model.name, "--model-dir", MODEL_DIR, "--host", "0.0.0.0", "--port", str(PORT)]
    variables: list[dict] = [{"name": "CHARTER_ENVIRONMENT", **({"value": environment} if isinstance(environment, str)
                                                               else {"valueFrom": environment})}]
    url = shared_store(project)
    if url:  # where the prediction log goes; Kubernetes expands `$(VAR)` in env values
        variables.append({"name": "CHARTER_STORE", "value": url.replace("$", "$$")})
    return {"name": "kserve-container", "image": image(project), "workingDir": WORKDIR, "command": ["charter"],
            "args": args, "env": variables}


def _inference_service(model, env: dict, serving: dict, project: dict) -> dict:
    if serving["runtime"] == "charter":
        return _custom_inference_service(model, env, serving, project)
    spec_model = {"modelFormat": {"name": "sklearn"}, "runtime": RUNTIME[serving["runtime"]]}
    if serving["runtime"] == "kserve-mlserver":
        spec_model["protocolVersion"] = "v2"
    spec_model |= {"storageUri": _storage_uri(project, model.name), "resources": _resources(serving)}
    predictor = {"minReplicas": max(1, serving["replicas"]["min"]), "maxReplicas": serving["replicas"]["max"],
                 "model": spec_model}
    # `Standard` is v0.17's name for RawDeployment (no Knative); KServe rewrites the old name.
    meta = _meta(_name(model.name, limit=53), model, env, {"serving.kserve.io/deploymentMode": "Standard"})
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta,
            "spec": {"predictor": predictor}}  # `-predictor` is appended to the name: hence 53


def _custom_inference_service(model, env: dict, serving: dict, project: dict) -> dict:
    """A custom predictor: KServe's storage initializer fetches `STORAGE_URI` into /mnt/models."""
    server = _charter_server(model, env, serving, project, env["name"])
    server["env"] = [{"name": "STORAGE_URI", "value": _storage_uri(project, model.name).replace("$", "$$")},
                     *server["env"]]
    server |= {"ports": [{"name": "http1", "containerPort": PORT, "protocol": "TCP"}],
               "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": PORT}},
               "resources": _resources(serving)}
    predictor: dict = {"minReplicas": max(1, serving["replicas"]["min"]), "maxReplicas": serving["replicas"]["max"]}
    if serving.get("service_account"):
        predictor["serviceAccountName"] = serving["service_account"]
    predictor["containers"] = [server]
    meta = _meta(_name(model.name, limit=53), model, env, {"serving.kserve.io/deploymentMode": "Standard"})
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta,
            "spec": {"predictor": predictor}}


def _pod(model, serving: dict, project: dict, env: dict | None = None) -> dict:
    """The pod KServe would run for an InferenceService.

    Its storage initializer copies the promoted package into an emptyDir; its model server
    (Charter's predictor, or a stock server reading `model.joblib`) serves it from there.
    """
    locked = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    server: dict[str, object] = {"name": "kserve-container", "image": SERVER.get(serving["runtime"], "")}
    labels = {"app.kubernetes.io/name": model.name}
    if serving["runtime"] == "charter":
        assert env is not None
        labels[LOG_ENV] = env["name"]
        server = _charter_server(model, env, serving, project,
                                 {"fieldRef": {"fieldPath": f"metadata.labels['{LOG_ENV}']"}})
        ready = "/v2/health/ready"
    elif serving["runtime"] == "kserve-sklearn":
        server["args"] = [f"--model_name={model.name}", f"--model_dir={MODEL_DIR}", f"--http_port={PORT}"]
        ready = f"/v1/models/{model.name}"
    else:  # the environment KServe's kserve-mlserver runtime sets, plus the model's name and file
        server["env"] = [{"name": "MLSERVER_MODEL_IMPLEMENTATION", "value": "mlserver_sklearn.SKLearnModel"},
                         {"name": "MLSERVER_MODEL_NAME", "value": model.name},
                         {"name": "MLSERVER_MODEL_URI", "value": f"{MODEL_DIR}/model.joblib"},
                         {"name": "MLSERVER_HTTP_PORT", "value": str(PORT)},
                         {"name": "MLSERVER_GRPC_PORT", "value": "9000"},
                         {"name": "MODELS_DIR", "value": MODEL_DIR}]
        ready = "/v2/health/ready"
    server |= {"ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
               "readinessProbe": {"httpGet": {"path": ready, "port": "http"}},
               "resources": _resources(serving),
               "securityContext": {**locked, "runAsNonRoot": True},
               "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR, "readOnly": True}]}
    # Kubernetes expands `$(VAR)` in args; `$$` is its escape, so a store URL stays as written.
    init = {"name": "storage-initializer", "image": f"kserve/storage-initializer:{KSERVE}",
            "args": [_storage_uri(project, model.name).replace("$", "$$"), MODEL_DIR],
            "securityContext": locked, "volumeMounts": [{"name": "model", "mountPath": MODEL_DIR}]}
    spec: dict = {}
    if serving.get("service_account"):
        spec["serviceAccountName"] = serving["service_account"]
    spec |= {"initContainers": [init], "containers": [server], "volumes": [{"name": "model", "emptyDir": {}}]}
    return {"metadata": {"labels": labels}, "spec": spec}


def _rollout(model, env: dict, serving: dict, project: dict) -> dict:
    strategy = env["strategy"]
    analysis = strategy.get("analysis")
    manual = bool(analysis) and analysis["on_failure"] == "pause"
    template = {"templates": [{"templateName": _name(model.name, "-gates")}]} if analysis else None
    dry_run = {"dryRun": [{"metricName": ".*"}]} if manual else {}  # every metric of the analysis
    charter = serving["runtime"] == "charter"
    if strategy["type"] == "blue-green":
        blue: dict = {"activeService": _name(model.name), "previewService": _name(model.name, "-preview"),
                      "autoPromotionEnabled": bool(strategy.get("auto_promote")) and not manual}
        if template:
            blue["prePromotionAnalysis"] = {**template, **dry_run}
        if charter:  # the preview's predictions are logged and measured apart from live traffic
            blue["activeMetadata"] = {"labels": {LOG_ENV: env["name"]}}
            blue["previewMetadata"] = {"labels": {LOG_ENV: _name(env["name"], "-preview")}}
        spec_strategy = {"blueGreen": blue}
    else:
        steps, start = _steps(strategy, manual)
        canary: dict = {"canaryService": _name(model.name, "-canary"), "stableService": _name(model.name, "-stable"),
                        "trafficRouting": {"istio": {"virtualService": {"name": _name(model.name), "routes": [ROUTE]}}},
                        "steps": steps}
        if strategy["type"] == "shadow":
            canary["trafficRouting"]["managedRoutes"] = [{"name": MIRROR}]
            if charter:  # the mirrored traffic is logged under its own environment
                canary["canaryMetadata"] = {"labels": {LOG_ENV: _name(env["name"], "-shadow")}}
                canary["stableMetadata"] = {"labels": {LOG_ENV: env["name"]}}
        if template:
            canary["analysis"] = {**template, "startingStep": start, **dry_run}
        spec_strategy = {"canary": canary}
    spec = {"revisionHistoryLimit": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": model.name}},
            "template": _pod(model, serving, project, env), "strategy": spec_strategy}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": _meta(_name(model.name), model, env),
            "spec": spec}


def _steps(strategy: dict, manual: bool) -> tuple[list[dict], int]:
    """The Rollout's steps, and the index of the step where the background analysis starts.

    That is the first step during which the new version receives requests.
    """
    if strategy["type"] == "shadow":
        steps: list[dict] = [{"setCanaryScale": {"weight": 100}},  # a full copy: it receives every request
                 {"setMirrorRoute": {"name": MIRROR, "percentage": 100, "match": [{"path": {"prefix": "/"}}]}},
                 {"pause": {"duration": go_duration(strategy["duration"])} if strategy.get("duration") else {}},
                 {"setMirrorRoute": {"name": MIRROR}}]  # no `match`: Argo Rollouts removes the route
        return steps + ([{"pause": {}}] if manual else []), 2
    steps = []
    for step in strategy["steps"]:
        steps.append({"setWeight": step["traffic"]})
        if step.get("pause"):
            steps.append({"pause": {"duration": go_duration(step["pause"])}})
        if manual and step["traffic"] < 100:
            steps.append({"pause": {}})  # a person reads the analysis, then promotes
    return steps, 1


def _services(model, env: dict) -> list[dict]:
    """The model's Service and the ones the Rollout points at one version.

    The model's Service selects every pod: clients call it. Argo Rollouts adds the pod-template
    hash to the selectors of the others.
    """
    suffixes = ["-preview"] if env["strategy"]["type"] == "blue-green" else ["-canary", "-stable"]
    return [{"apiVersion": "v1", "kind": "Service", "metadata": _meta(_name(model.name, suffix), model, env),
             "spec": {"selector": {"app.kubernetes.io/name": model.name},
                      "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}
            for suffix in ["", *suffixes]]


def _virtual_service(model, env: dict) -> dict:
    """Istio's routing of calls to the model's Service, at the weights the Rollout sets.

    Short host names resolve in the VirtualService's namespace.
    """
    route = [{"destination": {"host": _name(model.name, "-stable")}, "weight": 100},
             {"destination": {"host": _name(model.name, "-canary")}, "weight": 0}]
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": _meta(_name(model.name), model, env),
            "spec": {"hosts": [_name(model.name)], "http": [{"name": ROUTE, "route": route}]}}


def _autoscaler(model, env: dict, serving: dict) -> dict:
    """Scales the Rollout as KServe's HPA would an InferenceService (80% of the CPU request)."""
    target = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": _name(model.name)}
    metric = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                          "averageUtilization": 80}}}
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(_name(model.name), model, env),
            "spec": {"scaleTargetRef": target, "minReplicas": max(1, serving["replicas"]["min"]),
                     "maxReplicas": serving["replicas"]["max"], "metrics": [metric]}}


def _analysis(model, env: dict, policy: dict, project: dict, background: bool) -> dict:
    """The new version measured on its own traffic: Prometheus queries over the predictor's metrics.

    Error rate, p99 latency, guardrail override rate and the shift of its predictions from the
    stable version's, each over the analysis interval, with thresholds from the RolloutPolicy;
    with a prediction log that has outcomes, a Job checks the gates on the labelled predictions
    the new version served. Measured every `interval` while a canary or shadow runs, or once
    before a blue-green promotion. No data (no traffic yet) or NaN is inconclusive, never a
    pass: Argo Rollouts pauses.
    """
    if policy["serving"]["runtime"] != "charter":
        raise ValueError(f"the analysis of `{model.name}` reads Charter's predictor metrics: serving runtime `charter`")
    address = project.get("prometheus")
    if not address:
        raise ValueError("rollout analysis needs `prometheus` (its address) in charter.yaml")
    analysis = env["strategy"]["analysis"]
    window = go_duration(analysis["interval"])
    version = (project.get("versions") or {}).get(model.name) or "unpromoted"
    new = f'model="{model.name}",version="{version}"'
    old = f'model="{model.name}",version!="{version}"'
    rate = f"[{window}]"

    def share(numerator: str, denominator: str) -> str:
        return f"(sum(rate({numerator}{rate})) or vector(0)) / sum(rate({denominator}{rate}))"

    requests = "charter_request_duration_seconds_count"
    queries = {
        "error-rate": (share(f'{requests}{{{new},status=~"5.."}}', f"{requests}{{{new}}}"),
                       analysis["max_error_rate"]),
        "latency-p99": (f"histogram_quantile(0.99, sum by (le) (rate(charter_request_duration_seconds_bucket"
                        f'{{{new},status=~"2.."}}{rate})))', analysis["max_latency_p99"]),
        "guardrail-rate": (share(f"charter_guardrail_overrides_total{{{new}}}",
                                 f"charter_rows_predicted_total{{{new}}}"), analysis["max_guardrail_rate"]),
        "prediction-shift": (_shift(model.task, new, old, rate), analysis["max_prediction_shift"]),
    }
    metrics = []
    every = {"interval": window} if background else {}
    for name, (query, limit) in queries.items():
        metrics.append({"name": name, **every, "successCondition": f"len(result) > 0 && result[0] <= {limit}",
                        "failureCondition": f"len(result) > 0 && result[0] > {limit}", "failureLimit": 0,
                        "inconclusiveLimit": 3,
                        "provider": {"prometheus": {"address": _plain(address), "query": _plain(query)}}})
    log = policy.get("prediction_log") or {}
    if log.get("outcomes"):
        metrics.append({"name": "gates", **every, "failureLimit": 0,
                        "provider": {"job": _gates_job(model, env, project, version, window)}})
    gates = ", ".join(g["id"] for g in analysis.get("gate_list") or []) or analysis["gates"]
    meta = _meta(_name(model.name, "-gates"), model, env, {"charter.dev/gates": gates})
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": meta,
            "spec": {"metrics": metrics}}


def _shift(task: str, new: str, old: str, rate: str) -> str:
    """How far the new version's predictions are from the stable version's (0: the same)."""
    if task == "regression":
        def mean(sel: str) -> str:
            return f"(sum(rate(charter_prediction_value_sum{{{sel}}}{rate})) / " \
                   f"sum(rate(charter_prediction_value_count{{{sel}}}{rate})))"
        return f"abs({mean(new)} - {mean(old)}) / abs({mean(old)})"

    def shares(sel: str) -> str:
        return (f"sum by (label) (rate(charter_predictions_total{{{sel}}}{rate})) / scalar(sum(rate("
                f"charter_rows_predicted_total{{{sel}}}{rate})))")
    return f"sum(abs({shares(new)} - {shares(old)})) / 2"


def _gates_job(model, env: dict, project: dict, version: str, window: str) -> dict:
    """`charter monitor --predictions` of the new version, in a Job with `monitor`'s pod settings."""
    environment = _name(env["name"], "-shadow") if env["strategy"]["type"] == "shadow" else \
        _name(env["name"], "-preview") if env["strategy"]["type"] == "blue-green" else env["name"]
    argv = ["python3", "-c", VERDICT, model.name, environment, version, window]
    container: dict = {"name": "charter", "image": _plain(image(project)), "workingDir": WORKDIR,
                       "command": [_plain(a) for a in argv[:1]], "args": [_plain(a) for a in argv[1:]]}
    url = shared_store(project)
    settings = model.compute.get("monitor", {})  # the pod settings of `charter monitor`, wherever it runs
    # the prediction log is there; Kubernetes expands `$(VAR)` in env values
    variables = [{"name": "CHARTER_STORE", "value": _plain(url).replace("$", "$$")}] if url else []
    variables += _inert(secret_env(settings))
    if variables:
        container["env"] = variables
    if resources := pod_resources(settings):
        container["resources"] = _inert(resources)
    pod: dict = {"restartPolicy": "Never", "containers": [container]}
    if settings.get("service_account"):
        pod["serviceAccountName"] = _plain(settings["service_account"])
    if settings.get("node_selector"):
        pod["nodeSelector"] = _inert(settings["node_selector"])
    if found := tolerations(settings):
        pod["tolerations"] = _inert(found)
    # No retries: a failed measurement is the verdict (`failureLimit: 0`), and running the same
    # check again on the same data would repeat it. `timeout` bounds the whole Job.
    job_spec: dict = {"backoffLimit": 0}
    if (deadline := timeout_seconds(settings)) is not None:
        job_spec["activeDeadlineSeconds"] = deadline
    job_spec["template"] = {"metadata": {"labels": NO_SIDECAR}, "spec": pod}
    return {"metadata": {"labels": NO_SIDECAR}, "spec": job_spec}


def _inert(value):
    """Pod settings are validated names, quantities and label values; a hand-made IR's go through `_plain`."""
    if isinstance(value, dict):
        return {_plain(k): _inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inert(v) for v in value]
    return _plain(value) if isinstance(value, str) else value


def _plain(text: str) -> str:
    """A value inside an analysis metric, which Argo Rollouts expands (`{{args.x}}`).

    Validated specs never put `{{` there; a hand-made IR might.
    """
    if "{{" in text or "}}" in text:
        raise ValueError(f"refusing to put {text!r} where Argo Rollouts expands `{{{{...}}}}`")
    return text

"""Target `kubernetes`: the serving manifests of every model, one folder per environment.

`<out>/kubernetes/<env>/` holds, per model with a RolloutPolicy naming that environment:

- `direct`: a KServe `InferenceService` (RawDeployment: no Knative needed; KServe's HPA
  scales between `serving.replicas.min` and `max`, so no `replicas` is written).
- `canary`: an Argo Rollouts `Rollout` running KServe's model server (the same container
  KServe would run, fed by KServe's storage initializer) with the declared steps (`setWeight`
  then `pause`), stable and canary `Service`s, an `HorizontalPodAutoscaler` targeting the
  Rollout (so the Rollout has no `replicas` either), and an `AnalysisTemplate` that runs
  `charter monitor MODEL --data SOURCE` as a Job: the MetricSet's gates (again, on labelled
  data) and drift. A failed analysis aborts the rollout and traffic returns to stable
  (`on_failure: rollback`); with `on_failure: pause` the analysis runs as a dry run (failures
  are reported, not acted on) and every step waits for a manual promotion instead. Without a service mesh, weights are replica ratios.
- `blue-green`: the same Rollout with `blueGreen` (active and preview Services, automatic
  promotion only with `auto_promote`, the analysis before promotion).
- `shadow`: the new version as `InferenceService MODEL-shadow`, and an Istio
  `VirtualService` that mirrors all traffic of the served `MODEL` to it (responses of the
  shadow are discarded). Seldon is not used (BSL-licensed).
- a `kustomization.yaml` listing the environment's files, with its namespace.

The model served is the version `charter.lock` records, given to this renderer as
`project["versions"]` by `charter compile` (the IR itself is a function of the specs only);
`storageUri` is `<artifact_store>/models/<model>/<version>`, which must be a URL the cluster
can read (`s3://`, `gs://`, `pvc://`...), not a local folder.
"""

from __future__ import annotations

import hashlib

from compiler.render.common import dump_yaml, image
from compiler.render.header import header

KSERVE = "v0.15.2"  # KServe's model server and storage initializer images
SERVER = {"kserve-sklearn": f"kserve/sklearnserver:{KSERVE}", "kserve-mlserver": "seldonio/mlserver:1.6.1-sklearn"}


def _name(base: str, suffix: str = "") -> str:
    """A DNS-1123 label of at most 63 characters (long names end in a short hash)."""
    full = base + suffix
    if len(full) <= 63:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    return f"{base[: 63 - len(suffix) - 7]}-{digest}{suffix}"


def _labels(model: str, env: str) -> dict:
    # no version label: a development version (`0.1.0+g1a2b`) is not a valid label value
    return {"app.kubernetes.io/name": model, "app.kubernetes.io/managed-by": "charter",
            "charter.dev/environment": env}  # fmt: skip


def _meta(name: str, model, env: dict, annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": env["namespace"] or env["name"], "labels": _labels(model.name, env["name"])}
    ann = {**({"charter.dev/description": model.description} if model.description else {}), **(annotations or {})}
    if ann:
        meta["annotations"] = ann
    return meta


def _storage(project: dict, model: str) -> str:
    version = (project.get("versions") or {}).get(model) or "unpromoted"
    return f"{project.get('artifact_store', '.charter/artifacts').rstrip('/')}/models/{model}/{version}"


def _resources(serving: dict) -> dict:
    out = {}
    for kind in ("requests", "limits"):
        amounts = {k: v for k, v in ((serving.get("resources") or {}).get(kind) or {}).items() if v is not None}
        if amounts:
            out[kind] = amounts
    return out


def _isvc(model, env: dict, serving: dict, project: dict, name: str) -> dict:
    spec_model = {"modelFormat": {"name": "sklearn"}, "storageUri": _storage(project, model.name)}
    if serving["runtime"] == "kserve-mlserver":
        spec_model |= {"runtime": "kserve-mlserver", "protocolVersion": "v2"}
    resources = _resources(serving)
    if resources:
        spec_model["resources"] = resources
    predictor = {"minReplicas": serving["replicas"]["min"], "maxReplicas": serving["replicas"]["max"],
                 "model": spec_model}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": _meta(name, model, env, {"serving.kserve.io/deploymentMode": "RawDeployment"}),
            "spec": {"predictor": predictor}}


def _pod(model, serving: dict, project: dict) -> dict:
    app = {"app.kubernetes.io/name": model.name}
    server = {"name": "kserve-container", "image": SERVER[serving["runtime"]],
              "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
              "volumeMounts": [{"name": "model", "mountPath": "/mnt/models", "readOnly": True}],
              "readinessProbe": {"httpGet": {"path": f"/v1/models/{model.name}", "port": "http"}}}
    if serving["runtime"] == "kserve-sklearn":
        server["args"] = [f"--model_name={model.name}", "--model_dir=/mnt/models", "--http_port=8080"]
    else:
        server["env"] = [{"name": "MLSERVER_MODEL_NAME", "value": model.name},
                         {"name": "MLSERVER_MODEL_URI", "value": "/mnt/models/model.joblib"},
                         {"name": "MLSERVER_HTTP_PORT", "value": "8080"}]
        server["readinessProbe"] = {"httpGet": {"path": "/v2/health/ready", "port": "http"}}
    resources = _resources(serving)
    if resources:
        server["resources"] = resources
    init = {"name": "storage-initializer", "image": f"kserve/storage-initializer:{KSERVE}",
            "args": [_storage(project, model.name), "/mnt/models"],
            "volumeMounts": [{"name": "model", "mountPath": "/mnt/models"}]}
    return {"metadata": {"labels": app},
            "spec": {"initContainers": [init], "containers": [server], "volumes": [{"name": "model", "emptyDir": {}}]}}


def _service(name: str, model, env: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, model, env),
            "spec": {"selector": {"app.kubernetes.io/name": model.name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def _hpa(name: str, model, env: dict, serving: dict) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(name, model, env),
            "spec": {"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": name},
                     "minReplicas": max(1, serving["replicas"]["min"]), "maxReplicas": serving["replicas"]["max"],
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}


def _analysis(model, env: dict, analysis: dict, project: dict) -> dict:
    """The MetricSet's gates as an Argo Rollouts analysis: a Job running `charter monitor`,
    which exits 1 when a gate fails on labelled data or drift is above its threshold."""
    source = model.step("ingest").params["source"]
    job = {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
        "name": "charter", "image": image(project), "workingDir": "/workspace", "command": ["charter"],
        "args": ["monitor", model.name, "--data", source]}]}}}
    gates = ", ".join(g["id"] for g in analysis.get("gate_list", [])) or "none"
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": _meta(_name(model.name, "-gates"), model, env, {"charter.dev/gates": gates}),
            "spec": {"metrics": [{"name": "gates", "interval": analysis["interval"], "failureLimit": 0,
                                  "provider": {"job": {"spec": job}}}]}}


def _rollout(model, env: dict, serving: dict, project: dict, strategy: dict) -> list[dict]:
    name = model.name
    analysis = strategy.get("analysis")
    template = [{"templateName": _name(name, "-gates")}] if analysis else []
    docs: list[dict] = []
    if strategy["type"] == "canary":
        steps: list[dict] = []
        pause_on_failure = analysis and analysis["on_failure"] == "pause"
        for step in strategy["steps"]:
            steps.append({"setWeight": step["traffic"]})
            if step.get("pause"):
                steps.append({"pause": {"duration": step["pause"]}})
            if pause_on_failure and step["traffic"] < 100:
                steps.append({"pause": {}})  # a person reads the analysis and promotes
        canary: dict = {"stableService": _name(name), "canaryService": _name(name, "-canary"), "steps": steps}
        if analysis:
            canary["analysis"] = {"templates": template, "startingStep": 1}
            if pause_on_failure:  # a failing gate is reported, not acted on: the pauses hold the rollout
                canary["analysis"]["dryRun"] = [{"metricName": "gates"}]
        spec_strategy = {"canary": canary}
        docs += [_service(_name(name), model, env), _service(_name(name, "-canary"), model, env)]
    else:  # blue-green
        blue: dict = {"activeService": _name(name), "previewService": _name(name, "-preview"),
                      "autoPromotionEnabled": bool(strategy.get("auto_promote"))}
        if analysis:
            blue["prePromotionAnalysis"] = {"templates": template}
        spec_strategy = {"blueGreen": blue}
        docs += [_service(_name(name), model, env), _service(_name(name, "-preview"), model, env)]
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": _meta(name, model, env),
               "spec": {"revisionHistoryLimit": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        "template": _pod(model, serving, project), "strategy": spec_strategy}}
    docs = [rollout, *docs, _hpa(name, model, env, serving)]
    if analysis:
        docs.append(_analysis(model, env, analysis, project))
    return docs


def _shadow(model, env: dict, serving: dict, project: dict) -> list[dict]:
    shadow = _name(model.name, "-shadow")
    ns = env["namespace"] or env["name"]
    host = f"{model.name}-predictor.{ns}.svc.cluster.local"
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": _meta(_name(model.name, "-mirror"), model, env,
                            {"charter.dev/shadow-duration": env["strategy"].get("duration") or "until removed"}),
          "spec": {"hosts": [host], "http": [{
              "route": [{"destination": {"host": host}, "weight": 100}],
              "mirror": {"host": f"{shadow}-predictor.{ns}.svc.cluster.local"},
              "mirrorPercentage": {"value": 100.0}}]}}
    return [_isvc(model, env, serving, project, shadow), vs]


def render(graph, out: str) -> dict[str, str]:
    files: dict[str, str] = {}
    by_env: dict[str, list[tuple[str, str]]] = {}
    for model in graph.models:
        for policy in model.rollouts:
            serving = policy["serving"]
            for env in policy["environments"]:
                strategy = env["strategy"]
                if strategy["type"] == "direct":
                    docs = [_isvc(model, env, serving, graph.project, _name(model.name))]
                elif strategy["type"] == "shadow":
                    docs = _shadow(model, env, serving, graph.project)
                else:
                    docs = _rollout(model, env, serving, graph.project, strategy)
                path = f"{out}/kubernetes/{env['name']}/{model.name}.yaml"
                files[path] = header(model.sources) + dump_yaml(*docs)
                by_env.setdefault(env["name"], []).append((f"{model.name}.yaml", env["namespace"] or env["name"]))
    for env, entries in sorted(by_env.items()):
        namespaces = sorted({ns for _, ns in entries})
        kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                         "resources": sorted(f for f, _ in entries),
                         "labels": [{"pairs": {"app.kubernetes.io/managed-by": "charter"}}]}
        if len(namespaces) == 1:
            kustomization = {**kustomization, "namespace": namespaces[0]}
        sources = sorted({s for m in graph.models if any(e["name"] == env for p in m.rollouts
                                                          for e in p["environments"]) for s in m.sources})
        files[f"{out}/kubernetes/{env}/kustomization.yaml"] = header(sources) + dump_yaml(kustomization)
    return dict(sorted(files.items()))

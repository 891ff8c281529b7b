"""Target `argo`: Argo Workflows for every model, `<out>/argo/<model>.yaml`.

- A `WorkflowTemplate` `charter-<model>`: a DAG with one task per IR step, each running
  `charter run MODEL --step STEP` in the project image, in `/workspace` (the image holds the
  repository). `depends` follows the IR's `needs`. The ingest step retries (3 times, with
  backoff): it reads external data. Steps hand their outputs over through the artifact
  store: an URL store (`s3://`...) is reached by every pod; a local `artifact_store` becomes
  a volume claimed per workflow run and mounted at `/charter-store` (`CHARTER_STORE`).
- A `CronWorkflow` `charter-<model>-monitor` on the MetricSet's schedule (UTC) running
  `charter monitor MODEL --data SOURCE`, one run at a time.
- `<out>/argo/checks.yaml`: a `WorkflowTemplate` `charter-checks` running `charter
  check-data NAME` for every data-only check.

No spec value is ever inside an Argo expression: every command is a literal argument list
(step names are fixed words, model names DNS labels), and the one free text, the
description annotation, has `{{` broken up so Argo could never read it as a template.
"""

from __future__ import annotations

from compiler import __version__
from compiler.render.common import WORKDIR, dump_yaml, image, step_argv
from compiler.render.header import header

API = "argoproj.io/v1alpha1"
STORE_MOUNT = "/charter-store"


def _inert(text: str) -> str:
    return text.replace("{{", "{ {").replace("}}", "} }")


def _meta(name: str, model: str, description: str | None) -> dict:
    meta: dict = {"name": name, "labels": {"app.kubernetes.io/managed-by": "charter",
                                           "app.kubernetes.io/version": __version__, "charter.dev/model": model}}
    if description:
        meta["annotations"] = {"workflows.argoproj.io/description": _inert(description)}
    return meta


def _local_store(project: dict) -> bool:
    return "://" not in project.get("artifact_store", ".charter/artifacts")


def _container(project: dict, argv: list[str]) -> dict:
    container: dict = {"image": image(project), "command": argv[:1], "args": argv[1:], "workingDir": WORKDIR}
    if _local_store(project):
        container["env"] = [{"name": "CHARTER_STORE", "value": STORE_MOUNT}]
        container["volumeMounts"] = [{"name": "charter-store", "mountPath": STORE_MOUNT}]
    return container


def _spec(project: dict, entry: str, templates: list[dict]) -> dict:
    spec: dict = {"entrypoint": entry, "templates": templates}
    if _local_store(project):
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "charter-store"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
    return spec


def _pipeline(model, project: dict) -> dict:
    tasks, templates = [], []
    for step in model.steps:
        task: dict = {"name": step.name, "template": step.name}
        needs = [n.split("/", 1)[1] for n in step.needs]
        if needs:
            task["depends"] = " && ".join(f"{n}.Succeeded" for n in needs)
        tasks.append(task)
        template: dict = {"name": step.name, "container": _container(project, step_argv(model.name, step.name))}
        if step.name == "ingest":  # reads a file or database outside the cluster: retry transient failures
            template["retryStrategy"] = {"limit": "3", "retryPolicy": "Always",  # IntOrString: a string
                                         "backoff": {"duration": "30s", "factor": "2", "maxDuration": "10m"}}
        templates.append(template)
    dag = {"name": "pipeline", "dag": {"tasks": tasks}}
    return {"apiVersion": API, "kind": "WorkflowTemplate",
            "metadata": _meta(f"charter-{model.name}", model.name, model.description),
            "spec": _spec(project, "pipeline", [dag, *templates])}


def _monitor(model, project: dict) -> dict:
    source = model.step("ingest").params["source"]
    template = {"name": "monitor", "container": _container(project, ["charter", "monitor", model.name, "--data", source])}
    spec = _spec(project, "monitor", [template])
    return {"apiVersion": API, "kind": "CronWorkflow",
            "metadata": _meta(f"charter-{model.name}-monitor"[:52], model.name, model.description),
            "spec": {"schedules": [model.monitoring["schedule"]], "timezone": "UTC", "concurrencyPolicy": "Forbid",
                     "startingDeadlineSeconds": 600, "workflowSpec": spec}}


def _checks(graph) -> dict:
    tasks = [{"name": c.name, "template": f"check-{c.name}"} for c in graph.checks]
    templates = [{"name": f"check-{c.name}", "container": _container(graph.project, step_argv(c.name, "", check=True))}
                 for c in graph.checks]
    return {"apiVersion": API, "kind": "WorkflowTemplate", "metadata": _meta("charter-checks", "checks", None),
            "spec": _spec(graph.project, "run-checks", [{"name": "run-checks", "dag": {"tasks": tasks}}, *templates])}


def render(graph, out: str) -> dict[str, str]:
    files = {}
    for model in graph.models:
        docs = [_pipeline(model, graph.project)]
        if model.monitoring and model.monitoring.get("enabled", True):
            docs.append(_monitor(model, graph.project))
        files[f"{out}/argo/{model.name}.yaml"] = header(model.sources) + dump_yaml(*docs)
    if graph.checks:
        sources = sorted({s for c in graph.checks for s in c.sources})
        files[f"{out}/argo/checks.yaml"] = header(sources) + dump_yaml(_checks(graph))
    return dict(sorted(files.items()))

"""Target `argo`: Argo Workflows resources, `<out>/argo/<model>.yaml` and `<out>/argo/_checks.yaml`.

- A `WorkflowTemplate` `charter-<model>`: a DAG with one task per IR step, `depends` from the
  IR's needs, each running `charter run MODEL --step STEP` in the project image, in
  `/workspace` (the image holds the repository). Steps hand their outputs over through the
  artifact store: `shared_store` (or a URL `artifact_store`, `s3://`...) is every pod's
  `CHARTER_STORE`; without one, a volume is claimed per run and mounted at `/charter-store`
  (models and locks then die with the run: declare a shared store).
- A `CronWorkflow` `charter-<model>-monitor` on the MetricSet's schedule (UTC) running
  `charter monitor MODEL --data SOURCE`, one run at a time.
- `_checks.yaml`: a `WorkflowTemplate` `charter--checks` running `charter check-data NAME` for
  every data-only check. No model can take these names (`<model>.yaml`, `charter-<model>`):
  a model name is a DNS label, which starts with neither `_` nor `-`.

Argo expands `{{...}}` in a template's fields (image, args, env...), so no spec text goes
there: commands are argument lists of DNS-label names, the image is an OCI reference (both
validated; `_plain` refuses anything else). The one free text, the description, is only in
the `workflows.argoproj.io/description` annotation of the resource's own metadata, which
Argo shows in its UI but never expands nor copies into the Workflows it starts.
"""

from __future__ import annotations

import hashlib

from compiler.render.common import WORKDIR, dump_yaml, image, shared_store, step_argv, sunday_as_zero
from compiler.render.header import header

API = "argoproj.io/v1alpha1"
CHECKS_FILE = "_checks.yaml"
CHECKS_NAME = "charter--checks"
STORE_VOLUME, STORE_MOUNT, STORE_SIZE = "charter-store", "/charter-store", "10Gi"
_MAX_NAME, _MAX_CRON_NAME = 63, 52  # Argo's limits: a CronWorkflow's runs append `-<unix time>`


def _plain(text: str) -> str:
    """A value for a field Argo expands; validated specs never hold `{{`, a hand-made IR might."""
    if "{{" in text or "}}" in text:
        raise ValueError(f"refusing to put {text!r} where Argo expands `{{{{...}}}}`")
    return text


def _name(base: str, limit: int) -> str:
    """`base` if Argo accepts its length, else a prefix plus a hash of all of it (stays unique)."""
    if len(base) <= limit:
        return base
    return base[: limit - 9].rstrip("-") + "-" + hashlib.sha256(base.encode()).hexdigest()[:8]


def _meta(name: str, component: str, model: str | None, description: str = "") -> dict:
    labels = {"app.kubernetes.io/managed-by": "charter", "app.kubernetes.io/component": component}
    if model:
        labels["charter.dev/model"] = model
    meta: dict = {"name": name, "labels": labels}
    if description:  # shown (as Markdown) in Argo's lists, never expanded: see the module docstring
        meta["annotations"] = {"workflows.argoproj.io/description": description}
    return meta


def local_store(project: dict) -> bool:
    """Whether there is no store other pods can reach (`shared_store`, or a URL `artifact_store`)."""
    return shared_store(project) is None


def _retry(any_failure: bool) -> dict:
    """Three retries with backoff; on any failure only where the step just reads outside data.

    Reading fails for passing reasons, so ingest retries whatever went wrong. Any other step's
    non-zero exit is a finding (a failed gate or check, drift) that a retry would only repeat:
    those retry Argo's errors alone (a pod evicted, a node lost). `limit` is an IntOrString, a
    string in Argo's schema. Steps are safe to re-run: the store counts a step as done only
    once all its outputs are written.
    """
    if any_failure:
        return {"limit": "3", "retryPolicy": "Always",
                "backoff": {"duration": "30s", "factor": "2", "maxDuration": "10m"}}
    return {"limit": "3", "retryPolicy": "OnError", "backoff": {"duration": "10s", "factor": "2"}}


def _task_template(name: str, project: dict, argv: list[str], *, volume: bool, any_failure: bool = False) -> dict:
    """A container template; its `CHARTER_STORE` is the shared store, or the per-run volume."""
    container: dict = {"image": _plain(image(project)), "command": argv[:1], "args": [_plain(a) for a in argv[1:]],
                       "workingDir": WORKDIR}
    url = shared_store(project)
    if url is not None:
        container["env"] = [{"name": "CHARTER_STORE", "value": _plain(url)}]
    elif volume:
        container["env"] = [{"name": "CHARTER_STORE", "value": STORE_MOUNT}]
        container["volumeMounts"] = [{"name": STORE_VOLUME, "mountPath": STORE_MOUNT}]
    return {"name": name, "container": container, "retryStrategy": _retry(any_failure)}


def pipeline(model, project: dict) -> dict:
    store = local_store(project)
    tasks = []
    for step in model.steps:
        task = {"name": step.name, "template": step.name}
        if step.needs:  # ids are `<model>/<step>`
            task["depends"] = " && ".join(f"{n.split('/', 1)[1]}.Succeeded" for n in step.needs)
        tasks.append(task)
    templates = [_task_template(s.name, project, step_argv(model.name, s.name), volume=store,
                                any_failure=s.name == "ingest") for s in model.steps]
    spec: dict = {"entrypoint": "pipeline", "templates": [{"name": "pipeline", "dag": {"tasks": tasks}}, *templates]}
    if store:
        # One volume per run, deleted when it succeeds (a failed run keeps it for `argo retry`).
        # ReadWriteOnce is enough and every cluster has it: a pipeline's steps form a chain, so
        # no two of its pods ever use the volume at once.
        spec["volumeClaimTemplates"] = [{"metadata": {"name": STORE_VOLUME}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": STORE_SIZE}}}}]
    return {"apiVersion": API, "kind": "WorkflowTemplate",
            "metadata": _meta(_name(f"charter-{model.name}", _MAX_NAME), "pipeline", model.name, model.description),
            "spec": spec}


def monitored(model) -> bool:
    return bool(model.monitoring and model.monitoring.get("enabled", True) and model.monitoring.get("schedule"))


def monitor(model, project: dict) -> dict:
    # `charter monitor` reads the promoted package from the shared store; a per-run volume
    # would be empty, so without a shared store the monitor cannot find the model (documented).
    argv = ["charter", "monitor", model.name, "--data", model.step("ingest").params["source"]]
    spec = {"entrypoint": "monitor", "templates": [_task_template("monitor", project, argv, volume=False)]}
    return {"apiVersion": API, "kind": "CronWorkflow",
            "metadata": _meta(_name(f"charter-{model.name}-monitor", _MAX_CRON_NAME), "monitor", model.name,
                              model.description),
            "spec": {"schedules": [_plain(cron(model.monitoring["schedule"]))], "timezone": "UTC",
                     "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600, "workflowSpec": spec}}


def cron(expr: str) -> str:
    """A validated cron as Argo's parser (robfig/cron) reads it.

    Single spaces, lowercase (robfig's macros are), and Sunday as 0 (robfig rejects the 7 that
    crontab accepts).
    """
    return sunday_as_zero(" ".join(expr.lower().split()))


def checks(graph) -> dict:
    # A suite and a lone source may share a name; `charter check-data NAME` runs the suite then,
    # so one task per name (Argo also rejects two tasks with one name).
    names = list(dict.fromkeys(c.name for c in graph.checks))
    tasks = [{"name": n, "template": f"check-{n}"} for n in names]
    # One pod runs a check's ingest, prepare and validate: a local store needs no shared volume.
    templates = [_task_template(f"check-{n}", graph.project, step_argv(n, "", check=True), volume=False)
                 for n in names]
    return {"apiVersion": API, "kind": "WorkflowTemplate", "metadata": _meta(CHECKS_NAME, "data-checks", None),
            "spec": {"entrypoint": "checks", "templates": [{"name": "checks", "dag": {"tasks": tasks}}, *templates]}}


def render(graph, out: str) -> dict[str, str]:
    files = {}
    for model in graph.models:
        docs = [pipeline(model, graph.project)]
        if monitored(model):
            docs.append(monitor(model, graph.project))
        files[f"{out}/argo/{model.name}.yaml"] = header(model.sources) + dump_yaml(*docs)
    if graph.checks:
        sources = sorted({s for c in graph.checks for s in c.sources})
        files[f"{out}/argo/{CHECKS_FILE}"] = header(sources) + dump_yaml(checks(graph))
    return dict(sorted(files.items()))

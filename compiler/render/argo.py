"""Target `argo`: Argo Workflows resources, `<out>/argo/<model>.yaml` and `<out>/argo/_checks.yaml`.

- A `WorkflowTemplate` `charter-<model>`: a DAG with one task per IR step, `depends` from the
  IR's needs, each running `charter run MODEL --step STEP` in the project image, in
  `/workspace` (the image holds the repository). Steps hand their outputs over through the
  artifact store: `shared_store` (or a URL `artifact_store`, `s3://`...) is every pod's
  `CHARTER_STORE`; without one, a volume is claimed per run and mounted at `/charter-store`
  (models and locks then die with the run: declare a shared store).
- A `CronWorkflow` `charter-<model>-monitor` on the MetricSet's schedule (UTC) running
  `charter monitor MODEL --data SOURCE`, one run at a time.
- A `CronWorkflow` `charter-<model>-retrain` on the Model's `retrain.schedule` (UTC) that runs
  the `charter-<model>` WorkflowTemplate itself (`workflowTemplateRef`), one run at a time: the
  same steps, checks and gates. Its promoted package lands in the shared store; the CI's
  promotion job (a retraining or the next run after a merge) finds it there as a cached run
  and proposes the reviewed change of charter.lock.
- With `retrain.on_drift`, the monitor's CronWorkflow runs the model's pipeline after the
  monitor when it exits 1 (an alert); with `retrain.on_data_change`, a `CronWorkflow`
  `charter-<model>-data` on `retrain.poll` runs `charter status --data MODEL` and the pipeline
  when it exits 2 (the data changed since charter.lock's run). Both read the check's exit
  code (`steps.<name>.exitCode`, the check going on when it fails) and carry the pipeline's
  templates themselves.
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

from compiler.render.common import (
    WORKDIR,
    assemble,
    dump_yaml,
    go_duration,
    image,
    pod_resources,
    secret_env,
    shared_store,
    step_argv,
    sunday_as_zero,
    timeout_seconds,
    tolerations,
    trigger_check_settings,
)
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


def _retry(any_failure: bool, retries: dict | None) -> dict | None:
    """The declared retries (`compute.retries`), else three with backoff; none for `limit: 0`.

    The policy is on any failure only where the step just reads outside data: reading fails
    for passing reasons, so ingest retries whatever went wrong. Any other step's non-zero exit
    is a finding (a failed gate or check, drift) that a retry would only repeat: those retry
    Argo's errors alone (a pod evicted, a node lost). `limit` and `factor` are IntOrStrings,
    strings in Argo's schema. Steps are safe to re-run: the store counts a step as done only
    once all its outputs are written.
    """
    policy = "Always" if any_failure else "OnError"
    if retries is None:
        if any_failure:
            return {"limit": "3", "retryPolicy": policy,
                    "backoff": {"duration": "30s", "factor": "2", "maxDuration": "10m"}}
        return {"limit": "3", "retryPolicy": policy, "backoff": {"duration": "10s", "factor": "2"}}
    if not retries["limit"]:
        return None
    backoff = {"duration": go_duration(retries["backoff"]), "factor": str(retries["factor"])}
    if retries.get("max_backoff"):
        backoff["cap"] = go_duration(retries["max_backoff"])
    return {"limit": str(retries["limit"]), "retryPolicy": policy, "backoff": backoff}


def _task_template(name: str, project: dict, argv: list[str], *, volume: bool, any_failure: bool = False,
                   compute: dict | None = None) -> dict:
    """A container template; its `CHARTER_STORE` is the shared store, or the per-run volume.

    `compute` (the step's merged pod settings) adds resources, secrets as environment
    variables, a deadline per attempt, retries and placement; the service account is the
    workflow's (`_service_account`).
    """
    settings = compute or {}
    container: dict = {"image": _plain(image(project)), "command": argv[:1], "args": [_plain(a) for a in argv[1:]],
                       "workingDir": WORKDIR}
    env = []
    url = shared_store(project)
    if url is not None:
        env = [{"name": "CHARTER_STORE", "value": _plain(url)}]
    elif volume:
        env = [{"name": "CHARTER_STORE", "value": STORE_MOUNT}]
        container["volumeMounts"] = [{"name": STORE_VOLUME, "mountPath": STORE_MOUNT}]
    env += _inert(secret_env(settings))
    if env:
        container["env"] = env
    if resources := pod_resources(settings):
        container["resources"] = _inert(resources)
    template: dict = {"name": name, "container": container}
    if (deadline := timeout_seconds(settings)) is not None:
        template["activeDeadlineSeconds"] = str(deadline)  # per attempt (each retry is a new pod); IntOrString
    if (retry := _retry(any_failure, settings.get("retries"))) is not None:
        template["retryStrategy"] = retry
    if settings.get("node_selector"):
        template["nodeSelector"] = _inert(settings["node_selector"])
    if found := tolerations(settings):
        template["tolerations"] = _inert(found)
    return template


def _inert(value):
    """Pod settings are validated names, quantities and label values; a hand-made IR's go through `_plain`."""
    if isinstance(value, dict):
        return {_plain(k): _inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inert(v) for v in value]
    return _plain(value) if isinstance(value, str) else value


def _service_account(spec: dict, templates: list[dict], settings: list[dict]) -> None:
    """The workflow's `serviceAccountName` when every pod declares the same one, else each template's own."""
    accounts = [s.get("service_account") for s in settings]
    if accounts and accounts[0] and all(a == accounts[0] for a in accounts):
        spec["serviceAccountName"] = _plain(accounts[0])
        return
    for template, account in zip(templates, accounts, strict=True):
        if account:
            template["serviceAccountName"] = _plain(account)


def _pipeline_spec(model, project: dict, first: list[dict] | None = None,
                   extra: tuple[tuple[dict, dict], ...] = ()) -> dict:
    """The workflow spec of the model's pipeline: its DAG and one template per step.

    `first` (templates) and `extra` ((template, pod settings) pairs) make a triggered workflow
    that runs a check first and the same pipeline after it (`triggered`).
    """
    store = local_store(project)
    tasks = []
    for step in model.steps:
        task = {"name": step.name, "template": step.name}
        if step.needs:  # ids are `<model>/<step>`
            task["depends"] = " && ".join(f"{n.split('/', 1)[1]}.Succeeded" for n in step.needs)
        tasks.append(task)
    settings = [model.compute.get(s.name, {}) for s in model.steps]
    templates = [_task_template(s.name, project, step_argv(model.name, s.name), volume=store,
                                any_failure=s.name == "ingest", compute=c)
                 for s, c in zip(model.steps, settings, strict=True)]
    spec: dict = {"entrypoint": first[0]["name"] if first else "pipeline"}
    _service_account(spec, [*templates, *(t for t, _ in extra)], [*settings, *(c for _, c in extra)])
    spec["templates"] = [*(first or []), {"name": "pipeline", "dag": {"tasks": tasks}}, *templates,
                         *(t for t, _ in extra)]
    if store:
        # One volume per run, deleted when it succeeds (a failed run keeps it for `argo retry`).
        # ReadWriteOnce is enough and every cluster has it: a pipeline's steps form a chain, so
        # no two of its pods ever use the volume at once.
        spec["volumeClaimTemplates"] = [{"metadata": {"name": STORE_VOLUME}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": STORE_SIZE}}}}]
    return spec


def pipeline(model, project: dict) -> dict:
    return {"apiVersion": API, "kind": "WorkflowTemplate",
            "metadata": _meta(_name(f"charter-{model.name}", _MAX_NAME), "pipeline", model.name, model.description),
            "spec": _pipeline_spec(model, project)}


def triggered(model, project: dict, kind: str, schedule: str, argv: list[str], retrain_on: int) -> dict:
    """A CronWorkflow that runs `argv` on `schedule` and the model's pipeline when it exits `retrain_on`.

    The check's step goes on when it fails (`continueOn`), so its exit code decides: Argo's
    `steps.<name>.exitCode`. The pipeline's own templates are in the workflow (not a
    `templateRef`), with its volume, so the run is the WorkflowTemplate's, step for step.
    """
    settings = trigger_check_settings(model)
    check = _task_template(kind, project, argv, volume=False, compute=settings)
    steps = {"name": f"on-{kind}", "steps": [
        [{"name": kind, "template": kind, "continueOn": {"failed": True}}],
        [{"name": "retrain", "template": "pipeline", "when": f"{{{{steps.{kind}.exitCode}}}} == {retrain_on}"}]]}
    return {"apiVersion": API, "kind": "CronWorkflow",
            "metadata": _meta(_name(f"charter-{model.name}-{kind}", _MAX_CRON_NAME), kind, model.name,
                              model.description),
            "spec": {"schedules": [_plain(cron(schedule))], "timezone": "UTC", "concurrencyPolicy": "Forbid",
                     "startingDeadlineSeconds": 600,
                     "workflowSpec": _pipeline_spec(model, project, [steps], ((check, settings),))}}


def monitored(model) -> bool:
    return bool(model.monitoring and model.monitoring.get("enabled", True) and model.monitoring.get("schedule"))


def monitor(model, project: dict) -> dict:
    # `charter monitor` reads the promoted package from the shared store; a per-run volume
    # would be empty, so without a shared store the monitor cannot find the model (documented).
    argv = ["charter", "monitor", model.name, "--data", model.step("ingest").params["source"]]
    if (model.retrain or {}).get("on_drift"):  # an alert (exit 1) runs the pipeline; too few rows (3) does not
        return triggered(model, project, "monitor", model.monitoring["schedule"], argv, 1)
    settings = model.compute.get("monitor", {})
    templates = [_task_template("monitor", project, argv, volume=False, compute=settings)]
    spec: dict = {"entrypoint": "monitor"}
    _service_account(spec, templates, [settings])
    spec["templates"] = templates
    return {"apiVersion": API, "kind": "CronWorkflow",
            "metadata": _meta(_name(f"charter-{model.name}-monitor", _MAX_CRON_NAME), "monitor", model.name,
                              model.description),
            "spec": {"schedules": [_plain(cron(model.monitoring["schedule"]))], "timezone": "UTC",
                     "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600, "workflowSpec": spec}}


def retrain(model) -> dict:
    """Run the model's own WorkflowTemplate on its retraining schedule."""
    return {"apiVersion": API, "kind": "CronWorkflow",
            "metadata": _meta(_name(f"charter-{model.name}-retrain", _MAX_CRON_NAME), "retrain", model.name,
                              model.description),
            "spec": {"schedules": [_plain(cron(model.retrain["schedule"]))], "timezone": "UTC",
                     "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600,
                     "workflowSpec": {"workflowTemplateRef": {
                         "name": _name(f"charter-{model.name}", _MAX_NAME)}}}}


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
    first: dict = {}
    for c in graph.checks:
        first.setdefault(c.name, c)
    settings = [first[n].compute.get("check-data", {}) for n in names]
    templates = [_task_template(f"check-{n}", graph.project, step_argv(n, "", check=True), volume=False, compute=c)
                 for n, c in zip(names, settings, strict=True)]
    spec: dict = {"entrypoint": "checks"}
    _service_account(spec, templates, settings)
    spec["templates"] = [{"name": "checks", "dag": {"tasks": tasks}}, *templates]
    return {"apiVersion": API, "kind": "WorkflowTemplate", "metadata": _meta(CHECKS_NAME, "data-checks", None),
            "spec": spec}


def model_path(out: str, model: str) -> str:
    """Where this target writes a model's pipeline (`charter maturity` cites it as evidence)."""
    return f"{out}/argo/{model}.yaml"


def render(graph, out: str) -> dict[str, str]:
    return assemble(graph, out, render_model, render_shared)


def render_model(project: dict, model, out: str) -> dict[str, str]:
    docs = [pipeline(model, project)]
    if monitored(model):
        docs.append(monitor(model, project))
    if (model.retrain or {}).get("schedule"):
        docs.append(retrain(model))
    if (model.retrain or {}).get("on_data_change"):  # the data changed since charter.lock's run: exit 2
        docs.append(triggered(model, project, "data", model.retrain["poll"],
                              ["charter", "status", "--data", model.name], 2))
    return {model_path(out, model.name): header(model.sources) + dump_yaml(*docs)}


# What render_shared reads of the graph besides the project: the render memo keys it by just that.
SHARED_READS = ("checks",)


def render_shared(graph, out: str) -> dict[str, str]:
    """The data checks' file: reads the graph's checks and project settings only (SHARED_READS)."""
    if not graph.checks:
        return {}
    sources = sorted({s for c in graph.checks for s in c.sources})
    return {f"{out}/argo/{CHECKS_FILE}": header(sources) + dump_yaml(checks(graph))}

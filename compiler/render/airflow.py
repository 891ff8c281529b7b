"""Target `airflow`: Airflow 3 DAG files, one per model and one for the data-only checks.

`<out>/airflow/charter_<model>.py` (dashes become underscores) holds the model's training DAG
(`charter_<model>`: one task per IR step, edges from `needs`, on the Model's `retrain.schedule`
or else `schedule=None`, so triggered by hand or the API) and, when monitoring is enabled, its
monitoring DAG (`charter_<model>_monitor`, on the MetricSet's cron, running `charter monitor`;
with `retrain.on_drift`, a `retrain` task triggers the training DAG when the monitor fails,
exit 3, too few rows, skipping it); with `retrain.on_data_change`, a DAG `charter_<model>_data`
on `retrain.poll` runs `charter status --data` and triggers the training DAG when it fails (the
data changed since charter.lock's run). `<out>/airflow/charter__checks.py` holds a
one-task DAG per data-only check, `charter_<check>_check`. Names are DNS labels (no `_`), so
these ids never collide, and no model's file name starts with `charter__`.

`airflow.operator` in charter.yaml picks the operator: `kubernetes`, a KubernetesPodOperator
per step in the project's image (whose repository copy at `/workspace` is `--root`), or `bash`,
a BashOperator on the worker, started in the folder of the DAG file inside a checkout.

Airflow *executes* these files and renders operator fields through Jinja. So a spec value is
only ever a Python literal made by `ascii()` (escaped, one line, ASCII), never code. Templated
fields get names (DNS labels) and fixed words; the two values there that are not ours, the
image (spec text) and the DAG file's folder (the deployment's), are wrapped in `literal()`,
which Jinja skips. Descriptions go to `description` and `doc_md`, which are not templated;
`doc_md` is escaped Markdown and never ends in `.md` (Airflow would read that file from disk).
"""

from __future__ import annotations

import re
import shlex

from compiler import __version__
from compiler.render.common import (
    WORKDIR,
    assemble,
    image,
    pod_resources,
    seconds,
    shared_store,
    step_argv,
    timeout_seconds,
    tolerations,
    trigger_check_settings,
)
from compiler.render.header import header

FOLDER = "airflow"
CHECKS = "charter__checks.py"
START = "pendulum.datetime(2026, 1, 1, tz='UTC')"  # fixed: output must not depend on the day
# The artifact store every task uses: charter.yaml's `shared_store` (as a `literal()`, which
# Jinja does not render). Without one, pods read the Airflow Variable `charter_store`; unset,
# it renders empty and charter falls back to charter.yaml's `artifact_store`.
STORE = "{{ var.value.get('charter_store', '') }}"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~&])")
_IMPORTS = {
    "kubernetes": ["import pendulum",
                   "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
                   "from airflow.sdk import DAG, literal"],
    "bash": ["import pathlib", "", "import pendulum",
             "from airflow.providers.standard.operators.bash import BashOperator",
             "from airflow.sdk import DAG, literal"],
}  # fmt: skip


def lit(value: object) -> str:
    """A Python string literal holding exactly `value`: escaped, ASCII, on one line."""
    return ascii(str(value))


def _list(values) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def _md(text: str) -> str:
    """Spec text as inert Markdown on one line: no HTML, links, emphasis or code spans."""
    flat = " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _var(name: str) -> str:
    """A task variable: step names are IR step kinds, fixed identifiers; check it anyway."""
    var = name.replace("-", "_")
    if not var.isidentifier() or var in {"dag", "monitor_dag", "pendulum", "pathlib", "literal", "DAG", "IMAGE",
                                         "STORE", "HERE", "KubernetesPodOperator", "BashOperator",
                                         "monitor", "retrain", "check_data", "datetime", "k8s", "Secret",
                                         "TriggerDagRunOperator", "data_dag", "data_changed"}:
        raise ValueError(f"step name {name!r} cannot name a task variable")
    return var


def _task(var: str, task_id: str, argv: list[str], operator: str, pod: str, shared: bool = False,
          compute: dict | None = None, skip_on: int | None = None) -> list[str]:
    settings = compute or {}
    skip = [f"        skip_on_exit_code={skip_on},"] if skip_on is not None else []
    if operator == "kubernetes":
        return [f"    {var} = KubernetesPodOperator(", f"        task_id={lit(task_id)},", f"        name={lit(pod)},",
                "        image=IMAGE,", f"        cmds={_list(argv[:1])},",
                f"        arguments={_list([*argv[1:], '--root', WORKDIR])},",
                f"        env_vars={{{lit('CHARTER_STORE')}: STORE}},", *_pod(settings), *_attempts(settings),
                *skip, "        get_logs=True,", f"        on_finish_action={lit('delete_pod')},", "    )"]  # fmt: skip
    command = shlex.join(argv)
    if command.endswith((".sh", ".bash")):  # BashOperator would load it as a template file
        command += " "
    env = f", env={{{lit('CHARTER_STORE')}: STORE}}, append_env=True" if shared else ""
    call = f"    {var} = BashOperator(task_id={lit(task_id)}, bash_command={lit(command)}, cwd=HERE{env}"
    attempts = [*_attempts(settings), *skip]
    return [call + ",", *attempts, "    )"] if attempts else [call + ")"]


def _plain(value: str) -> str:
    """A pod setting that reaches a templated field (resources, node selector) or a pod.

    Validated settings are names, quantities and label values, without braces; a hand-made
    IR's could start a Jinja expression.
    """
    if any(c in value for c in "{}%#"):
        raise ValueError(f"refusing to put {value!r} where Airflow renders Jinja")
    return value


def _dict(values: dict) -> str:
    return "{" + ", ".join(f"{lit(_plain(k))}: {lit(_plain(v))}" for k, v in values.items()) + "}"


def _block(start: str, items: list[str], end: str) -> list[str]:
    """An argument whose items go one per line, so generated lines stay short (ruff reads these files)."""
    return [f"        {start}", *(f"            {item}," for item in items), f"        {end},"]


def _pod(settings: dict) -> list[str]:
    """KubernetesPodOperator's own arguments for the pod: resources, placement, identity, secrets."""
    lines = []
    if resources := pod_resources(settings):
        lines += _block("container_resources=k8s.V1ResourceRequirements(",
                        [f"{part}={_dict(amounts)}" for part, amounts in resources.items()], ")")
    if settings.get("node_selector"):
        lines += _block("node_selector={", [_dict({k: v})[1:-1] for k, v in settings["node_selector"].items()], "}")
    if found := tolerations(settings):
        made = [f"k8s.V1Toleration({', '.join(f'{k}={lit(_plain(v))}' for k, v in t.items())})" for t in found]
        lines += _block("tolerations=[", made, "]")
    if settings.get("service_account"):
        lines.append(f"        service_account_name={lit(_plain(settings['service_account']))},")
    secrets = [f"Secret({lit('env')}, {lit(_plain(var))}, {lit(_plain(ref['name']))}, {lit(_plain(ref['key']))})"
               for var, ref in sorted((settings.get("secrets") or {}).items())]
    if secrets:
        lines += _block("secrets=[", secrets, "]")
    return lines


def _attempts(settings: dict) -> list[str]:
    """Every operator's retries and timeout: `retries`, `retry_delay`, `retry_exponential_backoff`...

    Also `max_retry_delay` and `execution_timeout` (per try).
    """
    lines = []
    retries = settings.get("retries")
    if retries and retries["limit"]:
        lines += [f"        retries={retries['limit']},",
                  f"        retry_delay=datetime.timedelta(seconds={seconds(retries['backoff'])}),"]
        if retries["factor"] > 1:  # Airflow 3's multiplier; 1 (or 0) waits the same each time
            lines.append(f"        retry_exponential_backoff={float(retries['factor'])!r},")
        if retries.get("max_backoff"):
            lines.append(f"        max_retry_delay=datetime.timedelta(seconds={seconds(retries['max_backoff'])}),")
    if (deadline := timeout_seconds(settings)) is not None:
        lines.append(f"        execution_timeout=datetime.timedelta(seconds={deadline}),")
    return lines


def _dag(var: str, dag_id: str, description: str, doc: str, schedule: str | None, tags: list[str],
         owner: str | None) -> list[str]:
    pieces = [f"        {lit(line + chr(10))}" for line in doc.removesuffix("\n").split("\n")]  # one per line
    lines = ["with DAG(", f"    dag_id={lit(dag_id)},", f"    description={lit(description)},", "    doc_md=(",
             *pieces, "    ),", f"    schedule={lit(schedule) if schedule else None},", f"    start_date={START},",
             "    catchup=False,", "    max_active_runs=1,", f"    tags={_list(tags)},"]
    if owner:
        lines.append(f"    default_args={{{lit('owner')}: {lit(owner)}}},")
    return [*lines, f") as {var}:"]


def _doc(title: str, text: str, what: str, sources) -> str:
    """`doc_md`: ends with a fixed sentence, so never in `.md`."""
    listed = ", ".join(_md(s) for s in sorted(set(sources)))
    body = f"{_md(text)}\n\n" if text.strip() else ""
    return (f"#### {title}\n\n{body}{what}\n\nGenerated by charter {__version__} from {listed}.\n"
            "Do not edit: change the specs and run `charter compile`.\n")


def _owner(pipeline, *stages: str) -> str | None:
    found = next((pipeline.owners[s] for s in stages if pipeline.owners.get(s)), None)
    return found["accountable"] if found else None


def model_file(project: dict, model, operator: str) -> str:
    shared = shared_store(project) is not None
    title = f"Model `{model.name}` ({model.task.replace('_', ' ')})"
    what = f"One task per pipeline step, each running `charter run {model.name} --step <step>`."
    lines = [*_dag("dag", f"charter_{model.name}", model.description or f"Trains {model.name}",
                   _doc(title, model.description, what, model.sources), (model.retrain or {}).get("schedule"),
                   ["charter", f"model:{model.name}"],
                   _owner(model, "model"))]
    for step in model.steps:
        lines += _task(_var(step.name), step.name, step_argv(model.name, step.name), operator,
                       f"charter-{model.name}-{step.name}", shared, model.compute.get(step.name))
    names = {s.id: _var(s.name) for s in model.steps}
    lines += [f"    {names[need]} >> {names[step.id]}" for step in model.steps for need in sorted(step.needs)]
    monitoring = model.monitoring
    if monitoring and monitoring.get("enabled", True):
        source = model.step("ingest").params["source"]
        argv = ["charter", "monitor", model.name, "--data", source]
        what = f"Runs `{shlex.join(argv)}` on the MetricSet's schedule (UTC).\nDrift above the limit fails the task."
        lines += ["", *_dag("monitor_dag", f"charter_{model.name}_monitor", f"Monitors {model.name} for drift",
                            _doc(f"Monitoring of `{model.name}`", model.description, what, model.sources),
                            monitoring["schedule"], ["charter", f"model:{model.name}", "monitoring"],
                            _owner(model, "monitoring", "model"))]
        on_drift = bool((model.retrain or {}).get("on_drift"))
        lines += _task("monitor", "monitor", argv, operator, f"charter-{model.name}-monitor", shared,
                       model.compute.get("monitor"), skip_on=3 if on_drift else None)
        if on_drift:  # an alert (exit 1) retrains: the training DAG's own checks and gates
            lines += _retrain_trigger(model, "monitor")
    if (model.retrain or {}).get("on_data_change"):
        argv = ["charter", "status", "--data", model.name]
        what = (f"Runs `{shlex.join(argv)}` on `retrain.poll` (UTC): it fails when the data changed since "
                "charter.lock's run,\nand the training DAG runs then.")
        lines += ["", *_dag("data_dag", f"charter_{model.name}_data", f"Looks at {model.name}'s training data",
                            _doc(f"Data changes of `{model.name}`", model.description, what, model.sources),
                            model.retrain["poll"], ["charter", f"model:{model.name}", "retraining"],
                            _owner(model, "data", "model"))]
        lines += _task("data_changed", "data_changed", argv, operator, f"charter-{model.name}-data", shared,
                       trigger_check_settings(model))
        lines += _retrain_trigger(model, "data_changed")
    intro = f"# Airflow 3 DAGs of the model {model.name}; see docs/targets/airflow.md."
    triggers = bool(monitoring and monitoring.get("enabled", True) and (model.retrain or {}).get("on_drift")) \
        or bool((model.retrain or {}).get("on_data_change"))
    return _file(project, model.sources, intro, operator, lines, list(model.compute.values()), triggers)


def _retrain_trigger(model, upstream: str) -> list[str]:
    """A `retrain` task that starts the training DAG (its own checks and gates) when `upstream` failed."""
    return [f"    retrain = TriggerDagRunOperator(task_id={lit('retrain')}, "
            f"trigger_dag_id={lit(f'charter_{model.name}')}, trigger_rule={lit('all_failed')})",
            f"    {upstream} >> retrain"]


def checks_file(graph, operator: str) -> str:
    shared = shared_store(graph.project) is not None
    lines: list[str] = []
    for check in graph.checks:
        argv = step_argv(check.name, "", check=True)
        what = f"Runs `{shlex.join(argv)}`: ingest, clean and validate the data."
        lines += [*_dag("dag", f"charter_{check.name}_check", f"Checks the data of {check.name}",
                        _doc(f"Data check `{check.name}`", check.description, what, check.sources), None,
                        ["charter", "data-check"], None),
                  *_task("check_data", "check-data", argv, operator, f"charter-{check.name}-check", shared,
                         check.compute.get("check-data")), ""]
    intro = "# Airflow 3 DAGs of the data-only checks; see docs/targets/airflow.md."
    return _file(graph.project, [s for c in graph.checks for s in c.sources], intro, operator, lines[:-1],
                 [c.compute.get("check-data", {}) for c in graph.checks])


def _imports(operator: str, settings: list[dict], triggers: bool = False) -> list[str]:
    """The file's imports: the operator's, plus what the pod settings of its tasks use."""
    lines = list(_IMPORTS[operator])
    if any((s.get("retries") or {}).get("limit") or s.get("timeout") for s in settings):
        lines[:0] = ["import datetime"] if operator == "bash" else ["import datetime", ""]  # the stdlib block
    if operator == "kubernetes":
        if any(s.get("secrets") for s in settings):
            lines.insert(-1, "from airflow.providers.cncf.kubernetes.secret import Secret")
        if any(pod_resources(s) or s.get("tolerations") for s in settings):
            lines.append("from kubernetes.client import models as k8s")
    if triggers:  # the last provider import, before airflow.sdk's
        lines.insert(lines.index("from airflow.sdk import DAG, literal"),
                     "from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator")
    return lines


def _file(project: dict, sources, intro: str, operator: str, body: list[str], settings: list[dict],
          triggers: bool = False) -> str:
    # A path with a line break would end the header comment and start code: escape it.
    safe = [s if s.isascii() and s.isprintable() else ascii(s)[1:-1] for s in sources]
    lines = [intro, *_imports(operator, settings, triggers), ""]
    # Values that reach a templated field but are not ours (the image is spec text, the folder
    # the deployment's): `literal()` so that Jinja never renders them.
    store = shared_store(project)
    shared = f"STORE = literal({lit(store)})" if store else None
    if operator == "kubernetes":
        lines += [f"IMAGE = literal({lit(image(project))})", shared or f"STORE = {lit(STORE)}", "", ""]
    else:  # charter finds the repository root upwards from the folder holding this file
        lines += ["HERE = literal(str(pathlib.Path(__file__).resolve().parent))", *([shared] if shared else []),
                  "", ""]
    return header(safe) + "\n".join([*lines, *body]) + "\n"


def model_path(out: str, model: str) -> str:
    """Where this target writes a model's DAG (`charter maturity` cites it as evidence)."""
    return f"{out}/{FOLDER}/charter_{model.replace('-', '_')}.py"


def render(graph, out: str) -> dict[str, str]:
    return assemble(graph, out, render_model, render_shared)


def _operator(project: dict) -> str:
    operator = (project.get("airflow") or {}).get("operator", "kubernetes")
    if operator not in _IMPORTS:
        raise ValueError(f"unknown airflow operator {operator!r}")
    return operator


def render_model(project: dict, model, out: str) -> dict[str, str]:
    return {model_path(out, model.name): model_file(project, model, _operator(project))}


# What render_shared reads of the graph besides the project: the render memo keys it by just that.
SHARED_READS = ("checks",)


def render_shared(graph, out: str) -> dict[str, str]:
    """The data checks' file: reads the graph's checks and project settings only (SHARED_READS)."""
    operator = _operator(graph.project)
    return {f"{out}/{FOLDER}/{CHECKS}": checks_file(graph, operator)} if graph.checks else {}

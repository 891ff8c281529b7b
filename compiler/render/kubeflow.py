"""Target `kubeflow`: a Kubeflow Pipelines v2 pipeline per model, `<out>/kubeflow/<model>.yaml`.

`<out>/kubeflow/_checks.yaml` holds the data-only checks (no model can take that name: a
DNS label does not start with `_`).

Each file is the `PipelineSpec` (KFP's IR, `schemaVersion` 2.1.0) that the kfp SDK's
`Compiler().compile` writes for a pipeline of container components: one per IR step, running
`charter run MODEL --step STEP --root /workspace` in the project image (KFP has no
working-directory field), ordered by the IR's needs, with kfp's `# PIPELINE DEFINITION`
comments first (kfp's loader reads the description from the file's third line) and
Charter's header after them. The spec is written here, not by the SDK: the same bytes
whatever kfp a user has installed, or none (`charter compile` needs only the core install),
and no 0.4 s import of kfp. `sdkVersion` names the kfp release those bytes were checked
against (`KFP_SDK`): a test compiles the same pipelines with that kfp's own compiler and
compares the files byte for byte, and reads every file back through KFP's protobufs.

Charter caches steps by content itself, so KFP's cache is off for every task: it keys on a
task's command and inputs, which stay the same when the specs change. Steps are separate
pods that share only the artifact store: `shared_store` (or a URL `artifact_store`) is every
container's `CHARTER_STORE` (kfp's `set_env_variable`).
"""

from __future__ import annotations

import hashlib
import re

from compiler.render.common import (
    WORKDIR,
    assemble,
    dump_yaml,
    image,
    seconds,
    shared_store,
    step_argv,
    timeout_seconds,
    tolerations,
)
from compiler.render.header import header

# The kfp release whose compiler writes exactly these files (the dev lock installs it, and
# tests/targets/test_kubeflow.py compares); moving it is a change to every committed file.
KFP_SDK = "2.17.3"
SCHEMA_VERSION = "2.1.0"
CHECKS_FILE, CHECKS_NAME = "_checks.yaml", "charter-checks"
CHECKS_DESCRIPTION = "Data checks of sources and suites no model uses."

# display name, argv, names of the tasks it needs, merged pod settings (the IR's `compute`)
Task = tuple[str, tuple[str, ...], tuple[str, ...], dict]


def model_path(out: str, model: str) -> str:
    """Where this target writes a model's pipeline (`charter maturity` cites it as evidence)."""
    return f"{out}/kubeflow/{model}.yaml"


def render(graph, out: str) -> dict[str, str]:
    return assemble(graph, out, render_model, render_shared)


def _container(project: dict) -> tuple[str, list[dict]]:
    store = shared_store(project)
    return _plain(image(project)), [{"name": "CHARTER_STORE", "value": _plain(store)}] if store else []


def render_model(project: dict, model, out: str) -> dict[str, str]:
    img, env = _container(project)
    tasks = [(s.name, _argv(model.name, s.name), tuple(n.split("/", 1)[1] for n in s.needs),
              model.compute.get(s.name, {})) for s in model.steps]
    return {model_path(out, model.name): _file(model.sources, pipeline_name(model.name), model.description,
                                           tasks, img, env)}


# What render_shared reads of the graph besides the project: the render memo keys it by just that.
SHARED_READS = ("checks",)


def render_shared(graph, out: str) -> dict[str, str]:
    """The data checks' file: reads the graph's checks and project settings only (SHARED_READS)."""
    if not graph.checks:
        return {}
    img, env = _container(graph.project)
    tasks: list[Task] = [(f"check-{c.name}", _argv(c.name, None), (), c.compute.get("check-data", {}))
                         for c in graph.checks]
    sources = [s for c in graph.checks for s in c.sources]
    return {f"{out}/kubeflow/{CHECKS_FILE}": _file(sources, CHECKS_NAME, CHECKS_DESCRIPTION, tasks, img, env)}


def pipeline_name(model: str) -> str:
    """`charter-<model>`, unique in KFP.

    KFP collapses runs of `-` in a pipeline's name, so a model name holding `--` (or the model
    `checks`) also gets a hash of itself: `a--b` and `a-b` stay two pipelines, and the data
    checks keep theirs.
    """
    name = f"charter-{model}"
    if "--" not in model and name != CHECKS_NAME:
        return name
    return f"charter-{'-'.join(filter(None, model.split('-')))}-{_short_hash(model)}"


def _file(sources, name: str, description: str, tasks: list[Task], img: str, env: list[dict]) -> str:
    description = _inert(description)
    text = _comments(name, description) + header(sources) + dump_yaml(_spec(name, description, tasks, img, env))
    platform = _platform(tasks)  # kfp writes it as a second document, only when a task has one
    return text + "---\n" + dump_yaml(platform) if platform else text


def _spec(name: str, description: str, tasks: list[Task], img: str, env: list[dict]) -> dict:
    """The `PipelineSpec` as a dict, keys sorted (kfp's writer sorts them)."""
    keys = _task_keys([step for step, _, _, _ in tasks])
    components, executors, dag = {}, {}, {}
    for step, argv, needs, settings in tasks:
        key = keys[step]
        components[f"comp-{key}"] = {"executorLabel": f"exec-{key}"}
        container = {"args": list(argv[1:]), "command": list(argv[:1]), **({"env": env} if env else {}), "image": img}
        if resources := _resources(settings):
            container["resources"] = resources
        executors[f"exec-{key}"] = {"container": container}
        task: dict = {"cachingOptions": {}, "componentRef": {"name": f"comp-{key}"}}
        if needs:
            task["dependentTasks"] = sorted(keys[n] for n in needs)
        if retry := _retry(settings):
            task["retryPolicy"] = retry
        task["taskInfo"] = {"name": step}
        dag[key] = task
    info = {"description": description, "name": _k8s(name)} if description else {"name": _k8s(name)}
    return {
        "components": dict(sorted(components.items())),
        "deploymentSpec": {"executors": dict(sorted(executors.items()))},
        "pipelineInfo": info,
        "root": {"dag": {"tasks": dict(sorted(dag.items()))}},
        "schemaVersion": SCHEMA_VERSION,
        "sdkVersion": f"kfp-{KFP_SDK}",
    }


def _resources(settings: dict) -> dict:
    """What kfp's `set_cpu_request/limit`, `set_memory_request/limit` and `set_accelerator_type/limit` write.

    Both the `resource*` strings and the older float fields (cores, and gigabytes as kfp's
    `_memory_to_float` computes them), which KFP backends before 2.3 read.
    """
    res = settings.get("resources") or {}
    out: dict = {}
    if res.get("gpus"):
        count = str(res["gpus"])
        out["accelerator"] = {"count": count, "resourceCount": count, "resourceType": _plain(res["gpu_type"]),
                              "type": res["gpu_type"]}
    for part, name in (("limits", "Limit"), ("requests", "Request")):
        amounts = res.get(part) or {}
        if "cpu" in amounts:
            out[f"cpu{name}"] = _cpu_float(amounts["cpu"])
            out[f"resourceCpu{name}"] = _plain(amounts["cpu"])
        if "memory" in amounts:
            out[f"memory{name}"] = _memory_float(amounts["memory"])
            out[f"resourceMemory{name}"] = _plain(amounts["memory"])
    return dict(sorted(out.items()))


# kfp.dsl.constants: the factors of kfp's `_memory_to_float`, which divides by 10**9 (GB).
_MEMORY = {"E": 10**18, "Ei": 1 << 60, "P": 10**15, "Pi": 1 << 50, "T": 10**12, "Ti": 1 << 40, "G": 10**9,
           "Gi": 1 << 30, "M": 10**6, "Mi": 1 << 20, "K": 10**3, "Ki": 1 << 10}  # fmt: skip


def _cpu_float(cpu: str) -> float:
    return float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)


def _memory_float(memory: str) -> float:
    """The same float as kfp's `_memory_to_float`: the same operations, in the same order."""
    for unit in sorted(_MEMORY, key=len, reverse=True):
        if memory.endswith(unit):
            return float(memory[: -len(unit)]) * _MEMORY[unit] / 10**9
    return float(memory) / 10**9


def _retry(settings: dict) -> dict | None:
    """What kfp's `set_retry(num_retries, backoff_duration, backoff_factor, backoff_max_duration)` writes.

    KFP has no cap on one wait; its `backoffMaxDuration` is how long after the first attempt
    started retries may still begin (Argo's `maxDuration`), 3600s unless set. With a `timeout`,
    it is set to cover every attempt and wait, so a long step still gets its retries.
    """
    retries = settings.get("retries")
    if not retries or not retries["limit"]:
        return None
    window = 3600
    if settings.get("timeout"):
        waits, wait = 0, seconds(retries["backoff"])
        cap = seconds(retries["max_backoff"]) if retries.get("max_backoff") else None
        for _ in range(retries["limit"]):
            waits += min(wait, cap) if cap else wait
            wait *= retries["factor"]
        window = max(window, (retries["limit"] + 1) * seconds(settings["timeout"]) + waits)
    return {"backoffDuration": f"{seconds(retries['backoff'])}s", "backoffFactor": float(retries["factor"]),
            "backoffMaxDuration": f"{window}s", "maxRetryCount": retries["limit"]}


def _platform(tasks: list[Task]) -> dict | None:
    """The kfp-kubernetes platform spec, as its `set_timeout`, `add_node_selector` and friends write it.

    Those are also `add_toleration` and `use_secret_as_env`, one call per variable, by name.

    KFP has no per-task service account: a run's is set when it is created (see
    docs/targets/kubeflow.md).
    """
    keys = _task_keys([step for step, _, _, _ in tasks])
    executors = {}
    for step, _, _, settings in tasks:
        config: dict = {}
        if (deadline := timeout_seconds(settings)) is not None:
            config["activeDeadlineSeconds"] = str(deadline)  # an int64: a string in protobuf's JSON
        if settings.get("node_selector"):
            config["nodeSelector"] = {"labels": {_plain(k): _plain(v)
                                                 for k, v in sorted(settings["node_selector"].items())}}
        secrets = [{"keyToEnv": [{"envVar": _plain(var), "secretKey": _plain(ref["key"])}], "optional": False,
                    "secretName": _plain(ref["name"]),
                    "secretNameParameter": {"runtimeValue": {"constant": ref["name"]}}}
                   for var, ref in sorted((settings.get("secrets") or {}).items())]
        if secrets:
            config["secretAsEnv"] = secrets
        if found := tolerations(settings):
            config["tolerations"] = [{k: _plain(v) for k, v in sorted(t.items())} for t in found]
        if config:
            executors[f"exec-{keys[step]}"] = config
    if not executors:
        return None
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": dict(sorted(executors.items()))}}}}


def _comments(name: str, description: str) -> str:
    """The `# PIPELINE DEFINITION` comments kfp writes (`extract_comments_from_pipeline_spec`).

    These pipelines have no inputs or outputs, so there are no signature lines.
    """
    lines = ["# PIPELINE DEFINITION", f"# Name: {_k8s(name)}"]
    if description:
        lines.append("# Description: " + "\n#              ".join(description.splitlines()))
    return "\n".join(lines) + "\n"


def _task_keys(steps: list[str]) -> dict[str, str]:
    """Each task's key in the DAG: kfp's `maybe_rename_for_k8s` of its name.

    Names are DNS labels, so the key is the name unless it holds `--`, which the cleaning
    collapses: where that meets another task's key, a hash of the name keeps them apart
    (`check-a--b` and `check-a-b`).
    """
    keys = {s: s for s in steps if "--" not in s}
    used = set(keys.values())
    for step in steps:
        if step not in keys:
            key = _k8s(step)
            keys[step] = key = key if key not in used else f"{key}-{_short_hash(step)}"
            used.add(key)
    return keys


def _k8s(name: str) -> str:
    return re.sub("-+", "-", re.sub("[^-0-9a-z]+", "-", name.lower())).strip("-")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _argv(name: str, step: str | None) -> tuple[str, ...]:
    # KFP has no working-directory field: `--root` says where the image holds the repository.
    return (*step_argv(name, step or "", check=step is None), "--root", WORKDIR)


def _plain(text: str) -> str:
    """The image, refused when it holds a KFP placeholder.

    KFP's driver resolves `{{$...}}` and kfp turns `{{channel:...}}` into one; a validated
    image (an OCI reference) holds neither brace, a hand-made IR might.
    """
    if "{{" in text or "}}" in text:
        raise ValueError(f"refusing to put {text!r} where KFP expands `{{{{...}}}}`")
    return text


def _inert(text: str) -> str:
    """The description, safe in kfp's `# Description:` comment.

    The comment is continued after each line break; any other non-printable character
    (validation rejects them, a hand-made IR might hold them) would make the file unreadable
    as YAML, so it becomes an escape, as in `ascii()`.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else ascii(c)[1:-1] for c in text)

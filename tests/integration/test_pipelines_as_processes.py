"""Integration tier: the rendered Argo WorkflowTemplate and Kubeflow pipeline, run as local processes.

No cluster runs here, so each task of the rendered files runs as a process with exactly the
rendered command, args and env, in dependency order, each in its own fresh copy of the
repository as the runner image holds it (the runner target's ignore file applied), so that
nothing is shared between tasks but the artifact store (`shared_store`, here a `file://`
folder every "pod" reaches). The one substitution is the image's path: `/workspace` (the
container's `workingDir`, or kfp's `--root`) is the copy's folder. The pipeline must complete
and promote the version a whole local run promotes, and the monitor, run the same way from a
fresh copy with the promoted lock, must find the model in the store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from compiler.render.common import WORKDIR
from tests.conftest import REPO

pytestmark = pytest.mark.integration
pytest.importorskip("sklearn")

from compiler.driver import compile_tree  # noqa: E402
from compiler.render import render_graph  # noqa: E402
from compiler.render.runner import IGNORED  # noqa: E402
from tests.targets.external import load_yaml_all  # noqa: E402


def _image_copy(dest: Path) -> Path:
    """The repository as the runner image holds it at /workspace."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if any(Path(n).match(p.removeprefix("**/")) for p in IGNORED)}

    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def _graph(store: Path):
    _, graph = compile_tree(REPO)
    assert graph is not None
    return replace(graph, project={**graph.project, "shared_store": store.as_uri()})


# What the cluster's Secrets would hold for the example's `compute.secrets` (its store's
# credentials); a file:// store ignores them, but the pod gets them as the manifest says.
SECRETS = {("charter-store", "access-key-id"): "AKID-TEST", ("charter-store", "secret-access-key"): "not-a-secret"}


def _env(container: dict, platform: dict | None = None) -> dict[str, str]:
    """A pod's environment as Kubernetes builds it: values, and keys of Secrets (`secretKeyRef`).

    For Kubeflow, the secrets are in the executor's kfp-kubernetes config (`secretAsEnv`).
    """
    env = {}
    for e in container.get("env", []):
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        env[e["name"]] = SECRETS[(ref["name"], ref["key"])] if ref else e["value"]
    for entry in (platform or {}).get("secretAsEnv", []):
        for pair in entry["keyToEnv"]:
            env[pair["envVar"]] = SECRETS[(entry["secretName"], pair["secretKey"])]
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    charter = shutil.which("charter") or pytest.fail("the charter command is not on PATH")
    bin_dir = str(Path(charter).parent)
    full = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(cwd), "LANG": "C.UTF-8",
            **env}  # a pod's environment: what the manifest sets, nothing of the test's CHARTER_*
    return subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def _order(tasks: dict[str, list[str]]) -> list[str]:
    done: list[str] = []
    while len(done) < len(tasks):
        ready = [t for t, needs in tasks.items() if t not in done and all(n in done for n in needs)]
        assert ready, f"a cycle in {tasks}"
        done.append(ready[0])
    return done


def _pods(tmp_path: Path, tasks: dict[str, list[str]], commands: dict[str, tuple[list[str], dict, bool]]):
    """Run every task in order, each in a fresh copy; return the last task's copy and outputs."""
    outputs = {}
    for name in _order(tasks):
        argv, env, root_flag = commands[name]
        pod = _image_copy(tmp_path / f"pod-{name}")
        if root_flag:  # kfp has no workingDir: `--root /workspace` says where the image holds the repository
            argv = [str(pod) if a == WORKDIR else a for a in argv]
        result = _run(argv, env, pod)
        assert result.returncode == 0, f"{name}: {argv}\n{result.stdout}\n{result.stderr}"
        outputs[name] = result.stdout
    return pod, outputs


def _whole_run_version(tmp_path: Path) -> str:
    repo = _image_copy(tmp_path / "whole")
    result = _run(["charter", "run", "churn", "--store", str(tmp_path / "whole-store")], {}, repo)
    assert result.returncode == 0, result.stdout + result.stderr
    return re.search(r"version (\w{12})", result.stdout).group(1)


def _promoted(store: Path, pod: Path, outputs: dict[str, str], expected: str) -> None:
    assert re.search(rf"version {expected}", outputs["package"]), outputs["package"]
    assert (store / "models/churn" / expected / "_SUCCESS").is_file()
    assert (store / "models/churn" / expected / "model.skops").is_file()
    assert f'"version": "{expected}"' in (pod / "charter.lock").read_text()


def _monitor(tmp_path: Path, argv: list[str], env: dict, cwd_flag: bool, lock: Path) -> None:
    pod = _image_copy(tmp_path / "pod-monitor")
    shutil.copy(lock, pod / "charter.lock")  # the image built after the promotion's commit
    argv = [str(pod) if cwd_flag and a == WORKDIR else a for a in argv]
    result = _run(argv, env, pod)
    assert result.returncode == 0, result.stdout + result.stderr


def test_argo_workflow_template_runs_as_processes(tmp_path):
    store = tmp_path / "store"
    files = render_graph(_graph(store), ["argo"], "generated").files
    template, cron = load_yaml_all(files["generated/argo/churn.yaml"])
    by_name = {t["name"]: t for t in template["spec"]["templates"]}
    dag = by_name[template["spec"]["entrypoint"]]["dag"]["tasks"]
    tasks = {t["name"]: re.findall(r"([\w-]+)\.Succeeded", t.get("depends", "")) for t in dag}
    commands = {}
    for task in dag:
        container = by_name[task["template"]]["container"]
        assert container["workingDir"] == WORKDIR and "volumeMounts" not in container
        env = _env(container)
        assert env == {"CHARTER_STORE": store.as_uri(), "AWS_ACCESS_KEY_ID": "AKID-TEST",
                       "AWS_SECRET_ACCESS_KEY": "not-a-secret"}
        commands[task["name"]] = ([*container["command"], *container["args"]], env, False)
    pod, outputs = _pods(tmp_path, tasks, commands)
    _promoted(store, pod, outputs, _whole_run_version(tmp_path))
    [monitor] = cron["spec"]["workflowSpec"]["templates"]
    container = monitor["container"]
    _monitor(tmp_path, [*container["command"], *container["args"]], _env(container), False, pod / "charter.lock")


def test_kubeflow_pipeline_runs_as_processes(tmp_path):
    store = tmp_path / "store"
    files = render_graph(_graph(store), ["kubeflow"], "generated").files
    spec, platform = load_yaml_all(files["generated/kubeflow/churn.yaml"])
    configs = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    dag = spec["root"]["dag"]["tasks"]
    executors = spec["deploymentSpec"]["executors"]
    labels = {name: c["executorLabel"] for name, c in spec["components"].items()}
    tasks = {name: t.get("dependentTasks", []) for name, t in dag.items()}
    commands = {}
    for name, task in dag.items():
        executor = labels[task["componentRef"]["name"]]
        container = executors[executor]["container"]
        env = _env(container, configs.get(executor))
        assert env == {"CHARTER_STORE": store.as_uri(), "AWS_ACCESS_KEY_ID": "AKID-TEST",
                       "AWS_SECRET_ACCESS_KEY": "not-a-secret"}
        commands[name] = ([*container["command"], *container["args"]], env, True)
    pod, outputs = _pods(tmp_path, tasks, commands)
    _promoted(store, pod, outputs, _whole_run_version(tmp_path))


def test_a_task_without_its_inputs_in_the_store_fails_the_pod(tmp_path):
    """A pod whose upstream never ran (another store, a wiped one) fails, exit 1, naming it."""
    store = tmp_path / "store"
    files = render_graph(_graph(store), ["argo"], "generated").files
    template = load_yaml_all(files["generated/argo/churn.yaml"])[0]
    container = {t["name"]: t for t in template["spec"]["templates"]}["train"]["container"]
    pod = _image_copy(tmp_path / "pod-train")
    result = _run([*container["command"], *container["args"]], _env(container), pod)
    assert result.returncode == 1
    assert "needs the outputs of `split`" in result.stdout


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "integration", "-q"]))


def _evaluated(when: str, exit_codes: dict[str, int]) -> bool:
    """An Argo `when` of the form `{{steps.NAME.exitCode}} == N`, with the steps' exit codes filled in."""
    m = re.fullmatch(r"\{\{steps\.([\w-]+)\.exitCode\}\} == (\d+)", when)
    assert m, f"a `when` this test does not read: {when}"
    return exit_codes[m.group(1)] == int(m.group(2))


def test_argo_data_change_cron_runs_the_pipeline_only_when_the_data_changed(tmp_path):
    """`retrain.on_data_change` on Argo: the CronWorkflow's steps played as processes, twice.

    Its first step (`charter status --data`) goes on when it fails, and the pipeline step's
    `when` reads that step's exit code: the committed data is what charter.lock's run read (exit
    0, no retraining); after an export of new rows it changed (exit 2), and the same pipeline,
    from the CronWorkflow's own templates, trains and promotes a new version into the store.
    """
    store = tmp_path / "store"
    graph = _graph(store)
    models = tuple(replace(m, retrain={"schedule": None, "on_drift": False, "on_data_change": True,
                                       "poll": "*/30 * * * *"}) if m.name == "churn" else m for m in graph.models)
    files = render_graph(replace(graph, models=models), ["argo"], "generated").files
    cron = next(d for d in load_yaml_all(files["generated/argo/churn.yaml"])
                if d["metadata"]["name"] == "charter-churn-data")
    spec = cron["spec"]["workflowSpec"]
    by_name = {t["name"]: t for t in spec["templates"]}
    [[check], [retrain]] = by_name[spec["entrypoint"]]["steps"]
    assert check["continueOn"] == {"failed": True} and retrain["template"] == "pipeline"
    image = _image_copy(tmp_path / "image")

    def play(label: str) -> bool:
        container = by_name[check["template"]]["container"]
        pod = tmp_path / f"{label}-check"
        shutil.copytree(image, pod, symlinks=True)
        result = _run([*container["command"], *container["args"]], _env(container), pod)
        assert result.returncode in (0, 2), result.stdout + result.stderr
        if not _evaluated(retrain["when"], {check["name"]: result.returncode}):
            return False
        dag = by_name["pipeline"]["dag"]["tasks"]
        tasks = {t["name"]: re.findall(r"([\w-]+)\.Succeeded", t.get("depends", "")) for t in dag}
        for name in _order(tasks):
            step = by_name[next(t["template"] for t in dag if t["name"] == name)]["container"]
            pod = tmp_path / f"{label}-{name}"
            shutil.copytree(image, pod, symlinks=True)
            done = _run([*step["command"], *step["args"]], _env(step), pod)
            assert done.returncode == 0, f"{name}\n{done.stdout}\n{done.stderr}"
            if name == "package":
                shutil.copy(pod / "charter.lock", tmp_path / "promoted.lock")
        return True

    assert play("quiet") is False  # the committed data is what the lock's run read
    data = image / "specs/data/customers.csv"
    rows = data.read_text().splitlines()
    data.write_text("\n".join([*rows, *(r.replace("C0", "C9", 1) for r in rows[1:41])]) + "\n")
    assert play("new-rows") is True
    before = json.loads((REPO / "charter.lock").read_text())["models"]["churn"]
    after = json.loads((tmp_path / "promoted.lock").read_text())["models"]["churn"]
    assert after["data_fingerprint"] != before["data_fingerprint"]
    after = after["version"]
    before = before["version"]
    assert after != before and (store / "models/churn" / after / "_SUCCESS").is_file()

"""Target `kubeflow`: the same bytes as the kfp SDK's own compiler, read back by KFP's protobufs.

The renderer writes the `PipelineSpec` itself; these tests compile the same pipelines with
kfp's `Compiler().compile` and compare, and read every file back through KFP's own protobuf
schemas (`PipelineSpec`, and `PipelineDeploymentConfig` for the commands, which PipelineSpec
holds as a free-form Struct), so a field or a type KFP does not accept fails the test. The
golden files are checked by tests/test_golden.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from compiler.driver import compile_tree
from compiler.render import kubeflow, render_graph
from compiler.render.header import header
from tests.conftest import REPO, run_charter
from tests.targets.external import load_yaml_all
from tests.targets.pods import with_full_compute

kfp = pytest.importorskip("kfp", reason="the kfp SDK (in the dev extra) is what the output is checked against")

# KFP placeholders (kfp's own `{{channel:...}}` and the backend's `{{$...}}`), other engines'
# templates, YAML structure, a fake kfp comment header, quotes, backslashes and shell text.
EVIL = ("{{$.inputs.parameters['x']}} {{channel:task=;name=x;type=String;}} ${{ github.event.pull_request.title }}"
        "\n: evil '''\"q\" \\ $(rm -rf /)\n# PIPELINE DEFINITION\n---\nroot: {}\n  - x")
ARGV_TAIL = ["--root", "/workspace"]


def example(graph=None) -> dict[str, str]:
    if graph is None:
        _, graph = compile_tree(REPO)
    return render_graph(graph, ["kubeflow"], "generated").files


def read_back(text: str):
    """The file as KFP reads it: YAML 1.2, then protobuf (unknown fields and wrong types raise).

    A second document is the platform spec; each executor's Kubernetes config is read with
    kfp-kubernetes' own protobuf, as KFP's driver reads it.
    """
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2
    from kfp.pipeline_spec import pipeline_spec_pb2

    doc, *platforms = load_yaml_all(text)
    spec = json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec())
    deployment = json_format.ParseDict(doc["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig())
    assert len(platforms) <= 1
    for platform in platforms:
        parsed = json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
        configs = parsed.platforms["kubernetes"].deployment_spec.executors
        assert set(configs) <= set(deployment.executors)
        for config in configs.values():
            json_format.ParseDict(json_format.MessageToDict(config),
                                  kubernetes_executor_config_pb2.KubernetesExecutorConfig())
    return doc, spec, deployment


def renamed(model, name: str):
    """A model of the example under another (valid) name, as the IR would hold it."""
    steps = tuple(replace(s, id=f"{name}/{s.name}", model=name,
                          needs=tuple(f"{name}/{n.split('/', 1)[1]}" for n in s.needs)) for s in model.steps)
    return replace(model, name=name, steps=steps)


def test_kfp_reads_every_file_back_and_tasks_follow_the_ir():
    _, graph = compile_tree(REPO)
    files = example(graph)
    assert sorted(files) == sorted([f"generated/kubeflow/{m.name}.yaml" for m in graph.models]
                                   + ["generated/kubeflow/_checks.yaml"])
    for model in graph.models:
        text = files[f"generated/kubeflow/{model.name}.yaml"]
        as_component = kfp.components.load_component_from_text(text)  # a pipeline reused in another
        assert (as_component.name, as_component.description) == (f"charter-{model.name}", model.description)
        assert header(model.sources) in text
        doc, spec, deployment = read_back(text)
        assert spec.pipeline_info.name == f"charter-{model.name}"
        assert spec.pipeline_info.description == model.description
        assert not spec.root.input_definitions.parameters  # nothing a placeholder could read
        tasks = spec.root.dag.tasks
        assert sorted(tasks) == sorted(s.name for s in model.steps)
        for step in model.steps:
            task = tasks[step.name]
            assert task.task_info.name == step.name
            assert sorted(task.dependent_tasks) == sorted(n.split("/", 1)[1] for n in step.needs)
            assert not task.caching_options.enable_cache  # KFP's cache off: charter caches by content
            assert doc["root"]["dag"]["tasks"][step.name]["cachingOptions"] == {}
            executor = spec.components[task.component_ref.name].executor_label
            container = deployment.executors[executor].container
            assert [*container.command, *container.args] == ["charter", "run", model.name, "--step", step.name,
                                                             *ARGV_TAIL]
            assert container.image == graph.project["image"]
    _, spec, deployment = read_back(files["generated/kubeflow/_checks.yaml"])
    assert spec.pipeline_info.name == "charter-checks"
    tasks = spec.root.dag.tasks
    assert {t.task_info.name for t in tasks.values()} == {f"check-{c.name}" for c in graph.checks}
    for check in graph.checks:
        task = tasks[f"check-{check.name}"]
        assert not task.dependent_tasks and not task.caching_options.enable_cache
        container = deployment.executors[spec.components[task.component_ref.name].executor_label].container
        assert [*container.command, *container.args] == ["charter", "check-data", check.name, *ARGV_TAIL]


def kfp_own_file(name: str, description: str, tasks, img: str, tmp_path, store: str | None = None) -> str:
    """The same pipeline written the documented way, with kfp's own YAML writer.

    That is `@dsl.container_component`, `@dsl.pipeline` and `Compiler().compile` to a file.
    """
    from kfp import compiler, dsl

    def component(step: str, argv):
        def fn():
            return dsl.ContainerSpec(image=img, command=list(argv[:1]), args=list(argv[1:]))

        fn.__name__ = step.replace("-", "_")
        return dsl.container_component(fn)

    components = {step: component(step, argv) for step, argv, _, _ in tasks}

    def pipeline():
        made = {}
        for step, _, needs, settings in tasks:
            made[step] = components[step]().set_display_name(step).set_caching_options(False)
            if store:
                made[step].set_env_variable("CHARTER_STORE", store)
            kfp_settings(made[step], settings)
            made[step].after(*(made[n] for n in needs))

    path = tmp_path / f"{name}.yaml"
    compiler.Compiler().compile(dsl.pipeline(name=name, description=description or None)(pipeline), str(path))
    return path.read_text(encoding="utf-8")


def kfp_settings(task, settings: dict) -> None:
    """A step's pod settings, set the documented way: kfp's task methods and kfp-kubernetes."""
    from kfp import kubernetes

    from compiler.render.common import seconds

    res = settings.get("resources") or {}
    for part, verb in (("requests", "request"), ("limits", "limit")):
        amounts = res.get(part) or {}
        if "cpu" in amounts:
            getattr(task, f"set_cpu_{verb}")(amounts["cpu"])
        if "memory" in amounts:
            getattr(task, f"set_memory_{verb}")(amounts["memory"])
    if res.get("gpus"):
        task.set_accelerator_type(res["gpu_type"]).set_accelerator_limit(res["gpus"])
    retries = settings.get("retries")
    if retries and retries["limit"]:
        # KFP's window for retries (`backoff_max_duration`) is what the renderer derives from
        # the timeout: every attempt and wait, at least kfp's default hour.
        window = 3600
        if settings.get("timeout"):
            wait, waits = seconds(retries["backoff"]), 0
            for _ in range(retries["limit"]):
                waits += min(wait, seconds(retries["max_backoff"])) if retries.get("max_backoff") else wait
                wait *= retries["factor"]
            window = max(window, (retries["limit"] + 1) * seconds(settings["timeout"]) + waits)
        task.set_retry(num_retries=retries["limit"], backoff_duration=f"{seconds(retries['backoff'])}s",
                       backoff_factor=float(retries["factor"]), backoff_max_duration=f"{window}s")
    if settings.get("timeout"):
        kubernetes.set_timeout(task, seconds(settings["timeout"]))
    for key, value in (settings.get("node_selector") or {}).items():
        kubernetes.add_node_selector(task, key, value)
    for t in settings.get("tolerations") or ():
        kubernetes.add_toleration(task, key=t["key"], operator=t["operator"], value=t.get("value"),
                                  effect=t.get("effect"))
    for var, ref in sorted((settings.get("secrets") or {}).items()):
        kubernetes.use_secret_as_env(task, secret_name=ref["name"], secret_key_to_env={ref["key"]: var})


def tasks_of(model):
    return [(s.name, [*("charter", "run", model.name, "--step", s.name), *ARGV_TAIL],
             [n.split("/", 1)[1] for n in s.needs], model.compute.get(s.name, {})) for s in model.steps]  # fmt: skip




def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_kfp_own_compiler_writes_the_same_files(tmp_path):
    """The example byte for byte, a hostile description as the same data and comments."""
    _, graph = compile_tree(REPO)
    img = graph.project["image"]
    assert graph.project["shared_store"]  # the example declares one: every container gets CHARTER_STORE
    for project in (graph.project, {**graph.project, "shared_store": None}):
        files = example(replace(graph, project=project))
        for model in graph.models:
            ours = files[f"generated/kubeflow/{model.name}.yaml"]
            theirs = kfp_own_file(f"charter-{model.name}", model.description, tasks_of(model), img, tmp_path,
                                  project["shared_store"])
            assert ours == theirs.replace("components:", header(model.sources) + "components:", 1)
    for model in with_full_compute(graph).models:  # every pod setting, byte for byte
        ours = example(with_full_compute(graph))[f"generated/kubeflow/{model.name}.yaml"]
        theirs = kfp_own_file(f"charter-{model.name}", model.description, tasks_of(model), img, tmp_path,
                              graph.project["shared_store"])
        assert ours == theirs.replace("components:", header(model.sources) + "components:", 1)
        read_back(ours)
    churn = replace(graph.model("churn"), description=EVIL)
    ours = example(replace(graph, models=(churn,), checks=()))["generated/kubeflow/churn.yaml"]
    theirs = kfp_own_file("charter-churn", EVIL, tasks_of(churn), img, tmp_path, graph.project["shared_store"])
    assert load_yaml_all(ours) == load_yaml_all(theirs)
    assert comments(ours.replace(header(churn.sources), "", 1)) == comments(theirs)


def test_hostile_description_stays_data(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    model.write_text(model.read_text().replace(old, "description: " + json.dumps(EVIL)))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    assert graph.model("churn").description == EVIL
    # Validation rejects line breaks other than `\n` and other control characters (S210); a
    # hand-made IR may hold them: they must neither end kfp's comment nor make the YAML unreadable.
    churn = replace(graph.model("churn"), description=EVIL + "\r\x85\u2028\u2029\x00\x1b\u202e")
    text = example(replace(graph, models=(churn,)))["generated/kubeflow/churn.yaml"]
    doc, spec, deployment = read_back(text)
    escaped = EVIL + "\\r\\x85\\u2028\\u2029\\x00\\x1b\\u202e"
    assert spec.pipeline_info.description == escaped
    assert kfp.components.load_component_from_text(text).description == escaped  # kfp reads its comments
    assert set(doc) == {"components", "deploymentSpec", "pipelineInfo", "root", "schemaVersion", "sdkVersion"}
    assert set(doc["pipelineInfo"]) == {"description", "name"}
    assert not spec.root.input_definitions.parameters
    head = text[:text.index("\ncomponents:")].split("\n")
    assert all(line.startswith("#") for line in head) and "#              root: {}" in head
    for executor in doc["deploymentSpec"]["executors"].values():  # no placeholder reached a command
        assert "{{" not in json.dumps(executor)


def test_hostile_image_is_refused(example_repo):
    """An image holding `{{channel:...}}` becomes a KFP placeholder in kfp's output, which KFP's driver resolves.

    Validation rejects such an image, and the target refuses a hand-made IR's.
    """
    evil = "{{channel:task=;name=x;type=String;}}"
    charter = example_repo / "charter.yaml"
    charter.write_text(charter.read_text().replace("image: ghcr.io/acme/charter-runner:0.1.0",
                                                   "image: " + json.dumps(evil)))
    assert run_charter("validate", cwd=example_repo).returncode == 1
    _, graph = compile_tree(REPO)
    for img in (evil, "{{$.inputs.parameters['x']}}", "a}}"):
        with pytest.raises(ValueError, match="refusing"):
            example(replace(graph, project={**graph.project, "image": img}))


def test_names_a_yaml_reader_takes_for_numbers_stay_strings():
    """`1e3` and `0o17` are DNS labels, and numbers to a YAML 1.2 reader (and to KFP's Go reader).

    PyYAML, as kfp uses it, writes them bare; the command must hold strings.
    """
    _, graph = compile_tree(REPO)
    models = tuple(renamed(graph.model("churn"), name) for name in ("1e3", "0o17", "0x1f", "true"))
    files = example(replace(graph, models=models, checks=()))
    for model in models:
        _, spec, deployment = read_back(files[f"generated/kubeflow/{model.name}.yaml"])
        for executor in deployment.executors.values():
            assert executor.container.args[1] == model.name


def test_pipeline_names_stay_distinct():
    _, graph = compile_tree(REPO)
    models = tuple(renamed(graph.model("churn"), name) for name in ("a--b", "a-b", "checks", "x"))
    files = example(replace(graph, models=models))
    names = [read_back(files[f"generated/kubeflow/{m.name}.yaml"])[1].pipeline_info.name for m in models]
    names.append(read_back(files["generated/kubeflow/_checks.yaml"])[1].pipeline_info.name)
    assert len(set(names)) == len(names)
    assert names[1] == "charter-a-b" and names[3] == "charter-x" and names[4] == kubeflow.CHECKS_NAME
    assert names[0].startswith("charter-a-b-") and names[2].startswith("charter-checks-")


def test_without_kfp_the_files_are_the_same(monkeypatch):
    """The target writes the spec itself: a core install (no kfp) compiles the same bytes."""
    files = example()
    for name in [m for m in sys.modules if m == "kfp" or m.startswith(("kfp.", "google.protobuf"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kfp", None)
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    assert example() == files


def test_sdk_version_is_the_locked_kfp():
    """`sdkVersion` names the kfp whose compiler the byte-for-byte test ran: the dev lock's."""
    from importlib import metadata

    assert metadata.version("kfp") == kubeflow.KFP_SDK, (
        "the lock moved kfp: check the files against its compiler, then set kubeflow.KFP_SDK")


def test_deterministic_across_renders_and_processes():
    files = example()
    assert example() == files
    script = ("import json, sys; from compiler.driver import compile_tree; from compiler.render import render_graph; "
              "from tests.conftest import REPO; _, g = compile_tree(REPO); "
              "sys.stdout.write(json.dumps(render_graph(g, ['kubeflow'], 'generated').files))")
    path = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])  # this kfp, not another
    other = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": "12345"})
    assert json.loads(other.stdout) == files

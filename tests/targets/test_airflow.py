"""Target `airflow`: golden files, and the DAG files read back with `ast`, never imported.

Airflow executes these files, so the checks are about code: the imports are exactly the
Airflow 3 ones, the only names are the expected ones, tasks and edges are the IR's, and spec
text, however hostile, comes back from `ast.literal_eval` exactly as written and never
reaches a Jinja-templated field. The integration tier (tests/integration/test_airflow_dags.py,
run by .ci/airflow.sh) imports the same kind of files with a real Airflow.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.ir.graph import STEP_KINDS
from compiler.render.airflow import _task, render
from compiler.render.common import step_argv
from tests.conftest import REPO, run_charter

HOSTILE = ("'''\"\"\" back\\slash\n: x {{ ds }} {% if 1 %}y{% endif %} ${{ x }} __import__('os').system('x') "
           "$(rm -rf /) h\u00e9llo \u4e2d \u2028 next `tick` <script>alert(1)</script> [x](javascript:alert(1)) "
           "notes.md")
HOSTILE_IMAGE = "ghcr.io/x:{{ ds }}{% if 1 %}'\"\\\n: y"
HOSTILE_FILE = "mo'del {{x}}\nimport os.yaml"  # a spec file name with a line break, for the header
IMPORTS = {
    "kubernetes": {("pendulum", None), ("airflow.providers.cncf.kubernetes.operators.pod", "KubernetesPodOperator"),
                   ("airflow.sdk", "DAG"), ("airflow.sdk", "literal")},
    "bash": {("pathlib", None), ("pendulum", None), ("airflow.providers.standard.operators.bash", "BashOperator"),
             ("airflow.sdk", "DAG"), ("airflow.sdk", "literal")},
}  # fmt: skip
# What pod settings (`compute`) add: timeouts and retry waits, and the pod's own arguments.
COMPUTE_IMPORTS = {
    "kubernetes": {("datetime", None), ("airflow.providers.cncf.kubernetes.secret", "Secret"),
                   ("kubernetes.client", "models")},
    "bash": {("datetime", None)},
}  # fmt: skip
NAMES = {"DAG", "literal", "pendulum", "pathlib", "KubernetesPodOperator", "BashOperator", "IMAGE", "STORE",
         "HERE", "__file__", "str", "dag", "monitor_dag", "monitor", "check_data", "datetime", "k8s", "Secret",
         *STEP_KINDS}
CALLS = {"DAG", "KubernetesPodOperator", "BashOperator", "literal", "pendulum.datetime", "str", "pathlib.Path",
         "pathlib.Path(__file__).resolve", "datetime.timedelta", "k8s.V1ResourceRequirements", "k8s.V1Toleration",
         "Secret"}
TEMPLATED = {"task_id", "name", "cmds", "arguments", "bash_command"}  # hold only names and fixed words


def _value(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)  # a reference such as IMAGE or a call such as pendulum.datetime(...)


def read_dags(text: str) -> dict[str, dict]:
    """The DAGs of a file as data: `kwargs`, `tasks` (task_id -> operator and kwargs), `edges`."""
    dags = {}
    for node in ast.parse(text).body:
        if not isinstance(node, ast.With):
            continue
        call = node.items[0].context_expr
        kwargs = {k.arg: _value(k.value) for k in call.keywords}
        tasks, edges, by_var = {}, set(), {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                fields = {k.arg: _value(k.value) for k in stmt.value.keywords}
                by_var[stmt.targets[0].id] = fields["task_id"]
                tasks[fields["task_id"]] = {"operator": stmt.value.func.id, **fields}
            else:
                shift = stmt.value
                assert isinstance(shift, ast.BinOp) and isinstance(shift.op, ast.RShift), ast.dump(stmt)
                edges.add((by_var[shift.left.id], by_var[shift.right.id]))
        dags[kwargs["dag_id"]] = {"kwargs": kwargs, "tasks": tasks, "edges": edges}
    return dags


def check_code(text: str, operator: str) -> None:
    """Only the expected statements, imports, names and calls: nothing a spec value could add."""
    assert text.isascii(), "every literal is ascii(): no raw U+2028 or other line breaks for other tools"
    tree = ast.parse(text)
    assert [type(n).__name__ for n in tree.body] == sorted((type(n).__name__ for n in tree.body),
                                                           key=["Import", "ImportFrom", "Assign", "With"].index)
    imports = {(n.module, a.name) for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    imports |= {(a.name, None) for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    assert IMPORTS[operator] <= imports <= IMPORTS[operator] | COMPUTE_IMPORTS[operator]
    assert {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} <= NAMES
    assert {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} <= {
        "datetime", "Path", "resolve", "parent", "timedelta", "V1ResourceRequirements", "V1Toleration"}
    assert {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)} <= CALLS
    header = text.split("\nimport ", 1)[0].splitlines()
    assert all(line.startswith("# ") for line in header)
    for dag in read_dags(text).values():
        assert not dag["kwargs"]["doc_md"].endswith(".md")  # Airflow would read that file from disk
        for task in dag["tasks"].values():
            for key in TEMPLATED & set(task):
                values = task[key] if isinstance(task[key], list) else [task[key]]
                assert all(re.fullmatch(r"[a-z0-9 ./_-]+", v) for v in values), (key, values)


@pytest.fixture(scope="module")
def graph():
    _, graph = compile_tree(REPO)
    return graph


def test_one_file_per_model_and_one_for_the_checks(graph):
    assert sorted(render(graph, "out")) == ["out/airflow/charter__checks.py", "out/airflow/charter_churn.py",
                                            "out/airflow/charter_delivery_time.py"]
    assert render(graph, "out") == render(graph, "out")


def test_tasks_and_edges_are_the_irs(graph):
    files = render(graph, "generated")
    for model in graph.models:
        text = files[f"generated/airflow/charter_{model.name.replace('-', '_')}.py"]
        check_code(text, "kubernetes")
        dags = read_dags(text)
        training = dags[f"charter_{model.name}"]
        assert list(training["tasks"]) == [s.name for s in model.steps]
        assert training["edges"] == {(n.split("/", 1)[1], s.name) for s in model.steps for n in s.needs}
        assert training["kwargs"]["schedule"] is None and training["kwargs"]["catchup"] is False
        assert training["kwargs"]["start_date"] == "pendulum.datetime(2026, 1, 1, tz='UTC')"
        assert training["kwargs"]["description"] == model.description
        for step in model.steps:
            task = training["tasks"][step.name]
            assert task["operator"] == "KubernetesPodOperator" and task["image"] == "IMAGE"
            assert [*task["cmds"], *task["arguments"]] == [*step_argv(model.name, step.name), "--root", "/workspace"]
            assert task["on_finish_action"] == "delete_pod" and task["get_logs"] is True
            assert "namespace" not in task  # the connection's (or Airflow's own) namespace: docs/targets/airflow.md
        monitor = dags[f"charter_{model.name}_monitor"]
        assert monitor["kwargs"]["schedule"] == model.monitoring["schedule"]
        [task] = monitor["tasks"].values()
        source = model.step("ingest").params["source"]
        assert [*task["cmds"], *task["arguments"]] == ["charter", "monitor", model.name, "--data", source,
                                                       "--root", "/workspace"]
    checks = read_dags(files["generated/airflow/charter__checks.py"])
    check_code(files["generated/airflow/charter__checks.py"], "kubernetes")
    assert set(checks) == {f"charter_{c.name}_check" for c in graph.checks}
    for check in graph.checks:
        [task] = checks[f"charter_{check.name}_check"]["tasks"].values()
        assert task["arguments"][:2] == ["check-data", check.name]
    assert f"IMAGE = literal({graph.project['image']!r})" in files["generated/airflow/charter_churn.py"]


def test_a_disabled_monitor_has_no_dag(graph):
    from dataclasses import replace

    model = replace(graph.models[0], monitoring={**graph.models[0].monitoring, "enabled": False})
    text = render(replace(graph, models=(model,)), "g")[f"g/airflow/charter_{model.name}.py"]
    assert list(read_dags(text)) == [f"charter_{model.name}"]


def test_a_bash_command_never_ends_like_a_template_file():
    [line] = _task("x", "x", ["charter", "check-data", "run.sh"], "bash", "p")
    assert "bash_command='charter check-data run.sh '" in line


@pytest.fixture
def hostile(example_repo: Path) -> Path:
    """The example with hostile text in a description and a spec file name, operator `bash`."""
    make_hostile(example_repo, "bash")
    checked = run_charter("validate", cwd=example_repo)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the values are accepted, so must be inert
    return example_repo


def make_hostile(repo: Path, operator: str) -> None:
    """Make the example hostile, and choose the Airflow operator.

    HOSTILE goes into the churn Model's description and the Model's file is renamed to
    HOSTILE_FILE. (`image` is validated as an image reference, so HOSTILE_IMAGE can only be
    put into the IR: see `with_image`.)
    """
    model = repo / "specs/churn/model.yaml"
    text = model.read_text(encoding="utf-8")
    old = "  description: Predicts which customers cancel within the next month.\n"
    assert old in text
    model.write_text(text.replace(old, f"  description: {json.dumps(HOSTILE)}\n"), encoding="utf-8")
    model.rename(model.with_name(HOSTILE_FILE))
    config = repo / "charter.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(f"{text.rstrip()}\n  airflow:\n    operator: {operator}\n", encoding="utf-8")


def with_image(graph, image: str, operator: str):
    """The graph with another image and operator: the renderer must not rely on validation."""
    from dataclasses import replace

    return replace(graph, project={**graph.project, "image": image, "airflow": {"operator": operator}})


@pytest.mark.parametrize("operator", ["bash", "kubernetes"])
def test_hostile_text_stays_inert(hostile: Path, operator: str):
    _, graph = compile_tree(hostile)
    assert graph.project["airflow"]["operator"] == "bash" and graph.models[0].description == HOSTILE
    files = render(with_image(graph, HOSTILE_IMAGE, operator), "generated")
    for text in files.values():
        check_code(text, operator)
    text = files["generated/airflow/charter_churn.py"]
    assert "#   specs/churn/mo'del {{x}}\\nimport os.yaml\n" in text  # escaped in the header comment
    dags = read_dags(text)
    for dag_id in ("charter_churn", "charter_churn_monitor"):
        doc = dags[dag_id]["kwargs"]["doc_md"]
        assert "<script>" not in doc and "\\<script\\>" in doc and "\\[x\\]" in doc and "\n:" not in doc
        assert doc.endswith("run `charter compile`.\n")
    assert dags["charter_churn"]["kwargs"]["description"] == HOSTILE
    tree = ast.parse(text)
    strings = [ast.literal_eval(n) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert HOSTILE in strings
    assigned = {n.targets[0].id: n for n in tree.body if isinstance(n, ast.Assign)}
    if operator == "kubernetes":
        assert ast.literal_eval(assigned["IMAGE"].value.args[0]) == HOSTILE_IMAGE  # IMAGE = literal('...')
        assert dags["charter_churn"]["tasks"]["train"]["image"] == "IMAGE"
    else:
        assert ast.unparse(assigned["HERE"]) == "HERE = literal(str(pathlib.Path(__file__).resolve().parent))"
        task = dags["charter_churn"]["tasks"]["train"]
        assert task["bash_command"] == "charter run churn --step train" and task["cwd"] == "HERE"
        assert HOSTILE_IMAGE not in strings


@pytest.mark.parametrize("operator", ["kubernetes", "bash"])
def test_pod_settings_are_operator_arguments(graph, operator: str):
    """Retries and timeouts on every operator; resources, placement, identity and secrets on the pod's."""
    from dataclasses import replace

    from tests.targets.pods import FULL, with_full_compute

    full = with_full_compute(replace(graph, project={**graph.project, "airflow": {"operator": operator}}))
    files = render(full, "generated")
    for text in files.values():
        check_code(text, operator)
    tasks = read_dags(files["generated/airflow/charter_churn.py"])["charter_churn"]["tasks"]
    ingest, train, gate = tasks["ingest"], tasks["train"], tasks["gate"]
    assert ingest["retries"] == 3 and ingest["retry_delay"] == "datetime.timedelta(seconds=10)"
    assert ingest["retry_exponential_backoff"] == 3.0 and ingest["max_retry_delay"] == "datetime.timedelta(seconds=300)"
    assert ingest["execution_timeout"] == "datetime.timedelta(seconds=1800)"
    assert tasks["validate"]["retries"] == 1 and "retry_exponential_backoff" not in tasks["validate"]  # factor 1
    assert "retries" not in gate and "execution_timeout" not in gate  # `limit: 0`, no timeout
    pod_args = {"container_resources", "node_selector", "tolerations", "service_account_name", "secrets"}
    if operator == "bash":  # the worker runs the command: there is no pod to size or place
        assert not pod_args & {k for t in tasks.values() for k in t}
        return
    assert train["container_resources"] == (
        "k8s.V1ResourceRequirements(requests={'cpu': '4', 'memory': '16Gi'}, "
        "limits={'cpu': '8', 'memory': '1Ti', 'amd.com/gpu': '2'})")
    assert ingest["node_selector"] == FULL["ingest"]["node_selector"]
    assert ingest["tolerations"] == ("[k8s.V1Toleration(key='dedicated', operator='Equal', value='ml', "
                                     "effect='NoSchedule'), k8s.V1Toleration(key='acme.com/spot', operator='Exists')]")
    assert ingest["service_account_name"] == "charter-pipelines" and "service_account_name" not in train
    assert ingest["secrets"] == ("[Secret('env', 'AWS_ACCESS_KEY_ID', 'store', 'access-key-id'), "
                                 "Secret('env', 'DB_URL', 'churn-db', 'url')]")
    monitor = read_dags(files["generated/airflow/charter_churn.py"])["charter_churn_monitor"]["tasks"]["monitor"]
    assert monitor["service_account_name"] == "charter-monitor"
    with pytest.raises(ValueError, match="Jinja"):
        render(replace(full, models=(replace(full.model("churn"), compute={"train": {"node_selector": {
            "pool": "{{ var.value.x }}"}}}),)), "generated")

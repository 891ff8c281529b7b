"""Integration tier: the generated DAG files, imported and run by a real Airflow 3.

Airflow's dependencies clash with charter's, so .ci/airflow.sh runs this file in its own venv
(`.venv-airflow`), which has Airflow but not charter's libraries. The DAG files are rendered
beforehand with charter's venv (`python -m tests.integration.test_airflow_dags DEST`) into
repository copies, whose folder is passed as CHARTER_AIRFLOW_DAGS together with what Airflow
must find there (`expected.json`, from the IR). Variants: the worked example
(KubernetesPodOperator), and the example with hostile spec text under each operator.

Without Airflow the tests skip; they fail instead when CI is set and CHARTER_AIRFLOW_DAGS is
(.ci/airflow.sh ran them, so Airflow must be there). The main venv's `pytest -m integration`
only reports them as skipped.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ENV = "CHARTER_AIRFLOW_DAGS"
VARIANTS = ("example", "hostile-bash", "hostile-kubernetes")
FOLDER = "generated/airflow"


def render_fixtures(dest: Path) -> None:
    """Charter's side, in its own venv: repository copies with DAG files, and what they hold.

    Each variant gets a repository copy with its DAG files in place; `expected.json` lists the
    DAGs, tasks, commands and edges Airflow must load, from the IR.
    """
    from dataclasses import replace

    from compiler.driver import compile_tree
    from compiler.render.airflow import render
    from compiler.render.common import step_argv
    from tests.conftest import REPO
    from tests.targets.test_airflow import HOSTILE, HOSTILE_IMAGE, make_hostile, with_image

    store = (dest / "shared-store").as_uri()  # the fsspec store every task shares (shared_store)
    expected: dict = {"hostile": HOSTILE, "hostile_image": HOSTILE_IMAGE, "store": store, "variants": {}}
    for variant in VARIANTS:
        repo = dest / variant
        repo.mkdir(parents=True)
        for name in ("charter.yaml", "specs", "schemas"):
            (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, repo / name)
        if variant != "example":
            make_hostile(repo, variant.split("-", 1)[1])
        result, graph = compile_tree(repo)
        assert graph is not None, [d.message for d in result.diagnostics]
        if variant != "example":  # charter.yaml's `image` is validated: put the hostile one in the IR
            graph = with_image(graph, HOSTILE_IMAGE, variant.split("-", 1)[1])
            # ...and the first model retrains on a schedule, on drift and on a data change
            first = graph.models[0]
            graph = replace(graph, models=(type(first).from_dict({**first.to_dict(), "retrain": {
                "schedule": "0 3 * * 1", "on_drift": True, "on_data_change": True, "poll": "*/30 * * * *"}}),
                *graph.models[1:]))
        graph = replace(graph, project={**graph.project, "shared_store": store})
        for path, text in render(graph, "generated").items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text, encoding="utf-8")
        dags = {}
        for m in graph.models:
            retrain = m.retrain or {}
            dags[f"charter_{m.name}"] = {
                "schedule": retrain.get("schedule"), "description": m.description,
                "tasks": {s.name: step_argv(m.name, s.name) for s in m.steps},
                "pods": {s.name: _pod(m.compute.get(s.name, {})) for s in m.steps},
                "edges": sorted([n.split("/", 1)[1], s.name] for s in m.steps for n in s.needs)}  # fmt: skip
            if m.monitoring and m.monitoring.get("enabled", True):
                argv = ["charter", "monitor", m.name, "--data", m.step("ingest").params["source"]]
                dags[f"charter_{m.name}_monitor"] = {"schedule": m.monitoring["schedule"], "tasks": {"monitor": argv},
                                                     "pods": {"monitor": _pod(m.compute.get("monitor", {}))},
                                                     "edges": []}
                if retrain.get("on_drift"):  # an alert triggers the training DAG; too few rows (3) skips
                    monitor = dags[f"charter_{m.name}_monitor"]
                    monitor["tasks"]["retrain"] = {"trigger": f"charter_{m.name}"}
                    monitor["edges"] = [["monitor", "retrain"]]
                    monitor["skip_on_exit_code"] = 3
            if retrain.get("on_data_change"):  # new data (exit 2) fails the poll and triggers the training DAG
                settings = {k: v for k, v in m.compute.get("monitor", {}).items() if k != "retries"}
                dags[f"charter_{m.name}_data"] = {
                    "schedule": retrain["poll"], "tasks": {"data_changed": ["charter", "status", "--data", m.name],
                                                           "retrain": {"trigger": f"charter_{m.name}"}},
                    "pods": {"data_changed": _pod(settings)}, "edges": [["data_changed", "retrain"]]}
        for c in graph.checks:
            argv = step_argv(c.name, "", check=True)
            dags[f"charter_{c.name}_check"] = {"schedule": None, "tasks": {"check-data": argv}, "edges": [],
                                               "pods": {"check-data": _pod(c.compute.get("check-data", {}))}}
        expected["variants"][variant] = {"operator": graph.project["airflow"]["operator"], "dags": dags}
    (dest / "expected.json").write_text(json.dumps(expected, indent=2), encoding="utf-8")


def _pod(settings: dict) -> dict:
    """What Airflow must hold for a task's pod settings (`compute`), in plain numbers."""
    from compiler.render.common import pod_resources, seconds

    retries = settings.get("retries") or {}
    return {"retries": retries.get("limit", 0),
            "retry_delay": seconds(retries["backoff"]) if retries.get("limit") else None,
            "backoff": float(retries["factor"]) if retries.get("limit") and retries["factor"] > 1 else 0,
            "timeout": seconds(settings["timeout"]) if settings.get("timeout") else None,
            "resources": pod_resources(settings), "service_account": settings.get("service_account"),
            "secrets": sorted([var, ref["name"], ref["key"]] for var, ref in (settings.get("secrets") or {}).items())}


def need_airflow() -> None:
    import importlib.util

    if importlib.util.find_spec("airflow") is None:
        if os.environ.get("CI") and os.environ.get(ENV):
            pytest.fail("Airflow is not installed and CI is set: run this file with .ci/airflow.sh")
        pytest.skip("Airflow is not installed: .ci/airflow.sh runs this file in its own venv")


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    need_airflow()
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    try:  # one venv with both charter and Airflow: render here
        import compiler  # noqa: F401
    except ImportError:
        pytest.skip(f"set {ENV} to DAG files rendered by charter (.ci/airflow.sh does)")
    dest = tmp_path_factory.mktemp("airflow-dags")
    render_fixtures(dest)
    return dest


@pytest.fixture(scope="module")
def expected(fixtures: Path) -> dict:
    return json.loads((fixtures / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def airflow_home(fixtures: Path, tmp_path_factory):
    """A throwaway Airflow home and sqlite DB, never a developer's own.

    Set before Airflow is first imported, since Airflow reads its configuration then.
    """
    home = tmp_path_factory.mktemp("airflow-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_HOME", str(home))
        mp.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
        mp.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        mp.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(fixtures / "hostile-bash" / FOLDER))  # what dag.test() runs
        pytest.importorskip("airflow")
        yield home


@pytest.fixture(scope="module")
def bags(fixtures: Path, airflow_home) -> dict:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:  # pragma: no cover - older Airflow 3
        from airflow.models.dagbag import DagBag
    return {v: DagBag(dag_folder=str(fixtures / v / FOLDER)) for v in VARIANTS}


@pytest.mark.parametrize("variant", VARIANTS)
def test_dags_import_without_errors(bags, expected, variant: str):
    bag = bags[variant]
    assert bag.import_errors == {}
    assert not any(bag.captured_warnings.values()), bag.captured_warnings  # no deprecated arguments
    assert sorted(bag.dags) == sorted(expected["variants"][variant]["dags"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_tasks_commands_and_edges_are_the_irs(bags, expected, variant: str):
    want = expected["variants"][variant]
    for dag_id, spec in want["dags"].items():
        dag = bags[variant].dags[dag_id]
        assert [t.task_id for t in dag.tasks] == list(spec["tasks"])
        edges = sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids)
        assert edges == spec["edges"]
        assert dag.schedule == spec["schedule"] and dag.catchup is False
        assert dag.start_date.isoformat() == "2026-01-01T00:00:00+00:00"
        if "description" in spec:
            assert dag.description == spec["description"]
        for task in dag.tasks:
            argv = spec["tasks"][task.task_id]
            if isinstance(argv, dict):  # the retraining trigger of a drift alert
                assert type(task).__name__ == "TriggerDagRunOperator" and task.trigger_dag_id == argv["trigger"]
                assert task.trigger_rule == "all_failed" and argv["trigger"] in bags[variant].dags
                continue
            if task.task_id == "monitor" and "skip_on_exit_code" in spec:
                assert list(task.skip_on_exit_code) == [spec["skip_on_exit_code"]]
            pod = spec["pods"][task.task_id]  # retries and timeouts on every operator
            assert task.retries == pod["retries"] and task.retry_exponential_backoff == pod["backoff"]
            if pod["retry_delay"] is not None:
                assert task.retry_delay.total_seconds() == pod["retry_delay"]
            assert (task.execution_timeout.total_seconds() if task.execution_timeout else None) == pod["timeout"]
            if want["operator"] == "kubernetes":
                assert type(task).__name__ == "KubernetesPodOperator"
                assert [*task.cmds, *task.arguments] == [*argv, "--root", "/workspace"]
                assert task.on_finish_action.value == "delete_pod" and task.get_logs is True
                resources = task.container_resources
                assert ({k: v for k, v in (("requests", resources.requests), ("limits", resources.limits)) if v}
                        if resources else {}) == pod["resources"]
                assert task.service_account_name == pod["service_account"]
                assert sorted([s.deploy_target, s.secret, s.key] for s in task.secrets) == pod["secrets"]
                assert all(s.deploy_type == "env" for s in task.secrets)
            else:
                assert type(task).__name__ == "BashOperator"
                assert task.bash_command == shlex.join(argv)


class _Variables:
    def get(self, key, default=None):
        return {"charter_store": "s3://bucket/charter"}.get(key, default)


@pytest.mark.parametrize("variant", ["hostile-bash", "hostile-kubernetes"])
def test_spec_text_is_never_rendered_by_jinja(bags, expected, fixtures: Path, variant: str):
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # pragma: no cover - older Airflow 3
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer
    for dag_id in ("charter_churn", "charter_churn_monitor"):
        dag = bags[variant].dags[dag_id]
        assert not dag.doc_md.endswith(".md") and "<script>" not in dag.doc_md
        assert Serializer.to_dict(dag)  # what the DAG processor stores
        for task in dag.tasks:
            if type(task).__name__ == "TriggerDagRunOperator":  # a DNS-label DAG id is its only value
                task.render_template_fields({"var": {"value": _Variables()}})
                assert task.trigger_dag_id == "charter_churn"
                continue
            before = task.bash_command if variant == "hostile-bash" else [*task.cmds, *task.arguments]
            task.render_template_fields({"var": {"value": _Variables()}})
            if variant == "hostile-bash":
                assert task.bash_command == before
                assert task.cwd == str((fixtures / variant / FOLDER).resolve())
            else:
                assert [*task.cmds, *task.arguments] == before
                assert task.image == expected["hostile_image"]  # exactly, Jinja-looking text and all
                # shared_store, as a literal: no Airflow Variable or Jinja reaches it
                assert [(e.name, e.value) for e in task.env_vars] == [("CHARTER_STORE", expected["store"])]
    assert bags[variant].dags["charter_churn"].description == expected["hostile"]


def test_bash_dags_run_the_real_pipeline(bags, expected, fixtures: Path, airflow_home, tmp_path, monkeypatch):
    """`dag.test()` of every BashOperator DAG with the real `charter` (CHARTER_BIN, else PATH).

    Airflow trains and promotes each model step by step, checks the data, then monitors, in the
    hostile copy, every task reaching the shared store (`shared_store`, a file:// URL).
    """
    charter = os.environ.get("CHARTER_BIN") or shutil.which("charter")
    if not charter:
        if os.environ.get("CI") and os.environ.get(ENV):
            pytest.fail("no `charter` to run: set CHARTER_BIN")
        pytest.skip("no `charter` on PATH (set CHARTER_BIN)")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "charter").symlink_to(Path(charter).resolve())
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                             timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    repo = fixtures / "hostile-bash"
    bag = type(bags["hostile-bash"])(dag_folder=str(repo / FOLDER))  # fresh: other tests rendered the tasks
    later = ("_monitor", "_check", "_data")
    trainings = sorted(d for d in bag.dags if not d.endswith(later))
    others = [d for suffix in later for d in sorted(bag.dags) if d.endswith(suffix)]
    assert "charter_churn" in trainings and "charter_churn_monitor" in others and "charter_churn_data" in others
    for dag_id in trainings + others:  # every DAG: trainings first, the monitors find what they promoted
        run = bag.dags[dag_id].test()
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        if "retrain" in states:  # no drift, no new data: the retraining trigger is skipped
            assert states.pop("retrain") == "skipped", (dag_id, states)
        assert all(state == "success" for state in states.values()) and len(states) > 0, (dag_id, states)
    # new rows arrive: the data DAG's poll fails (exit 2) and triggers the training DAG
    data = next(p for p in (repo / "specs").rglob("*.csv") if "customer" in p.name)
    data.write_text(data.read_text(encoding="utf-8") + data.read_text(encoding="utf-8").splitlines()[1] + "\n",
                    encoding="utf-8")
    run = bag.dags["charter_churn_data"].test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"data_changed": "failed", "retrain": "success"}, states
    lock = json.loads((repo / "charter.lock").read_text(encoding="utf-8"))
    store = Path(expected["store"].removeprefix("file://"))
    for model in ("churn", "delivery-time"):
        version = lock["models"][model]["version"]  # promoted by the `package` task
        assert (store / "models" / model / version / "_SUCCESS").is_file()


if __name__ == "__main__":  # .ci/airflow.sh: render with charter's venv, test with Airflow's
    render_fixtures(Path(sys.argv[1]))

"""Target `argo`: WorkflowTemplates and CronWorkflows.

Checked against Argo's own schema (tightened to reject unknown fields, as ../shared/TARGETS.md
describes), by the references a schema cannot check, and with hostile spec text that must come
out inert.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from graphlib import TopologicalSorter

import pytest

from compiler.driver import compile_tree
from compiler.render import argo
from compiler.render.common import step_argv
from tests.conftest import REPO, run_charter
from tests.targets.external import errors, load_yaml_all, strict_argo
from tests.targets.pods import with_full_compute

EVIL = ("{{workflow.name}} {{=sprig.env('HOME')}} ${{ github.event.pull_request.title }}\n"
        "evil: key\n---\nkind: Secret\n: x '''\"q\"''' \\ \\n $(rm -rf /) `id` # not a comment {{")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def example_graph():
    return compile_tree(REPO)[1]


def docs_of(files: dict[str, str]) -> list[tuple[str, dict]]:
    return [(path, doc) for path, text in files.items() for doc in load_yaml_all(text)]


def assert_valid(files: dict[str, str]) -> None:
    """Every document against Argo's strict schema, and the names Argo checks beyond it."""
    names = set()
    for path, doc in docs_of(files):
        assert doc["apiVersion"] == "argoproj.io/v1alpha1", path
        assert errors(doc, strict_argo(doc["kind"])) == [], path
        name = doc["metadata"]["name"]
        assert DNS_LABEL.match(name) and len(name) <= (52 if doc["kind"] == "CronWorkflow" else 63), name
        assert (doc["kind"], name) not in names, f"two {doc['kind']}s named {name}"
        names.add((doc["kind"], name))
        assert all(len(v) <= 63 for v in doc["metadata"]["labels"].values())


def store_env(template: dict) -> list[dict]:
    """The template's CHARTER_STORE (its other variables are the declared secrets)."""
    return [e for e in template["container"].get("env", []) if e["name"] == "CHARTER_STORE"]


def test_every_document_matches_argos_strict_schema():
    files = argo.render(example_graph(), "generated")
    assert sorted(files) == ["generated/argo/_checks.yaml", "generated/argo/churn.yaml",
                             "generated/argo/delivery-time.yaml"]
    assert_valid(files)
    kinds = [(d["kind"], d["metadata"]["name"]) for _, d in docs_of(files)]
    assert kinds == [("WorkflowTemplate", "charter--checks"),
                     ("WorkflowTemplate", "charter-churn"), ("CronWorkflow", "charter-churn-monitor"),
                     ("WorkflowTemplate", "charter-delivery-time"), ("CronWorkflow", "charter-delivery-time-monitor")]


def test_tasks_are_the_ir_steps_and_dependencies_are_real():
    graph = example_graph()
    for model in graph.models:
        template = argo.pipeline(model, graph.project)
        templates = {t["name"]: t for t in template["spec"]["templates"]}
        assert len(templates) == len(template["spec"]["templates"])
        tasks = templates[template["spec"]["entrypoint"]]["dag"]["tasks"]
        assert [t["name"] for t in tasks] == [s.name for s in model.steps]
        order = {}
        for task, step in zip(tasks, model.steps, strict=True):
            deps = [d.removesuffix(".Succeeded") for d in task.get("depends", "").split(" && ") if d]
            assert deps == [n.split("/", 1)[1] for n in step.needs]
            assert set(deps) <= {t["name"] for t in tasks} and task["template"] in templates
            order[task["name"]] = deps
            container = templates[task["template"]]["container"]
            assert container["command"] + container["args"] == step_argv(model.name, step.name)
            assert container["workingDir"] == "/workspace"
            assert container["image"] == "ghcr.io/acme/charter-runner:0.1.0"
        list(TopologicalSorter(order).static_order())  # raises CycleError on a loop
        ingest, train = templates["ingest"]["retryStrategy"], templates["train"]["retryStrategy"]
        # the example's charter.yaml declares two retries; only ingest retries any failure
        assert ingest["limit"] == "2" and ingest["retryPolicy"] == "Always" and "backoff" in ingest
        assert train["retryPolicy"] == "OnError"


def test_the_store_volume_can_be_read_write_once():
    """One ReadWriteOnce volume serves a run only while no two of its steps run at once.

    So each step must need the one before it; if the IR ever gains parallel steps, the store
    volume needs ReadWriteMany.
    """
    graph = example_graph()
    for model in graph.models:
        for before, step in zip(model.steps, model.steps[1:], strict=False):
            assert before.id in step.needs, f"{step.id} could run beside {before.id}"


def test_shared_store_reaches_every_pod_and_a_folder_becomes_a_volume_per_run():
    graph = example_graph()
    local = {**graph.project, "artifact_store": ".charter/artifacts", "shared_store": None}
    template = argo.pipeline(graph.model("churn"), local)
    [claim] = template["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "charter-store" and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    for t in template["spec"]["templates"][1:]:
        assert store_env(t) == [{"name": "CHARTER_STORE", "value": "/charter-store"}]
        assert t["container"]["volumeMounts"] == [{"name": "charter-store", "mountPath": "/charter-store"}]
    for settings, url in [({"artifact_store": "s3://bucket/charter"}, "s3://bucket/charter"),
                          ({"artifact_store": "gs://b/x/"}, "gs://b/x"),
                          ({"shared_store": "s3://team/store"}, "s3://team/store"),
                          ({"artifact_store": "file:///data/store"}, None), ({"artifact_store": "/mnt/store"}, None),
                          ({"artifact_store": ".charter/artifacts"}, None)]:
        project = {**graph.project, "shared_store": None, **settings}
        files = argo.render(replace(graph, project=project), "generated")
        assert_valid(files)
        for _, doc in docs_of(files):
            spec = doc["spec"].get("workflowSpec", doc["spec"])
            pipeline = doc["kind"] == "WorkflowTemplate" and "charter.dev/model" in doc["metadata"]["labels"]
            assert ("volumeClaimTemplates" in spec) == (url is None and pipeline)
            for t in spec["templates"]:
                if "container" not in t:
                    continue
                if url is not None:  # every pod, the monitor and the checks included
                    assert store_env(t) == [{"name": "CHARTER_STORE", "value": url}]
                else:
                    assert bool(store_env(t)) == pipeline


def test_monitoring_cron():
    graph = example_graph()
    crons = {d["metadata"]["labels"]["charter.dev/model"]: d for _, d in docs_of(argo.render(graph, "generated"))
             if d["kind"] == "CronWorkflow"}
    assert set(crons) == {"churn", "delivery-time"}
    spec = crons["churn"]["spec"]
    assert spec["schedules"] == ["0 6 * * *"] and spec["timezone"] == "UTC" and spec["concurrencyPolicy"] == "Forbid"
    [template] = spec["workflowSpec"]["templates"]
    assert template["container"]["args"] == ["monitor", "churn", "--data", "customers"]
    assert "volumeClaimTemplates" not in spec["workflowSpec"]  # monitor reads charter.lock, not the store
    assert crons["delivery-time"]["spec"]["schedules"] == ["30 5 * * 1-5"]
    model = graph.model("churn")
    off = replace(model, monitoring={**model.monitoring, "enabled": False})
    assert not argo.monitored(off) and not argo.monitored(replace(model, monitoring=None))


@pytest.mark.parametrize(("spec", "argo_cron"), [
    ("0 6 * * *", "0 6 * * *"), ("0  6 *\t* MON-FRI", "0 6 * * mon-fri"), ("@DAILY", "@daily"),
    ("0 6 * * 7", "0 6 * * 0"), ("0 6 * * 5-7", "0 6 * * 0,5,6"), ("0 6 * * */3,7", "0 6 * * 0,3,6"),
    ("0 6 * * 1,5-7/2", "0 6 * * 0,1,5"),
])
def test_cron_is_what_argo_parses(spec: str, argo_cron: str):
    """Argo's cron parser (robfig/cron) takes day of week 0-6 and lowercase macros only."""
    assert argo.cron(spec) == argo_cron


def test_checks_template():
    graph = example_graph()
    [doc] = load_yaml_all(argo.render(graph, "generated")["generated/argo/_checks.yaml"])
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    tasks = templates[doc["spec"]["entrypoint"]]["dag"]["tasks"]
    assert [t["name"] for t in tasks] == [c.name for c in graph.checks]
    for task in tasks:
        container = templates[task["template"]]["container"]
        assert container["command"] + container["args"] == ["charter", "check-data", task["name"]]
        assert "depends" not in task and "volumeMounts" not in container  # one pod: no volume
        assert store_env({"container": container}) == [{"name": "CHARTER_STORE",
                                                        "value": graph.project["shared_store"]}]
    twice = replace(graph, checks=graph.checks + graph.checks[:1])  # a suite and a source of one name
    assert argo.checks(twice) == argo.checks(graph)


def test_names_no_model_can_clash_with():
    graph = example_graph()
    churn = graph.model("churn")
    long = "m" * 40 + "-" + "x" * 22  # 63 characters, the longest valid name
    models = (replace(churn, name="checks"), replace(churn, name=long), replace(churn, name=long[:-1] + "y"))
    files = argo.render(replace(graph, models=models), "generated")
    assert len(files) == 4 and "generated/argo/_checks.yaml" in files and "generated/argo/checks.yaml" in files
    assert_valid(files)  # names within Argo's limits, distinct, DNS labels
    labels = [d["metadata"]["labels"].get("charter.dev/model") for _, d in docs_of(files)]
    assert labels.count(long) == 2


@pytest.mark.parametrize("evil", [EVIL, " " + EVIL + " \t"], ids=["literal-block", "double-quoted"])
def test_hostile_description_stays_one_inert_value(example_repo, evil: str):
    model = example_repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    assert old in model.read_text()
    model.write_text(model.read_text().replace(old, "description: " + json.dumps(evil)))
    checked = run_charter("validate", cwd=example_repo)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    _, graph = compile_tree(example_repo)
    assert graph.model("churn").description == evil
    files = argo.render(graph, "generated")
    assert_valid(files)
    for text in files.values():  # kubectl splits documents at lines starting `---`, whatever YAML says
        count = len(load_yaml_all(text))
        assert sum(line.startswith("---") for line in text.splitlines()) == (count if count > 1 else 0)
    for _, doc in docs_of(files):
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        meta = doc["metadata"]
        if meta["labels"].get("charter.dev/model") == "churn":
            assert set(meta) == {"name", "labels", "annotations"}
            assert meta["annotations"] == {"workflows.argoproj.io/description": evil}  # exactly, one key
        # Argo expands only the spec (its templates); metadata annotations are never expanded.
        assert "{{" not in json.dumps(doc["spec"]) and "Secret" not in json.dumps(doc["spec"])
    clean = argo.render(example_graph(), "generated")
    assert [d["spec"] for _, d in docs_of(files)] == [d["spec"] for _, d in docs_of(clean)]


def test_hostile_image_is_refused_and_odd_valid_one_kept(example_repo):
    settings = example_repo / "charter.yaml"
    text = settings.read_text()
    for bad in ["ghcr.io/acme/x:{{workflow.name}}", "ghcr.io/acme/x:1 && rm -rf /", "ghcr.io/acme/x:'1'\nkind: x"]:
        settings.write_text(text.replace("ghcr.io/acme/charter-runner:0.1.0", json.dumps(bad)))
        assert run_charter("validate", cwd=example_repo).returncode != 0, bad
    odd = "localhost:5000/a__b/c---d:Tag_1.0-x@sha256:" + "0" * 64
    settings.write_text(text.replace("ghcr.io/acme/charter-runner:0.1.0", odd))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    files = argo.render(compile_tree(example_repo)[1], "generated")
    assert_valid(files)
    images = {t["container"]["image"] for _, d in docs_of(files)
              for t in d["spec"].get("workflowSpec", d["spec"])["templates"] if "container" in t}
    assert images == {odd}


def test_hostile_store_never_reaches_a_manifest(example_repo):
    settings = example_repo / "charter.yaml"
    settings.write_text(settings.read_text().replace(".charter/artifacts", json.dumps("{{workflow.name}}/'$(id)'")))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    files = argo.render(compile_tree(example_repo)[1], "generated")
    assert_valid(files)
    assert "{{" not in "".join(files.values()) and "$(id)" not in "".join(files.values())


def test_a_hand_made_ir_cannot_smuggle_an_expression():
    graph = example_graph()
    with pytest.raises(ValueError, match="expands"):
        argo.render(replace(graph, project={**graph.project, "image": "x:{{workflow.name}}"}), "generated")


def test_deterministic():
    assert argo.render(example_graph(), "generated") == argo.render(example_graph(), "generated")


def test_hera_reads_every_document():
    """Hera's models (generated from Argo's OpenAPI) parse the files; it is optional."""
    models = pytest.importorskip("hera.workflows.models")
    kinds = {"WorkflowTemplate": models.WorkflowTemplate, "CronWorkflow": models.CronWorkflow}
    for _, doc in docs_of(argo.render(example_graph(), "generated")):
        kinds[doc["kind"]].model_validate(doc)


def test_every_pod_setting_lands_natively_and_passes_the_strict_schema():
    """`compute` becomes the template's own fields: resources, secrets, a deadline, retries, placement."""
    graph = with_full_compute(example_graph())
    files = argo.render(graph, "generated")
    assert_valid(files)
    models = pytest.importorskip("hera.workflows.models")
    kinds = {"WorkflowTemplate": models.WorkflowTemplate, "CronWorkflow": models.CronWorkflow}
    for _, doc in docs_of(files):
        kinds[doc["kind"]].model_validate(doc)
    template = argo.pipeline(graph.model("churn"), graph.project)
    spec = template["spec"]
    assert "serviceAccountName" not in spec  # steps differ: each template names its own
    t = {x["name"]: x for x in spec["templates"]}
    ingest, train = t["ingest"], t["train"]
    assert ingest["serviceAccountName"] == "charter-pipelines" and "serviceAccountName" not in train
    assert ingest["container"]["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                                "limits": {"cpu": "1", "memory": "1Gi"}}
    assert train["container"]["resources"]["limits"] == {"cpu": "8", "memory": "1Ti", "amd.com/gpu": "2"}
    assert ingest["activeDeadlineSeconds"] == "1800" and t["split"]["activeDeadlineSeconds"] == "172800"
    assert ingest["retryStrategy"] == {"limit": "3", "retryPolicy": "Always",
                                       "backoff": {"duration": "10s", "factor": "3", "cap": "5m"}}
    assert train["retryStrategy"] == {"limit": "2", "retryPolicy": "OnError",
                                      "backoff": {"duration": "1m", "factor": "2"}}
    assert "retryStrategy" not in t["gate"]  # `limit: 0`: no retries at all
    assert ingest["nodeSelector"] == {"kubernetes.io/arch": "amd64", "acme.com/pool": "batch"}
    assert ingest["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
                                     {"key": "acme.com/spot", "operator": "Exists"}]
    assert ingest["container"]["env"][1:] == [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "store", "key": "access-key-id"}}},
        {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "churn-db", "key": "url"}}}]
    monitor = argo.monitor(graph.model("churn"), graph.project)["spec"]["workflowSpec"]
    assert monitor["serviceAccountName"] == "charter-monitor"  # one pod: the workflow's own
    assert monitor["templates"][0]["activeDeadlineSeconds"] == "600"
    checks = argo.checks(graph)["spec"]
    assert checks["serviceAccountName"] == "charter-pipelines"  # every check pod declares the same


def test_a_hand_made_ir_cannot_smuggle_an_expression_in_pod_settings():
    graph = example_graph()
    churn = graph.model("churn")
    for settings in ({"node_selector": {"pool": "{{workflow.name}}"}}, {"service_account": "{{x}}"},
                     {"secrets": {"X": {"name": "{{x}}", "key": "k"}}}):
        with pytest.raises(ValueError, match="expands"):
            argo.pipeline(replace(churn, compute={"train": settings}), graph.project)


def test_retraining_runs_the_models_own_template_on_its_schedule():
    from tests.targets.test_github import _retraining

    files = argo.render(_retraining(), "generated")
    assert_valid(files)
    docs = {d["metadata"]["name"]: d for _, d in docs_of(files)}
    retrain = docs["charter-churn-retrain"]
    assert retrain["kind"] == "CronWorkflow" and retrain["spec"]["schedules"] == ["0 3 * * 1"]
    assert retrain["spec"]["workflowSpec"] == {"workflowTemplateRef": {"name": "charter-churn"}}
    assert docs["charter-churn"]["kind"] == "WorkflowTemplate"  # the template it refers to is there
    assert "charter-delivery-time-retrain" not in docs
    models = pytest.importorskip("hera.workflows.models")
    models.CronWorkflow.model_validate(retrain)


def test_drift_and_data_change_crons_run_the_pipeline_after_their_check():
    from tests.targets.test_github import _retraining

    graph = _retraining()  # churn: a schedule and on_drift
    models = tuple(replace(m, retrain={**m.retrain, "on_data_change": True, "poll": "*/30 * * * *"})
                   if m.name == "churn" else m for m in graph.models)
    files = argo.render(replace(graph, models=models), "generated")
    assert_valid(files)
    docs = {d["metadata"]["name"]: d for _, d in docs_of(files)}
    template = docs["charter-churn"]["spec"]
    for name, check, argv, code, schedule in (
            ("charter-churn-monitor", "monitor", ["monitor", "churn", "--data", "customers"], 1, "0 6 * * *"),
            ("charter-churn-data", "data", ["status", "--data", "churn"], 2, "*/30 * * * *")):
        cron = docs[name]
        assert cron["kind"] == "CronWorkflow" and cron["spec"]["schedules"] == [schedule]
        spec = cron["spec"]["workflowSpec"]
        by_name = {t["name"]: t for t in spec["templates"]}
        assert by_name[spec["entrypoint"]]["steps"] == [
            [{"name": check, "template": check, "continueOn": {"failed": True}}],
            [{"name": "retrain", "template": "pipeline", "when": f"{{{{steps.{check}.exitCode}}}} == {code}"}]]
        assert by_name[check]["container"]["args"] == argv  # retried on pod errors only: its failure is news
        assert by_name[check].get("retryStrategy", {}).get("retryPolicy", "OnError") == "OnError"
        # the pipeline is the WorkflowTemplate's, template for template
        assert [by_name[t["name"]] for t in template["templates"]] == template["templates"]
        models_ = pytest.importorskip("hera.workflows.models")
        models_.CronWorkflow.model_validate(cron)
    assert "charter-delivery-time-data" not in docs

"""Target `github`: GitHub's schema, `zizmor --offline` with no finding, and inert spec text.

Spec text (folders, branch, image, descriptions) never reaches a `run:` or an expression.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.render import github
from tests.conftest import REPO, run_charter
from tests.targets.external import errors, load_yaml_all, schema

WORKFLOWS = [f".github/workflows/{n}" for n in ("charter-main.yml", "charter-monitor.yml", "charter-pr.yml")]
# Every expression the workflows may hold; anything else came from spec text.
EXPRESSIONS = {
    "github.workflow", "github.ref", "github.event.schedule", "github.ref_name", "github.repository", "github.token",
    "github.event.before", "github.event.pull_request.number", "github.event.pull_request.base.ref",
    "steps.diff.outputs.specs", "steps.plan.outputs.markdown", "steps.plan.outputs.status",
    "needs.plan.outputs.markdown", "steps.monitor.outputs.code", "vars.CHARTER_STORE",
    "vars.CHARTER_PACKAGE || 'charter==0.1.0'",
    "vars.CHARTER_STORE || 's3://acme-ml-artifacts/charter'", "secrets.CHARTER_PROMOTE_TOKEN || github.token",
    "vars.CHARTER_RUN_PACKAGE || 'charter[run]==0.1.0'",
    "!cancelled() && needs.plan.outputs.markdown != '' && vars.CHARTER_PR_COMMENT == 'true'"
    " && github.event.pull_request.head.repo.full_name == github.repository",
}  # fmt: skip
# What spec text may hold: an expression, a YAML key after a newline, quotes, a shell command.
EVIL = "${{ github.event.pull_request.title }}\n: evil '''\"q\" \\ $(rm -rf /) `id` %PATH% *[a]{b} $CI_JOB_TOKEN"
EVIL_FOLDER = "sp ${{ github.event.pull_request.title }} $(touch pwned) '''\"q\"\\ %PATH% *?[x]\n: y"  # no `/`


def example() -> dict[str, str]:
    _, graph = compile_tree(REPO)
    return github.render(graph, "generated")


def hostile_repo(repo: Path) -> Path:
    """The example with EVIL in a description (free text, accepted by validation).

    charter.yaml with EVIL in its folders, output, image and branch is rejected by validation
    (checked).
    """
    (repo / EVIL_FOLDER / "sub").mkdir(parents=True)
    (repo / EVIL_FOLDER / "sub" / "README.md").write_text("not a spec\n")
    config = (repo / "charter.yaml").read_text()
    for key, old, new in _HOSTILE_SETTINGS:
        assert f"{key}: {old}\n" in config
        (repo / "charter.yaml").write_text(config.replace(f"{key}: {old}\n", f"{key}: {json.dumps(new)}\n"))
        rejected = run_charter("validate", cwd=repo)
        assert rejected.returncode == 1 and ("S206" in rejected.stdout or "S225" in rejected.stdout), key
    (repo / "charter.yaml").write_text(config)
    model = repo / "specs/churn/model.yaml"
    old = "description: Predicts which customers cancel within the next month."
    assert old in model.read_text()
    model.write_text(model.read_text().replace(old, "description: " + json.dumps("d" + EVIL)))
    result = run_charter("validate", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


_HOSTILE_SETTINGS = (("specs", "[specs]", ["specs", EVIL_FOLDER]), ("output", "generated", "gen " + EVIL),
                     ("image", "ghcr.io/acme/charter-runner:0.1.0", "ghcr.io/x:1" + EVIL),
                     ("base_branch", "main", "main" + EVIL))  # fmt: skip


def hostile_graph(repo: Path):
    """The hostile repository's IR, with the settings validation rejects put back into it.

    The renderer must keep them inert on its own, not rely on validation.
    """
    from dataclasses import replace

    _, graph = compile_tree(hostile_repo(repo))
    settings = {key: new for key, _, new in _HOSTILE_SETTINGS}
    return None, replace(graph, project={**graph.project, **settings})


def runs(doc: dict) -> list[str]:
    return [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]


def zizmor(files: dict[str, str], tmp: Path, persona: str) -> list:
    if shutil.which("zizmor") is None:
        if os.environ.get("CI"):
            pytest.fail("zizmor is not installed and CI is set")
        pytest.skip("zizmor is not installed")
    for path, text in files.items():
        (tmp / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_text(text, encoding="utf-8")
    done = subprocess.run(["zizmor", "--offline", "--no-config", "--no-progress", "--format", "json",
                           f"--persona={persona}", str(tmp / ".github/workflows")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def test_rendering_is_deterministic():
    assert example() == example()


def test_workflows_match_githubs_schema():
    files = example()
    assert sorted(files) == WORKFLOWS
    for path, text in files.items():
        [doc] = load_yaml_all(text)
        assert errors(doc, schema("github-workflow.json")) == [], path


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(tmp_path: Path, persona: str):
    assert zizmor(example(), tmp_path, persona) == []


def test_every_action_is_pinned_by_sha_with_its_tag():
    for path, text in example().items():
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("uses:")]
        assert lines, path
        for line in lines:
            assert re.fullmatch(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


def test_permissions_are_least():
    allowed = {("charter-pr.yml", "changes"): {"contents": "read"},
               ("charter-pr.yml", "validate"): {"contents": "read"},
               ("charter-pr.yml", "plan"): {"contents": "read", "pull-requests": "read"},
               ("charter-pr.yml", "comment"): {"pull-requests": "write"},
               ("charter-main.yml", "run"): {"contents": "write", "pull-requests": "write"},
               # the rollback of a model whose gates fail on new data: a branch and its pull request
               ("charter-monitor.yml", "fallback-churn"): {"contents": "write", "pull-requests": "write"}}  # fmt: skip
    for path, text in example().items():
        [doc] = load_yaml_all(text)
        assert doc["permissions"] == {}, path
        for name, job in doc["jobs"].items():
            expected = allowed.get((Path(path).name, name), {"contents": "read"})
            assert job["permissions"] == expected, (path, name)
            checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
            assert all(s["with"]["persist-credentials"] is False for s in checkouts)
            assert job["timeout-minutes"] > 0


def test_no_expression_in_any_run():
    for text in example().values():
        [doc] = load_yaml_all(text)
        assert all("${{" not in run for run in runs(doc))


def test_pull_request_workflow_runs_always_and_skips_jobs():
    [doc] = load_yaml_all(example()[".github/workflows/charter-pr.yml"])
    assert "paths" not in doc["on"]["pull_request"] and "paths-ignore" not in doc["on"]["pull_request"]
    assert "pull_request_target" not in doc["on"] and "workflow_run" not in doc["on"]
    jobs = doc["jobs"]
    assert "if" not in jobs["changes"]
    for name in ("validate", "plan"):
        assert jobs[name]["needs"] == "changes" and jobs[name]["if"] == "needs.changes.outputs.specs == 'true'"
    paths = json.loads(jobs["changes"]["steps"][1]["env"]["CHARTER_PATHS"])
    assert paths[:3] == ["specs", "charter.yaml", "generated"]
    assert jobs["plan"]["steps"][0]["with"]["fetch-depth"] == 0
    plan = "\n".join(runs({"jobs": {"plan": jobs["plan"]}}))
    assert 'charter plan --base "origin/${BASE_REF}" --format markdown' in plan and "GITHUB_STEP_SUMMARY" in plan
    assert doc["concurrency"]["cancel-in-progress"] is True


def test_main_workflow_runs_affected_and_proposes_the_promotion_without_persisted_credentials():
    [doc] = load_yaml_all(example()[".github/workflows/charter-main.yml"])
    assert doc["on"] == {"push": {"branches": ["main"]}}
    steps = doc["jobs"]["run"]["steps"]
    script = "\n".join(runs(doc))
    assert 'charter run --affected --base "$BEFORE"' in script
    assert "GIT_CONFIG_VALUE_0" in script and "persist-credentials" not in script
    push = next(s for s in steps if "git push" in s.get("run", ""))
    assert push["env"]["GH_TOKEN"] == "${{ secrets.CHARTER_PROMOTE_TOKEN || github.token }}"
    assert all("GH_TOKEN" not in s.get("env", {}) for s in steps if s is not push)  # that step alone
    # a branch and a pull request, never a push to the protected base branch
    assert 'git push origin "HEAD:refs/heads/${promotion}"' in push["run"] and "gh pr create" in push["run"]
    assert "${BRANCH}\"" not in push["run"].split("git push", 1)[1].split("\n", 1)[0]
    assert json.loads(push["env"]["CHARTER_GENERATED"]) == ["charter.lock", "generated", ".github/CODEOWNERS",
                                                            ".github/workflows"]
    assert doc["concurrency"]["cancel-in-progress"] is False


def test_monitoring_has_one_cron_per_schedule_and_a_job_per_model():
    [doc] = load_yaml_all(example()[".github/workflows/charter-monitor.yml"])
    assert doc["on"]["schedule"] == [{"cron": "0 6 * * *"}, {"cron": "30 5 * * 1-5"}]
    # churn's RolloutPolicy falls back when its gates fail on the new data
    assert sorted(doc["jobs"]) == ["fallback-churn", "monitor-churn", "monitor-delivery-time"]
    assert "github.event.schedule == '0 6 * * *'" in doc["jobs"]["monitor-churn"]["if"]
    assert "charter monitor churn --data customers" in runs({"jobs": {"j": doc["jobs"]["monitor-churn"]}})[-1]
    assert runs({"jobs": {"j": doc["jobs"]["monitor-delivery-time"]}})[-1] == \
        "charter monitor delivery-time --data deliveries"
    fallback = doc["jobs"]["fallback-churn"]
    assert fallback["needs"] == "monitor-churn" and "needs.monitor-churn.outputs.code == '1'" in fallback["if"]
    assert fallback["steps"][-1]["env"]["REVIEWERS"] == "carol"  # the deployment Accountable


def test_cron_macros_become_fields():
    assert github.cron("@daily") == "0 0 * * *" and github.cron(" 0  6 * *  1 ") == "0 6 * * 1"


def test_no_monitoring_no_monitor_workflow():
    _, graph = compile_tree(REPO)
    bare = type(graph)(graph.project, tuple(type(m).from_dict({**m.to_dict(), "monitoring": None})
                                            for m in graph.models), graph.files)  # fmt: skip
    assert ".github/workflows/charter-monitor.yml" not in github.render(bare, "generated")


def test_hostile_values_come_out_inert(example_repo: Path, tmp_path: Path):
    _, graph = hostile_graph(example_repo)
    files = github.render(graph, graph.project["output"])
    for path, text in files.items():
        assert "\n: evil" not in text and "\n: y" not in text, path  # no line starts with injected text
        [doc] = load_yaml_all(text)
        assert errors(doc, schema("github-workflow.json")) == [], path
        assert set(re.findall(r"\$\{\{ ?(.*?) ?\}\}", text)) <= EXPRESSIONS, path
        assert not any(s in run for run in runs(doc) for s in ("rm -rf", "touch pwned", "evil", "'''")), path
    [pr] = load_yaml_all(files[".github/workflows/charter-pr.yml"])
    paths = json.loads(pr["jobs"]["changes"]["steps"][1]["env"]["CHARTER_PATHS"])
    assert paths[:4] == ["specs", EVIL_FOLDER, "charter.yaml", "gen " + EVIL]  # round-trips through JSON
    [main] = load_yaml_all(files[".github/workflows/charter-main.yml"])
    [branch] = main["on"]["push"]["branches"]
    assert re.sub(r"\\(.)", r"\1", branch, flags=re.S) == "main" + EVIL
    assert zizmor(files, tmp_path, "pedantic") == []


def test_changes_job_diffs_literal_paths(tmp_path: Path):
    """Run the `changes` step's script with bash, jq and git on folders named like EVIL_FOLDER."""
    if not (shutil.which("jq") and shutil.which("bash")):
        pytest.skip("needs bash and jq")
    [pr] = load_yaml_all(github.text([], [], github.pr_workflow({"specs": [EVIL_FOLDER, "*"]}, "out")))
    step = pr["jobs"]["changes"]["steps"][1]
    repo = tmp_path / "r"
    (repo / EVIL_FOLDER).mkdir(parents=True)
    (repo / EVIL_FOLDER / "a.yaml").write_text("a\n")
    (repo / "other.txt").write_text("o\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "base"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):  # fmt: skip
        subprocess.run([*git, *args], cwd=repo, check=True)

    def changed(edit: str) -> str:
        (repo / edit).write_text((repo / edit).read_text() + "more\n")
        subprocess.run([*git, "commit", "-qam", "edit"], cwd=repo, check=True)
        out = tmp_path / "out.txt"
        out.write_text("")
        env = {**os.environ, **step["env"], "BASE_REF": "main", "GITHUB_OUTPUT": str(out)}
        subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env, check=True,
                       capture_output=True)  # fmt: skip
        return out.read_text()

    assert changed("other.txt") == "specs=false\n"  # `*` is a literal folder name, not a glob
    assert changed(f"{EVIL_FOLDER}/a.yaml") == "specs=true\n"
    assert not (repo / "pwned").exists()


def test_only_jobs_that_run_pipelines_install_the_runtime():
    """Validate, compile --check and plan need the core install; run and monitor need charter[run].

    The core installs in seconds and takes tens of MB.
    """
    installs = {}
    for path, text in example().items():
        for job_id, job in load_yaml_all(text)[0]["jobs"].items():
            for step in job["steps"]:
                if step.get("name") == "Install charter":
                    installs[f"{Path(path).name}:{job_id}"] = step["env"]["CHARTER_PACKAGE"]
    core = "${{ vars.CHARTER_PACKAGE || 'charter==0.1.0' }}"
    runtime = "${{ vars.CHARTER_RUN_PACKAGE || 'charter[run]==0.1.0' }}"
    assert installs == {"charter-pr.yml:validate": core, "charter-pr.yml:plan": core,
                        "charter-main.yml:run": runtime, "charter-monitor.yml:monitor-churn": runtime,
                        "charter-monitor.yml:fallback-churn": runtime,
                        "charter-monitor.yml:monitor-delivery-time": runtime}


def test_install_constraints_reach_pip_and_nothing_else(example_repo: Path):
    """`install.constraints` becomes PIP_CONSTRAINT on every install step.

    A path that leaves the repository or could carry an expression is rejected by validation.
    """
    installs = [step for text in example().values() for job in load_yaml_all(text)[0]["jobs"].values()
                for step in job["steps"] if step.get("name") == "Install charter"]
    assert installs and all(s["env"]["PIP_CONSTRAINT"] == "requirements/constraints.txt" for s in installs)
    config = example_repo / "charter.yaml"
    text = config.read_text()
    line = "  install: {constraints: requirements/constraints.txt}\n"
    assert line in text
    for bad in ("../outside.txt", "/etc/constraints.txt", "${{ github.token }}", "a\nb", ".git/x"):
        config.write_text(text.replace(line, f"  install: {{constraints: {json.dumps(bad)}}}\n"))
        result = run_charter("validate", cwd=example_repo)
        assert result.returncode == 1 and ("S206" in result.stdout or "S225" in result.stdout), (bad, result.stdout)
    config.write_text(text.replace(line, ""))
    _, graph = compile_tree(example_repo)
    for doc in github.render(graph, "generated").values():
        assert "PIP_CONSTRAINT" not in doc


def _retraining():
    """The example's graph with churn retraining on a schedule and on drift."""
    _, graph = compile_tree(REPO)
    models = tuple(type(m).from_dict({**m.to_dict(), "retrain": {"schedule": "0 3 * * 1", "on_drift": True}})
                   if m.name == "churn" else m for m in graph.models)
    return type(graph)(graph.project, models, graph.files)


def test_retraining_runs_the_pipeline_then_the_main_workflows_promotion(tmp_path: Path):
    files = github.render(_retraining(), "generated")
    [retrain] = load_yaml_all(files[".github/workflows/charter-retrain.yml"])
    [monitor] = load_yaml_all(files[".github/workflows/charter-monitor.yml"])
    [main] = load_yaml_all(files[".github/workflows/charter-main.yml"])
    assert retrain["on"]["schedule"] == [{"cron": "0 3 * * 1"}] and sorted(retrain["jobs"]) == ["retrain-churn"]
    on_drift = monitor["jobs"]["retrain-churn"]
    assert on_drift["needs"] == "monitor-churn" and on_drift["if"] == \
        "always() && needs.monitor-churn.outputs.code == '1'"
    promote = main["jobs"]["run"]["steps"][-1]
    for job in (retrain["jobs"]["retrain-churn"], on_drift):
        assert job["steps"][-2]["run"] == "charter run churn"
        assert job["steps"][-1] == promote  # the same reviewed promotion as after a merge
        assert job["permissions"] == main["jobs"]["run"]["permissions"]
    assert "monitor-delivery-time" in monitor["jobs"] and "retrain-delivery-time" not in monitor["jobs"]
    for path in (".github/workflows/charter-retrain.yml", ".github/workflows/charter-monitor.yml"):
        [doc] = load_yaml_all(files[path])
        assert errors(doc, schema("github-workflow.json")) == [], path
    assert zizmor(files, tmp_path, "regular") == []


def test_a_fallback_that_applies_itself_pushes_to_the_base_branch_and_opens_nothing(tmp_path: Path):
    _, graph = compile_tree(REPO)
    models = tuple(type(m).from_dict({**m.to_dict(), "rollouts": [{**r, "fallback": {"mode": "apply", "reviewers": []}}
                                                                  for r in m.to_dict()["rollouts"]]})
                   if m.name == "churn" else m for m in graph.models)
    files = github.render(type(graph)(graph.project, models, graph.files), "generated")
    [monitor] = load_yaml_all(files[".github/workflows/charter-monitor.yml"])
    job = monitor["jobs"]["fallback-churn"]
    assert job["permissions"] == {"contents": "write"}  # no pull request to open
    step = job["steps"][-1]
    assert step["env"]["MODE"] == "apply" and step["env"]["REVIEWERS"] == ""
    assert 'push "HEAD:refs/heads/${BRANCH}"' in step["run"]
    assert errors(monitor, schema("github-workflow.json")) == []
    assert zizmor(files, tmp_path, "regular") == []


def _on_data_change(source_url_env: str | None = None):
    """The example's graph with churn retraining on a data change (and, optionally, reading a database)."""
    _, graph = compile_tree(REPO)
    models = []
    for m in graph.models:
        d = m.to_dict()
        if m.name == "churn":
            d["retrain"] = {"schedule": None, "on_drift": False, "on_data_change": True, "poll": "*/30 * * * *"}
            if source_url_env:
                ingest = next(s for s in d["steps"] if s["name"] == "ingest")
                ingest["params"] = {**ingest["params"], "format": "sql", "path": None, "table": "customers",
                                    "connection": {"url_env": source_url_env}, "watermark": "signup_date"}
        models.append(type(m).from_dict(d))
    return type(graph)(graph.project, tuple(models), graph.files)


def test_a_data_change_poll_retrains_only_when_the_data_changed(tmp_path: Path):
    files = github.render(_on_data_change("CHURN_DB_URL"), "generated")
    [retrain] = load_yaml_all(files[".github/workflows/charter-retrain.yml"])
    [main] = load_yaml_all(files[".github/workflows/charter-main.yml"])
    assert retrain["on"]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert sorted(retrain["jobs"]) == ["data-churn", "retrain-churn-on-data"]
    data = retrain["jobs"]["data-churn"]
    assert data["permissions"] == {"contents": "read"}
    assert data["outputs"] == {"changed": "${{ steps.data.outputs.changed }}"}
    step = data["steps"][-1]
    assert 'charter status --data "$MODEL"' in step["run"] and step["env"]["MODEL"] == "churn"
    # the database URL comes from the secret of its own name, in every job that reads the source
    assert step["env"]["CHURN_DB_URL"] == "${{ secrets.CHURN_DB_URL }}"
    job = retrain["jobs"]["retrain-churn-on-data"]
    assert job["needs"] == "data-churn" and job["if"] == "needs.data-churn.outputs.changed == 'true'"
    assert job["steps"][-2]["env"]["CHURN_DB_URL"] == "${{ secrets.CHURN_DB_URL }}"
    assert job["steps"][-1] == main["jobs"]["run"]["steps"][-1]  # the same reviewed promotion as after a merge
    assert main["jobs"]["run"]["steps"][-2]["env"]["CHURN_DB_URL"] == "${{ secrets.CHURN_DB_URL }}"
    for path in (".github/workflows/charter-retrain.yml", ".github/workflows/charter-main.yml"):
        [doc] = load_yaml_all(files[path])
        assert errors(doc, schema("github-workflow.json")) == [], path
    assert zizmor(files, tmp_path, "regular") == []


@pytest.mark.parametrize("since", ["7d", None])
def test_a_fallback_judged_on_the_prediction_log_monitors_what_production_served(tmp_path: Path, since):
    _, graph = compile_tree(REPO)
    fallback = {"mode": "review", "judge": "predictions", **({"since": since} if since else {}),
                "reviewers": ["@carol"]}
    models = tuple(type(m).from_dict({**m.to_dict(), "rollouts": [{**r, "fallback": fallback}
                                                                  for r in m.to_dict()["rollouts"]]})
                   if m.name == "churn" else m for m in graph.models)
    files = github.render(type(graph)(graph.project, models, graph.files), "generated")
    [monitor] = load_yaml_all(files[".github/workflows/charter-monitor.yml"])
    step = monitor["jobs"]["fallback-churn"]["steps"][-1]
    assert step["env"]["ENVIRONMENT"] == "production" and step["env"]["SINCE"] == (since or "")
    assert "DATA" not in step["env"] and '--data "$DATA"' not in step["run"]
    assert errors(monitor, schema("github-workflow.json")) == []
    assert zizmor(files, tmp_path / "z", "regular") == []
    # the script as a runner plays it, with a `charter` that records its arguments and changes nothing
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "charter").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$CALLS"\n')
    (bin_dir / "charter").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    env = {**os.environ, **{k: str(v) for k, v in step["env"].items() if "${{" not in str(v)},
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"),
           "RUNNER_TEMP": str(tmp_path)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=work, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "Nothing to roll back." in done.stdout, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == f"monitor churn --predictions --env production {'--since 7d ' if since else ''}--report " \
                       f"{tmp_path}/monitor.json"
    assert calls[1].startswith("fallback churn --report")

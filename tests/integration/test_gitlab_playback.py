"""Integration tier: the generated GitLab jobs' scripts, played from merge request to monitoring.

As a GitLab runner runs them: each job in a fresh clone of a bare `origin` at the pipeline's
commit (GIT_DEPTH 0), its `script` lines with bash -eo pipefail, its `variables` (project
CI/CD variables, here CHARTER_STORE, take precedence over a job's, as in GitLab) and the
predefined CI_* variables. The `image` is this machine's tools. The origin accepts push
options, so the promotion's `merge_request.create` options are sent as they would be to
GitLab. Which jobs a pipeline runs is chosen by the test (each job's rule is checked to name
that pipeline source).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.targets.external import load_yaml_all
from tests.tools.origin import drift_customers, example_origin, git, merge

pytestmark = pytest.mark.integration
pytest.importorskip("sklearn")



class GitLab:
    def __init__(self, tmp: Path, origin: Path, project_vars: dict[str, str]):
        self.tmp, self.origin, self.project_vars, self.count = tmp, origin, project_vars, 0
        charter = shutil.which("charter") or pytest.fail("the charter command is not on PATH")
        self.path = os.pathsep.join([str(Path(charter).parent), str(Path(sys.executable).parent), os.environ["PATH"]])

    def job(self, jobs: dict, name: str, source: str, sha: str, **predefined: str) -> subprocess.CompletedProcess:
        job = jobs[name]
        assert any(source in rule.get("if", "") for rule in job["rules"]), (name, job["rules"])
        self.count += 1
        workspace = self.tmp / f"job-{self.count}"
        subprocess.run(["git", "clone", "-q", str(self.origin), str(workspace)], check=True)
        subprocess.run(["git", "checkout", "-q", sha], cwd=workspace, check=True)
        env = {"PATH": self.path, "HOME": str(workspace), "LANG": "C.UTF-8", "CI": "true", "GITLAB_CI": "true",
               "CI_PIPELINE_SOURCE": source, "CI_COMMIT_SHA": sha, "CI_COMMIT_SHORT_SHA": sha[:8],
               "CI_PIPELINE_ID": str(self.count),
               "CI_SERVER_URL": f"file://{self.origin.parent}", "CI_SERVER_HOST": "gitlab.invalid",
               "CI_PROJECT_PATH": self.origin.stem, "CI_JOB_TOKEN": "job-token", "GIT_AUTHOR_NAME": "ci",
               "GIT_AUTHOR_EMAIL": "ci@example.com", "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@e.com",
               **predefined}
        for key, value in job.get("variables", {}).items():  # `expand: false` values are taken as written
            env[key] = value["value"] if isinstance(value, dict) else str(value)
        env.update(self.project_vars)
        script = "\n".join(job["script"])
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def world(tmp_path):
    dev, origin = example_origin(tmp_path)
    gitlab = GitLab(tmp_path / "runs", origin, {"CHARTER_STORE": str(tmp_path / "store")})
    return dev, origin, gitlab, tmp_path / "store"


def jobs_of(dev: Path) -> dict:
    return load_yaml_all((dev / "generated/gitlab/charter.gitlab-ci.yml").read_text())[0]


def ok(result: subprocess.CompletedProcess, what: str) -> None:
    assert result.returncode == 0, f"{what}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def test_gitlab_jobs_from_merge_request_to_monitoring(world):
    dev, origin, gitlab, store = world
    mr = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    # the example's committed version was trained into the shared store, as CI would have
    subprocess.run(["charter", "run", "churn", "--store", str(store)], cwd=dev, check=True, capture_output=True,
                   env={**os.environ, "PATH": gitlab.path})
    old = json.loads((dev / "charter.lock").read_text())["models"]["churn"]["version"]
    # the origin logs the push options it receives, as GitLab would act on them
    options = origin.parent / "push-options.log"
    hook = origin / "hooks/pre-receive"
    hook.write_text(f"#!/bin/sh\ncat > /dev/null\nenv | grep '^GIT_PUSH_OPTION_[0-9]' | sort >> {options}\n"
                    f"echo --- >> {options}\n")
    hook.chmod(0o755)
    git("switch", "-q", "-c", "tune", cwd=dev)
    model = dev / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("max_iter: 200", "max_iter: 150"))
    env = {**os.environ, "PATH": gitlab.path}
    subprocess.run(["charter", "compile"], cwd=dev, env=env, check=True, capture_output=True)
    git("commit", "-qam", "churn: fewer boosting rounds", cwd=dev)
    git("push", "-q", "origin", "tune", cwd=dev)
    jobs = jobs_of(dev)
    sha = git("rev-parse", "HEAD", cwd=dev)
    ok(gitlab.job(jobs, "charter-validate", "merge_request_event", sha, **mr), "validate")
    plan = gitlab.job(jobs, "charter-plan", "merge_request_event", sha, **mr)
    assert plan.returncode in (0, 3), plan.stderr  # 3 (approvals missing) is allowed to fail: GitLab's rules decide
    assert "spec.estimator.params.max_iter" in plan.stdout

    before, after = merge(dev, "tune")
    run = gitlab.job(jobs, "charter-run", "push", after, CI_COMMIT_BRANCH="main", CI_COMMIT_BEFORE_SHA=before)
    ok(run, "run")
    promotion = f"charter/promote-{after[:8]}-{gitlab.count}"  # and the pipeline id
    git("fetch", "-q", "origin", cwd=dev)
    assert git("rev-parse", "origin/main", cwd=dev) == after  # nothing pushed to the protected branch
    changed = git("diff", "--name-only", f"origin/main...origin/{promotion}", cwd=dev).splitlines()
    assert "charter.lock" in changed and "generated/kubernetes/production/churn.yaml" in changed
    version = json.loads(git("show", f"origin/{promotion}:charter.lock", cwd=dev))["models"]["churn"]["version"]
    assert (store / "models/churn" / version / "_SUCCESS").is_file()

    promoted = git("rev-parse", f"origin/{promotion}", cwd=dev)
    ok(gitlab.job(jobs, "charter-validate", "merge_request_event", promoted, **mr), "validate the promotion")

    _, deployed = merge(dev, promotion)
    monitor = {"CHARTER_MONITOR": "churn"}
    ok(gitlab.job(jobs, "charter-monitor-churn", "schedule", deployed, **monitor), "monitor")
    drift_customers(dev)
    head = git("rev-parse", "HEAD", cwd=dev)
    drifted = gitlab.job(jobs, "charter-monitor-churn", "schedule", head, **monitor)
    assert drifted.returncode == 1 and "ALERT" in drifted.stdout

    # the served version fails its gates on that data too: the fallback job (when: on_failure)
    # proposes the version before as a merge request, assigned to the deployment Accountable
    assert "gates: FAILED" in drifted.stdout
    assert jobs["charter-fallback-churn"]["rules"][0]["when"] == "on_failure"
    fallback = gitlab.job(jobs, "charter-fallback-churn", "schedule", head, CI_COMMIT_BRANCH="main", **monitor)
    ok(fallback, "fallback")
    git("fetch", "-q", "origin", cwd=dev)
    rollback = f"charter/fallback-churn-{gitlab.count}"
    assert git("rev-parse", "origin/main", cwd=dev) == head  # main untouched
    assert json.loads(git("show", f"origin/{rollback}:charter.lock", cwd=dev))["models"]["churn"]["version"] == old
    assert old in git("show", f"origin/{rollback}:generated/kubernetes/production/churn.yaml", cwd=dev)
    sent = [line.split("=", 1)[1] for line in options.read_text().split("---\n")[-2].splitlines()]
    assert {"merge_request.create", "merge_request.target=main", "merge_request.assign=carol"} <= set(sent)
    assert f"merge_request.title=charter: roll back churn: version {version} failed its gates on new data" in sent
    message = git("log", "-1", "--format=%B", f"origin/{rollback}", cwd=dev)
    assert f"version `{version}` of `churn`" in message and "@carol" in message  # the monitor report
    assert (store / "fallbacks/churn" / f"{version}.json").is_file()
    # nothing to roll back when the gates pass: the job changes nothing
    merge(dev, rollback)
    calm = gitlab.job(jobs, "charter-fallback-churn", "schedule", git("rev-parse", "HEAD", cwd=dev),
                      CI_COMMIT_BRANCH="main", **monitor)
    assert calm.returncode in (0, 1), calm.stdout + calm.stderr
    assert "Traceback" not in calm.stdout + calm.stderr

"""Integration tier: the generated GitHub workflows, played from pull request to monitoring.

`tests/tools/actions.py` plays each workflow's `run:` steps with bash as a runner would, in
fresh clones of a bare `origin`, with the artifact store in a folder outside every clone
(the repository variable CHARTER_STORE). `gh` is a stand-in that serves reviews and records
the pull requests it is asked to open. The scenario:

1. a pull request changes a hyperparameter: `validate` and `plan` pass (the plan, with the
   model Accountable's review, is in the job summary);
2. it is merged: the main workflow trains, promotes and pushes a branch with charter.lock and
   the manifests that serve the new version, and opens a pull request for it;
3. that promotion's pull request passes the pull request workflow (`compile --check` green;
   the plan names the promotion and needs the deployment Accountable);
4. merged, the monitor workflow finds the promoted model from a fresh clone and passes on the
   training data, and fails when the data drifted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools.actions import Runner
from tests.tools.origin import drift_customers, example_origin, git, merge

pytestmark = pytest.mark.integration
pytest.importorskip("sklearn")

FAKE_GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_GH_LOG"
case "$1 $2" in
  "api "*) cat "$FAKE_GH_REVIEWS" ;;
  "pr create") echo "https://github.invalid/acme/ml/pull/2" ;;
  *) ;;
esac
"""


@pytest.fixture
def world(tmp_path):
    """A bare origin holding the example, a developer's clone, and a runner."""
    dev, origin = example_origin(tmp_path)
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "gh").write_text(FAKE_GH)
    (fake / "gh").chmod(0o755)
    charter = shutil.which("charter") or pytest.fail("the charter command is not on PATH")
    reviews = tmp_path / "reviews.jsonl"
    runner = Runner(origin, tmp_path / "runs", [str(fake), str(Path(charter).parent), str(Path(sys.executable).parent)],
                    vars={"CHARTER_STORE": str(tmp_path / "store")}, secrets={},
                    env={"FAKE_GH_LOG": str(tmp_path / "gh.log"), "FAKE_GH_REVIEWS": str(reviews),
                         "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
                         "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com"})
    return {"dev": dev, "origin": origin, "runner": runner, "reviews": reviews, "gh_log": tmp_path / "gh.log",
            "store": tmp_path / "store"}


def approve(world, *users: str) -> None:
    world["reviews"].write_text("".join(json.dumps({"user": {"login": u}, "state": "APPROVED",
                                                    "submitted_at": "2026-12-01T00:00:00Z"}) + "\n" for u in users))


def pull_request(world, branch: str, number: int) -> dict:
    sha = git("rev-parse", f"origin/{branch}", cwd=world["dev"])
    event = {"pull_request": {"number": number, "base": {"ref": "main"}, "head": {"ref": branch, "sha": sha,
                                                                                 "repo": {"full_name": "acme/ml"}}}}
    return world["runner"].workflow(world["dev"] / ".github/workflows/charter-pr.yml", "pull_request", event, sha,
                                    f"refs/pull/{number}/merge")


def passed(results, *jobs: str) -> None:
    for job in jobs:
        assert results[job].status == "success", f"{job}:\n{results[job].log[-6000:]}"


def test_from_pull_request_to_production_and_monitoring(world):
    dev = world["dev"]
    # 1. a pull request that changes a hyperparameter, with its generated files
    git("switch", "-q", "-c", "tune", cwd=dev)
    model = dev / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("max_iter: 200", "max_iter: 150"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["charter", "compile"], cwd=dev, env=env, check=True, capture_output=True)
    git("commit", "-qam", "churn: fewer boosting rounds", cwd=dev)
    git("push", "-q", "origin", "tune", cwd=dev)
    approve(world, "bob")  # the model Accountable
    results = pull_request(world, "tune", 1)
    passed(results, "changes", "validate", "plan")
    assert results["changes"].outputs == {"specs": "true"}
    assert "spec.estimator.params.max_iter" in results["plan"].summary and "200" in results["plan"].summary
    assert results["comment"].status == "skipped"  # opt-in (CHARTER_PR_COMMENT)

    # 2. merged: the main workflow trains, promotes and proposes the promotion
    before, after = merge(dev, "tune")
    old = json.loads((dev / "charter.lock").read_text())["models"]["churn"]["version"]
    results = world["runner"].workflow(dev / ".github/workflows/charter-main.yml", "push", {"before": before},
                                       after, "refs/heads/main")
    passed(results, "run")
    promotion = f"charter/promote-{after[:12]}"
    git("fetch", "-q", "origin", cwd=dev)
    assert git("rev-parse", "origin/main", cwd=dev) == after  # nothing pushed to the protected branch
    changed = git("diff", "--name-only", f"origin/main...origin/{promotion}", cwd=dev).splitlines()
    assert "charter.lock" in changed
    assert "generated/kubernetes/production/churn.yaml" in changed  # the manifests serve the new version
    lock = json.loads(git("show", f"origin/{promotion}:charter.lock", cwd=dev))
    new = lock["models"]["churn"]["version"]
    assert new != old and (world["store"] / "models/churn" / new / "_SUCCESS").is_file()
    assert new in git("show", f"origin/{promotion}:generated/kubernetes/production/churn.yaml", cwd=dev)
    created = [line for line in world["gh_log"].read_text().splitlines() if line.startswith("pr create")]
    assert created and f"--head {promotion}" in created[0] and "--base main" in created[0]

    # 3. the promotion's pull request passes the checks, and needs the deployment Accountable
    approve(world, "carol")
    results = pull_request(world, promotion, 2)
    passed(results, "changes", "validate", "plan")
    assert "promotion" in results["plan"].summary and new in results["plan"].summary
    approve(world)
    unapproved = pull_request(world, promotion, 2)
    assert unapproved["plan"].status == "failure" and "@carol" in unapproved["plan"].summary

    # 4. merged; the monitor finds the promoted model from a fresh clone
    _, deployed = merge(dev, promotion)
    monitor = dev / ".github/workflows/charter-monitor.yml"
    results = world["runner"].workflow(monitor, "workflow_dispatch", {}, deployed, "refs/heads/main")
    passed(results, "monitor-churn")
    # new data arrives that has drifted: the same job alerts
    drift_customers(dev)
    drifted = world["runner"].workflow(monitor, "workflow_dispatch", {}, git("rev-parse", "HEAD", cwd=dev),
                                       "refs/heads/main")
    assert drifted["monitor-churn"].status == "failure"
    assert "ALERT" in drifted["monitor-churn"].log

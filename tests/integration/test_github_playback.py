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
   training data, and fails when the data drifted;
5. on the drifted data the served version also fails its gates: the monitor's fallback job rolls
   back to the version before (`charter fallback`) as a pull request with the monitor report in
   its description, for the deployment Accountable, which passes the pull request workflow;
   merged, a next failure never returns to the version that failed.
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
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # the example's committed version was trained into the shared store, as CI would have
    subprocess.run(["charter", "run", "churn", "--store", str(world["store"])], cwd=dev, env=env, check=True,
                   capture_output=True)
    assert not git("status", "--porcelain", cwd=dev)  # the same version the lock records
    # 1. a pull request that changes a hyperparameter, with its generated files
    git("switch", "-q", "-c", "tune", cwd=dev)
    model = dev / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("max_iter: 200", "max_iter: 150"))
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
    promotion = f"charter/promote-{after[:12]}-{world['runner'].runs}"  # and the run id
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


    # 5. on that data the served version fails its gates too: the fallback proposes the version before
    assert "gates: FAILED" in drifted["monitor-churn"].log
    passed(drifted, "fallback-churn")
    git("fetch", "-q", "origin", cwd=dev)
    rollbacks = [b.strip() for b in git("branch", "-r", "--list", "origin/charter/fallback-churn-*",
                                        cwd=dev).splitlines()]
    assert len(rollbacks) == 1, rollbacks
    branch = rollbacks[0].removeprefix("origin/")
    assert git("rev-parse", "origin/main", cwd=dev) == git("rev-parse", "HEAD", cwd=dev)  # main untouched
    lock = json.loads(git("show", f"origin/{branch}:charter.lock", cwd=dev))
    assert lock["models"]["churn"]["version"] == old  # the version before the promotion
    assert old in git("show", f"origin/{branch}:generated/kubernetes/production/churn.yaml", cwd=dev)
    created = [line for line in world["gh_log"].read_text().splitlines() if line.startswith("pr create")][-1]
    assert f"--head {branch}" in created and "--reviewer carol" in created and new in created
    [body] = [p.read_text() for p in world["runner"].work.glob("job-*/temp/fallback.md")]
    assert f"version `{new}` of `churn`" in body and "| `churn-quality:" in body and "@carol" in body
    assert (world["store"] / "fallbacks/churn" / f"{new}.json").is_file()  # never served again by a fallback
    # the rollback passes the pull request checks, and needs the deployment Accountable
    approve(world, "carol")
    results = pull_request(world, branch, 3)
    passed(results, "changes", "validate", "plan")
    assert old in results["plan"].summary
    # merged: the old version serves; if it fails on the same data too, nothing goes back to `new`
    merge(dev, branch)
    again = world["runner"].workflow(monitor, "workflow_dispatch", {}, git("rev-parse", "HEAD", cwd=dev),
                                     "refs/heads/main")
    if again["monitor-churn"].status == "failure" and "gates: FAILED" in again["monitor-churn"].log:
        assert again["fallback-churn"].status == "failure"
        assert f"{new} (failed a monitor)" in again["fallback-churn"].log


def test_retraining_when_the_data_changes(world):
    """A model with `retrain.on_data_change`: the retrain workflow's poll looks at the data on its cron.

    Unchanged data retrains nothing; new rows (written by an export job, not by a spec change)
    make the poll's job say so, and the retraining runs the same checks and gates and proposes the
    promotion as the main workflow does.
    """
    dev = world["dev"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    model = dev / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace(
        "  guardrails:\n", '  retrain: {on_data_change: true, poll: "*/30 * * * *"}\n  guardrails:\n', 1))
    subprocess.run(["charter", "compile"], cwd=dev, env=env, check=True, capture_output=True)
    # the trigger is in no step's hash: the committed version stays, trained into the shared store
    subprocess.run(["charter", "run", "churn", "--store", str(world["store"])], cwd=dev, env=env, check=True,
                   capture_output=True)
    git("add", "-A", cwd=dev)
    git("commit", "-qm", "churn retrains when its data changes", cwd=dev)
    git("push", "-q", "origin", "main", cwd=dev)
    old = json.loads((dev / "charter.lock").read_text())["models"]["churn"]
    workflow = dev / ".github/workflows/charter-retrain.yml"
    poll = {"schedule": "*/30 * * * *"}

    quiet = world["runner"].workflow(workflow, "schedule", poll, git("rev-parse", "HEAD", cwd=dev), "refs/heads/main")
    passed(quiet, "data-churn")
    assert quiet["data-churn"].outputs.get("changed", "") == ""
    assert "unchanged since charter.lock's run" in quiet["data-churn"].log
    assert quiet["retrain-churn-on-data"].status == "skipped"

    # a nightly export appends the newest customers
    data = dev / "specs/data/customers.csv"
    rows = data.read_text().splitlines()
    data.write_text("\n".join([*rows, *(r.replace("C0", "C9", 1) for r in rows[1:41])]) + "\n")
    git("commit", "-qam", "export: the newest customers", cwd=dev)
    git("push", "-q", "origin", "main", cwd=dev)
    sha = git("rev-parse", "HEAD", cwd=dev)
    results = world["runner"].workflow(workflow, "schedule", poll, sha, "refs/heads/main")
    passed(results, "data-churn", "retrain-churn-on-data")
    assert results["data-churn"].outputs == {"changed": "true"}
    assert "changed since charter.lock's run" in results["data-churn"].log
    promotion = f"charter/promote-{sha[:12]}-{world['runner'].runs}"
    git("fetch", "-q", "origin", cwd=dev)
    lock = json.loads(git("show", f"origin/{promotion}:charter.lock", cwd=dev))["models"]["churn"]
    assert lock["data_fingerprint"] != old["data_fingerprint"] and lock["version"] != old["version"]
    assert (world["store"] / "models/churn" / lock["version"] / "_SUCCESS").is_file()
    created = [line for line in world["gh_log"].read_text().splitlines() if line.startswith("pr create")]
    assert created and f"--head {promotion}" in created[-1]

    # merged, the next poll finds nothing new
    merge(dev, promotion)
    after = world["runner"].workflow(workflow, "schedule", poll, git("rev-parse", "HEAD", cwd=dev), "refs/heads/main")
    passed(after, "data-churn")
    assert after["retrain-churn-on-data"].status == "skipped"

"""Staging promotions that merge themselves (`auto_merge: true`), on GitHub and GitLab.

The decision runs in the promotion job: only a promotion whose every changed manifest is of
an auto-merge environment (which validation allows only with `approval: none`) is set to
auto-merge. These tests render the workflows for such a tree, check them (GitHub's schema,
zizmor, GitLab's schema), and run the generated decision in a git repository against a fake
`gh`, for a staging-only promotion and for one that also deploys production.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.render import github, gitlab
from tests.conftest import REPO, run_charter
from tests.targets.external import errors, load_yaml_all, schema
from tests.targets.test_github import zizmor

STAGING = "generated/kubernetes/staging/delivery-time.yaml"
PRODUCTION = "generated/kubernetes/production/delivery-time.yaml"


def auto_merge_graph(staging_only: bool = False):
    """The example with `auto_merge: true` on delivery-time's staging (optionally its only environment)."""
    _, graph = compile_tree(REPO)
    model = graph.model("delivery-time")
    [policy] = model.rollouts
    envs = [{**e, "auto_merge": True} if e["name"] == "staging" else e for e in policy["environments"]]
    if staging_only:
        envs = envs[:1]
    models = tuple(replace(m, rollouts=({**policy, "environments": envs},)) if m is model else m for m in graph.models)
    return replace(graph, models=models)


def test_validation_allows_it_only_without_an_approval(example_repo: Path):
    rollout = example_repo / "specs/delivery/model.yaml"
    text = rollout.read_text()
    rollout.write_text(text.replace("{name: staging, strategy: {type: direct}}",
                                    "{name: staging, strategy: {type: direct}, auto_merge: true}"))
    assert run_charter("validate", cwd=example_repo).returncode == 0
    _, graph = compile_tree(example_repo)
    assert github.render(graph, "generated") != github.render(compile_tree(REPO)[1], "generated")
    rollout.write_text(text.replace("approval: [\"@dana\", \"@acme/logistics-leads\"]",
                                    "approval: [\"@dana\", \"@acme/logistics-leads\"]\n      auto_merge: true"))
    result = run_charter("validate", cwd=example_repo)
    assert result.returncode == 1 and "S226" in result.stdout and "approval: none" in result.stdout


def test_without_auto_merge_the_workflows_say_nothing_of_it():
    _, graph = compile_tree(REPO)
    for files in (github.render(graph, "generated"), gitlab.render(graph, "generated")):
        text = "\n".join(files.values())
        assert "auto-merge" not in text and "--auto" not in text and "CHARTER_AUTO_MERGE" not in text


def test_github_sets_auto_merge_only_on_the_pull_request(tmp_path: Path):
    files = github.render(auto_merge_graph(), "generated")
    [doc] = load_yaml_all(files[".github/workflows/charter-main.yml"])
    assert errors(doc, schema("github-workflow.json")) == []
    assert zizmor(files, tmp_path, "pedantic") == []
    step = next(s for s in doc["jobs"]["run"]["steps"] if "gh pr create" in s.get("run", ""))
    assert json.loads(step["env"]["CHARTER_AUTO_MERGE"]) == [STAGING]
    assert json.loads(step["env"]["CHARTER_MANIFESTS"]) == ["generated/kubernetes"]
    assert 'gh pr merge "$promotion" --auto --squash' in step["run"]
    branch_only = replace(auto_merge_graph(), project={**auto_merge_graph().project, "promotion": {"via": "branch"}})
    [doc] = load_yaml_all(github.render(branch_only, "generated")[".github/workflows/charter-main.yml"])
    assert "gh pr merge" not in json.dumps(doc)  # no pull request, nothing to merge


def test_gitlab_adds_the_push_option_only_then():
    [doc] = load_yaml_all(next(iter(gitlab.render(auto_merge_graph(), "generated").values())))
    assert errors(doc, schema("gitlab-ci.json")) == []
    run = doc["charter-run"]
    assert run["variables"]["CHARTER_AUTO_MERGE"] == {"value": STAGING, "expand": False}
    assert "-o merge_request.merge_when_pipeline_succeeds" in run["script"][1]


def _repo(tmp_path: Path, changed: list[str]) -> Path:
    """A repository whose last commit (the promotion) changes `changed`."""
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    for path in (STAGING, PRODUCTION, "generated/kubernetes/staging/kustomization.yaml", "charter.lock"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("before\n")
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    for path in changed:
        (repo / path).write_text("after\n")
    subprocess.run([*git, "commit", "-q", "-am", "promote"], cwd=repo, check=True)
    return repo


def _fake_gh(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "gh.log"}\n')
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.parametrize(("changed", "merges"), [
    ([STAGING, "charter.lock"], True),
    ([STAGING, PRODUCTION, "charter.lock"], False),  # a model with production: its approval decides
    (["charter.lock"], False),  # nothing deploys
])
def test_the_generated_decision(tmp_path: Path, changed: list[str], merges: bool):
    repo = _repo(tmp_path, changed)
    env = {**os.environ, "PATH": f"{_fake_gh(tmp_path)}{os.pathsep}{os.environ['PATH']}", "promotion": "p"}
    script = github.AUTO_MERGE
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=repo, capture_output=True, text=True,
                          env={**env, "CHARTER_AUTO_MERGE": json.dumps([STAGING]),
                               "CHARTER_MANIFESTS": json.dumps(["generated/kubernetes"])})
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "gh.log").read_text() if (tmp_path / "gh.log").exists() else ""
    assert ("pr merge p --auto --squash" in log) == merges
    script = "set --\n" + gitlab.AUTO_MERGE + 'printf "%s\\n" "$@"\n'
    done = subprocess.run(["sh", "-e", "-c", script], cwd=repo, capture_output=True, text=True,
                          env={**env, "CHARTER_PROMOTION": "pull-request", "CHARTER_AUTO_MERGE": STAGING,
                               "CHARTER_OUTPUT": "generated"})
    assert done.returncode == 0, done.stderr
    assert ("merge_request.merge_when_pipeline_succeeds" in done.stdout) == merges

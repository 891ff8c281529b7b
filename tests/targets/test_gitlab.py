"""Target `gitlab`: GitLab's schema, the rules TARGETS.md asks for, and inert spec text.

The rules are the ones ../shared/TARGETS.md item 12 asks for; spec text stays inert where
GitLab expands `$VAR`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.render import gitlab
from tests.conftest import REPO
from tests.targets.external import errors, load_yaml_all, schema
from tests.targets.test_github import EVIL, EVIL_FOLDER, hostile_graph

PATH = "generated/gitlab/charter.gitlab-ci.yml"
MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'


def example() -> dict[str, str]:
    _, graph = compile_tree(REPO)
    return gitlab.render(graph, "generated")


def doc_of(files: dict[str, str]) -> dict:
    [doc] = load_yaml_all(next(iter(files.values())))
    return doc


def matches(pattern: str, path: str) -> bool:
    """GitLab's rules:changes glob (File.fnmatch with FNM_PATHNAME), for the forms used here."""
    pieces = re.split(r"(\*\*/|\*|\?)", pattern)
    regex = "".join({"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(p, re.escape(p)) for p in pieces)
    return re.fullmatch(regex, path, re.S) is not None


def test_rendering_is_deterministic():
    assert example() == example()


def test_matches_gitlabs_schema_and_adds_only_charter_jobs():
    files = example()
    assert list(files) == [PATH]
    doc = doc_of(files)
    assert errors(doc, schema("gitlab-ci.json")) == []
    assert all(name.startswith("charter-") for name in doc)  # no stages, default or variables of its own
    assert sorted(doc) == ["charter-fallback-churn", "charter-monitor-churn", "charter-monitor-delivery-time",
                           "charter-plan", "charter-run",
                           "charter-validate"]


def test_merge_request_jobs_run_on_changes_against_the_base():
    doc = doc_of(example())
    for name in ("charter-validate", "charter-plan"):
        [rule] = doc[name]["rules"]
        assert rule == {"if": MR, "changes": {"paths": ["specs/**/*", "charter.yaml", "generated/**/*",
                                                        ".github/CODEOWNERS"], "compare_to": "refs/heads/main"}}
    assert doc["charter-validate"]["script"] == ["charter validate", "charter compile --check"]
    plan = doc["charter-plan"]
    assert plan["variables"]["GIT_DEPTH"] == "0" and plan["allow_failure"] == {"exit_codes": [3]}
    assert 'charter plan --base "origin/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME}" --format markdown' in plan["script"][1]
    assert plan["artifacts"]["paths"] == ["charter-plan.md"]


def test_push_job_runs_affected_and_proposes_the_promotion():
    run = doc_of(example())["charter-run"]
    assert run["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"'}]
    assert 'charter run --affected --base "$BEFORE"' in run["script"][0]
    promote = run["script"][1]
    assert promote.startswith("# The deployment configs") and "\ncharter compile\n" in promote
    assert '"HEAD:refs/heads/${promotion}"' in promote and "merge_request.create" in promote
    assert "[skip ci]" not in promote  # the promotion's merge request runs the checks
    assert run["variables"]["CHARTER_OUTPUT"] == {"value": "generated", "expand": False}
    assert run["variables"]["CHARTER_PROMOTION"] == "pull-request"
    assert run["resource_group"] == "charter-run"


def test_monitoring_runs_on_schedules_naming_the_model():
    doc = doc_of(example())
    job = doc["charter-monitor-churn"]
    assert job["script"] == ["charter monitor churn --data customers"]
    [rule] = job["rules"]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in rule["if"]
    assert "$CHARTER_MONITOR =~ /^(.+,)?(churn|all)(,.+)?$/" in rule["if"]
    wanted = re.compile(r"^(.+,)?(churn|all)(,.+)?$")
    assert all(wanted.match(v) for v in ("churn", "all", "delivery-time,churn"))
    assert not any(wanted.match(v) for v in ("delivery-time", "churn2", "xchurn"))


def test_image_travels_unexpanded():
    for name, job in doc_of(example()).items():
        assert job["image"] == "$CHARTER_IMAGE", name
        assert job["variables"]["CHARTER_IMAGE"] == {"value": "ghcr.io/acme/charter-runner:0.1.0", "expand": False}


def test_hostile_values_come_out_inert(example_repo: Path):
    _, graph = hostile_graph(example_repo)
    files = gitlab.render(graph, graph.project["output"])
    [(path, text)] = files.items()
    assert path == f"gen {EVIL}/gitlab/charter.gitlab-ci.yml"
    head, _, body = text.partition("\n\n")
    assert all(line.startswith("#") for line in head.splitlines())  # comments stayed comments
    doc = doc_of(files)
    assert errors(doc, schema("gitlab-ci.json")) == []
    assert all(name.startswith("charter-") for name in doc)
    for name, job in doc.items():
        assert job["variables"]["CHARTER_IMAGE"] == {"value": "ghcr.io/x:1" + EVIL, "expand": False}
        for line in job["script"]:
            assert not any(s in line for s in ("rm -rf", "touch pwned", "evil", "'''", "%PATH%")), (name, line)
        for rule in job["rules"]:
            assert "evil" not in rule["if"], name
            for pattern in rule.get("changes", {}).get("paths", []):
                assert not set(pattern.replace("**/*", "")) & set("$%*[]{}\\\n"), pattern
    [rule] = doc["charter-validate"]["rules"]
    assert "compare_to" not in rule["changes"]  # an unplain branch: GitLab's own MR target instead
    folder, out = rule["changes"]["paths"][1], rule["changes"]["paths"][3]
    assert matches(folder, f"{EVIL_FOLDER}/sub/README.md") and not matches(folder, "specs/x.yaml")
    assert matches(out, f"gen {EVIL}/gitlab/charter.gitlab-ci.yml")
    [push] = doc["charter-run"]["rules"]
    assert push == {"if": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'}


def test_patterns_keep_plain_paths_and_match_odd_ones():
    assert gitlab.folder("specs/") == "specs/**/*" and gitlab.folder(".") == "**/*"
    assert gitlab.pattern("a$b%c*d") == "a?b?c?d" and matches(gitlab.folder("a$b"), "a$b/c/d.yaml")
    assert gitlab.branch({"base_branch": "release/1.x"}) == "release/1.x"
    assert gitlab.branch({"base_branch": "a$b"}) is None and gitlab.branch({"base_branch": 'a"b'}) is None


def test_retraining_on_a_schedule_and_on_drift_runs_the_pipeline_then_the_promotion():
    from tests.targets.test_github import _retraining

    doc = doc_of(gitlab.render(_retraining(), "generated"))
    assert errors(doc, schema("gitlab-ci.json")) == []
    run, scheduled, on_drift = doc["charter-run"], doc["charter-retrain-churn"], doc["charter-retrain-churn-on-drift"]
    assert "$CHARTER_RETRAIN =~ /^(.+,)?(churn|all)(,.+)?$/" in scheduled["rules"][0]["if"]
    assert on_drift["needs"] == ["charter-monitor-churn"] and on_drift["rules"][0]["when"] == "on_failure"
    assert "$CHARTER_MONITOR =~ /^(.+,)?(churn|all)(,.+)?$/" in on_drift["rules"][0]["if"]
    assert doc["charter-monitor-churn"]["allow_failure"] == {"exit_codes": [3]}  # too few rows: no retraining
    assert "allow_failure" not in doc["charter-monitor-delivery-time"]
    for job in (scheduled, on_drift):
        assert job["script"] == ["charter run churn", run["script"][-1]]  # the same promotion as after a merge
        assert job["variables"] == run["variables"] and job["resource_group"] == run["resource_group"]
    assert "charter-retrain-delivery-time" not in doc
    text = next(iter(gitlab.render(_retraining(), "generated").values()))
    assert "#   CHARTER_RETRAIN=churn  cron: 0 3 * * 1\n" in text


def test_a_data_change_poll_fails_when_the_data_changed_and_the_retraining_follows():
    from tests.targets.test_github import _on_data_change

    files = gitlab.render(_on_data_change(), "generated")
    doc = doc_of(files)
    assert errors(doc, schema("gitlab-ci.json")) == []
    poll, retrain, run = doc["charter-data-churn"], doc["charter-retrain-churn-on-data"], doc["charter-run"]
    assert poll["script"] == ["charter status --data churn"] and "allow_failure" not in poll  # exit 2 fails it
    assert "$CHARTER_DATA =~ /^(.+,)?(churn|all)(,.+)?$/" in poll["rules"][0]["if"]
    assert retrain["needs"] == ["charter-data-churn"] and retrain["rules"][0]["when"] == "on_failure"
    assert retrain["script"] == ["charter run churn", run["script"][-1]]  # the same promotion as after a merge
    assert "#   CHARTER_DATA=churn  cron: */30 * * * *\n" in next(iter(files.values()))
    assert "charter-data-delivery-time" not in doc


def _falling_back(fallback: dict):
    _, graph = compile_tree(REPO)
    models = tuple(type(m).from_dict({**m.to_dict(), "rollouts": [{**r, "fallback": fallback}
                                                                  for r in m.to_dict()["rollouts"]]})
                   if m.name == "churn" else m for m in graph.models)
    return type(graph)(graph.project, models, graph.files)


def test_a_failed_monitor_job_is_followed_by_the_fallback():
    doc = doc_of(example())
    assert errors(doc, schema("gitlab-ci.json")) == []
    job, monitor = doc["charter-fallback-churn"], doc["charter-monitor-churn"]
    assert job["needs"] == ["charter-monitor-churn"] and job["rules"] == [{**monitor["rules"][0], "when": "on_failure"}]
    assert monitor["allow_failure"] == {"exit_codes": [3]}  # too few rows: nothing to judge, nothing rolled back
    variables = job["variables"]
    assert (variables["CHARTER_FALLBACK_MODEL"], variables["CHARTER_FALLBACK_DATA"]) == ("churn", "customers")
    assert variables["CHARTER_FALLBACK_MODE"] == "review" and variables["CHARTER_FALLBACK_ASSIGN"] == "carol"
    assert variables["CHARTER_ROLLBACK_PATHS"] == {"value": "charter.lock\ngenerated\n.github\nspecs", "expand": False}
    assert job["resource_group"] == doc["charter-run"]["resource_group"]  # never at once with a promotion
    assert "charter-fallback-delivery-time" not in doc


@pytest.mark.parametrize("since", ["7d", None])
def test_the_fallback_script_judges_the_prediction_log_and_pushes_nothing_when_gates_pass(tmp_path: Path, since):
    fallback = {"mode": "apply", "judge": "predictions", **({"since": since} if since else {}), "reviewers": []}
    job = doc_of(gitlab.render(_falling_back(fallback), "generated"))["charter-fallback-churn"]
    assert "CHARTER_FALLBACK_DATA" not in job["variables"]
    assert job["variables"]["CHARTER_FALLBACK_ENVIRONMENT"] == "production"
    # the script as a runner plays it, with a `charter` that records its arguments and changes nothing
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "charter").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$CALLS"\n')
    (bin_dir / "charter").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    variables = {k: v["value"] if isinstance(v, dict) else str(v) for k, v in job["variables"].items()}
    env = {**os.environ, **variables, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "CALLS": str(tmp_path / "calls")}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", "\n".join(job["script"])],
                          cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "Nothing to roll back." in done.stdout, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [f"monitor churn --predictions --env production {'--since 7d ' if since else ''}--report "
                     "monitor.json", "fallback churn --report monitor.json --description fallback.md"]

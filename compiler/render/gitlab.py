"""Target `gitlab`: `<out>/gitlab/charter.gitlab-ci.yml`, jobs for GitLab CI.

The project's own `.gitlab-ci.yml` includes the file, which sets no stages, defaults or global
variables of its own.

- Merge requests: `charter-validate` and `charter-plan` run when the specs, `charter.yaml` or
  a generated file changed (`rules:changes` with `compare_to`, ../shared/TARGETS.md item 12).
- Pushes to `base_branch`: `charter-run` runs the pipelines whose specs changed and pushes
  `charter.lock` back, one at a time (`resource_group`).
- Pipeline schedules: `charter-monitor-<model>` runs when the schedule's variable
  `CHARTER_MONITOR` names the model (or `all`); `charter-retrain-<model>` (a Model with
  `retrain.schedule`) when `CHARTER_RETRAIN` names it: `charter run MODEL` and the promotion of
  `charter-run`. With `retrain.on_drift`, `charter-retrain-<model>-on-drift` runs after the
  monitor job when it failed (exit 1, an alert; exit 3, too few rows, is allowed to fail).
  With `retrain.on_data_change`, `charter-data-<model>` (when `CHARTER_DATA` names it) runs
  `charter status --data MODEL`, which fails (exit 2) when the data changed since charter.lock's
  run; `charter-retrain-<model>-on-data` runs after it then. A model whose RolloutPolicy declares
  `fallback` gets `charter-fallback-<model>` after a failed monitor job: `charter fallback`, then
  the rollback as a merge request (or pushed, with `mode: apply`).

GitLab expands `$VAR` (and `%VAR%`) in `image`, `variables` and `rules:changes`, and the shell
expands them in `script`, so spec text is made inert where it lands: the image travels in a
variable with `expand: false`, folder patterns have every special character replaced by the
`?` wildcard (a pattern that still matches the folder), a branch with such characters falls
back to `$CI_DEFAULT_BRANCH`, and nothing free-form reaches a script.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex

from compiler.render.common import (
    ONLY_AUTO_MERGE,
    RUN_AFFECTED,
    Parts,
    auto_merge_manifests,
    dump_yaml,
    image,
    shared_store,
)
from compiler.render.header import header

FILE = "gitlab/charter.gitlab-ci.yml"
_PLAIN = re.compile(r"[A-Za-z0-9._/-]+\Z")  # a branch that reads the same in a rule and a ref
_SPECIAL = set("$%*?[]{}\\")  # variable expansion and glob syntax in rules:changes:paths
MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'

FETCH = """\
git fetch --quiet origin \\
  "+refs/heads/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME}:refs/remotes/origin/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME}"
"""
PLAN = """\
status=0
charter plan --base "origin/${CI_MERGE_REQUEST_TARGET_BRANCH_NAME}" --format markdown > charter-plan.md || status=$?
cat charter-plan.md
case "$status" in
  0|2) exit 0 ;;
  3) echo "charter plan: approvals are missing (see charter-plan.md)" >&2; exit 3 ;;
  *) echo "charter plan failed (exit $status)" >&2; exit 1 ;;
esac
"""
RUN = ("# The commit before the push; after a force push or on a new branch it may be unknown here.\n"
       'BEFORE="$CI_COMMIT_BEFORE_SHA"\n' + RUN_AFFECTED)
# Who pushes: a project access token, else the job token (see the comment before it in PROMOTE).
AUTH = """\
if [ -n "${CHARTER_PUSH_TOKEN:-}" ]; then
  auth="charter:${CHARTER_PUSH_TOKEN}"
else
  auth="gitlab-ci-token:${CI_JOB_TOKEN}"
fi
"""
PROMOTE = """\
# The deployment configs serve the versions charter.lock records: render them with it, so the
# lock and the manifests a GitOps controller applies change together, in one reviewed change.
charter compile
if [ -z "$(git status --porcelain -- charter.lock)" ]; then
  echo "No model was promoted: nothing to deploy."
  exit 0
fi
# the pipeline id too: a scheduled run or a retry may train the same commit again
promotion="charter/promote-${CI_COMMIT_SHORT_SHA}-${CI_PIPELINE_ID}"
git config user.name "charter"
git config user.email "charter@noreply.${CI_SERVER_HOST}"
git switch -c "$promotion"
git add -A -- charter.lock "$CHARTER_OUTPUT"
if [ -e .github ]; then git add -A -- .github; fi
git commit -m "charter: promote the models trained at ${CI_COMMIT_SHORT_SHA}"
# A project access token (write_repository) in CHARTER_PUSH_TOKEN, else the job token (needs
# "Allow Git push requests" in the CI/CD job token settings). It reaches git through the
# environment of this one command, never .git/config or the command line. With
# CHARTER_PROMOTION=pull-request (promotion.via), GitLab's push options open a merge request.
""" + AUTH + """\
set --
if [ "$CHARTER_PROMOTION" = "pull-request" ]; then
  set -- -o merge_request.create -o "merge_request.target=${CI_COMMIT_BRANCH}" \\
    -o "merge_request.title=charter: promote the models trained at ${CI_COMMIT_SHORT_SHA}"
fi
"""
# Inserted before the push when an environment declares `auto_merge: true`.
AUTO_MERGE = """\
# Only a promotion whose every changed manifest is of an environment with `auto_merge: true`
# (which needs no approval) merges itself, once its pipeline succeeds; any other waits for review.
if [ "$CHARTER_PROMOTION" = "pull-request" ]; then
  ALLOWED="$CHARTER_AUTO_MERGE"
  MANIFESTS="${CHARTER_OUTPUT}/kubernetes"
""" + "".join(f"  {line}\n" for line in ONLY_AUTO_MERGE.splitlines()) + """\
  if [ -n "$deploys" ] && [ -z "$others" ]; then
    set -- "$@" -o merge_request.merge_when_pipeline_succeeds
  else
    echo "Not set to auto-merge: the promotion deploys environments that need a review."
  fi
fi
"""
PUSH = """\
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${CI_SERVER_URL}/.extraheader" \\
  GIT_CONFIG_VALUE_0="Authorization: Basic $(printf '%s' "$auth" | base64 | tr -d '\\n')" \\
  git push "$@" "${CI_SERVER_URL}/${CI_PROJECT_PATH}.git" "HEAD:refs/heads/${promotion}"
"""


# The fallback job, after the monitor job failed: the served version judged again on the same
# data; only failing gates roll back. `charter fallback` changes nothing when they passed;
# otherwise the rollback is pushed as a merge request (GitLab's push options: the title, and
# the deployment Accountable as assignee; its Code Owners approval rule requires them), with
# the monitor report as the commit message, or to the base branch with `fallback.mode: apply`.
FALLBACK = """\
set +e
charter monitor "$CHARTER_FALLBACK_MODEL" --data "$CHARTER_FALLBACK_DATA" --report monitor.json > /dev/null
set -e
charter fallback "$CHARTER_FALLBACK_MODEL" --report monitor.json --description fallback.md
if [ -z "$(git status --porcelain -- charter.lock)" ]; then
  echo "Nothing to roll back."
  exit 0
fi
failing="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' monitor.json)"
git config user.name "charter"
git config user.email "charter@noreply.${CI_SERVER_HOST}"
while IFS= read -r path; do
  if [ -e "$path" ] || git ls-files --error-unmatch -- "$path" > /dev/null 2>&1; then git add -A -- "$path"; fi
done <<< "$CHARTER_ROLLBACK_PATHS"
title="charter: roll back ${CHARTER_FALLBACK_MODEL}: version ${failing} failed its gates on new data"
{ printf '%s\\n\\n' "$title"; cat fallback.md; } | git commit -q -F -
""" + AUTH + """\
set --
if [ "$CHARTER_FALLBACK_MODE" = "apply" ]; then
  promotion="$CI_COMMIT_BRANCH"
else
  promotion="charter/fallback-${CHARTER_FALLBACK_MODEL}-${CI_PIPELINE_ID}"
  set -- -o merge_request.create -o "merge_request.target=${CI_COMMIT_BRANCH}" -o "merge_request.title=${title}"
  if [ -n "$CHARTER_FALLBACK_ASSIGN" ]; then set -- "$@" -o "merge_request.assign=${CHARTER_FALLBACK_ASSIGN}"; fi
fi
"""


def promote(auto_merge: list[str]) -> str:
    """The promotion script; with auto-merge manifests, it may ask GitLab to merge when the pipeline succeeds."""
    return PROMOTE + (AUTO_MERGE if auto_merge else "") + PUSH


def pattern(path: str) -> str:
    """A literal path as a rules:changes pattern.

    Special characters become `?`, which matches them, so the pattern matches the path (and at
    worst a few neighbours).
    """
    return "".join("?" if c in _SPECIAL or not c.isprintable() else c for c in path)


def folder(path: str) -> str:
    path = posixpath.normpath(path)
    return "**/*" if path == "." else pattern(path) + "/**/*"


def watched(project: dict, out: str) -> list[str]:
    return [*(folder(p) for p in project.get("specs", ["specs"])), "charter.yaml", folder(out), ".github/CODEOWNERS"]


def branch(project: dict) -> str | None:
    """`base_branch` when GitLab reads it literally in a rule and a ref, else None."""
    name = project.get("base_branch", "main")
    return name if _PLAIN.match(name) and ".." not in name else None


def _job(project: dict, stage: str, script: list[str], rules: list[dict], minutes: int, **extra) -> dict:
    # The image travels in a variable that GitLab does not expand, so `$` in it stays a `$`;
    # a project CI/CD variable CHARTER_IMAGE overrides it.
    variables = {"CHARTER_IMAGE": {"value": image(project), "expand": False}, **extra.pop("variables", {})}
    return {"stage": stage, "image": "$CHARTER_IMAGE", "variables": variables, **extra, "script": script,
            "rules": rules, "timeout": f"{minutes} minutes"}


def _store(project: dict) -> dict:
    """CHARTER_STORE of the jobs that run or monitor, from `shared_store`, unexpanded.

    A project CI/CD variable of the same name takes precedence over a job's variables in
    GitLab, so it still overrides this default.
    """
    url = shared_store(project)
    return {"CHARTER_STORE": {"value": url, "expand": False}} if url else {}


def jobs(project: dict, out: str, monitored: list, auto_merge: list[str] | None = None,
         models: list | None = None) -> dict:
    auto_merge = auto_merge or []
    base = branch(project)
    changes = {"paths": watched(project, out), **({"compare_to": f"refs/heads/{base}"} if base else {})}
    on_mr = [{"if": MR, "changes": changes}]
    push = f'$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == {json.dumps(base) if base else "$CI_DEFAULT_BRANCH"}'
    found = {
        "charter-validate": _job(project, "test", ["charter validate", "charter compile --check"], on_mr, 15,
                                 interruptible=True),
        # Exit 3 (approvals missing) is a warning: GitLab does not re-run the job on approval,
        # so its approval rules (Code Owners) enforce them; see docs/targets/gitlab.md.
        "charter-plan": _job(project, "test", [FETCH, PLAN], on_mr, 20, variables={"GIT_DEPTH": "0"},
                             interruptible=True, allow_failure={"exit_codes": [3]},
                             artifacts={"when": "always", "expose_as": "charter plan", "paths": ["charter-plan.md"],
                                        "expire_in": "30 days"}),
        "charter-run": _job(project, "deploy", [RUN, promote(auto_merge)], [{"if": push}], 360,
                            variables=_promotion_variables(project, out, auto_merge), resource_group="charter-run"),
    }  # fmt: skip
    for model in monitored:
        rule = _scheduled("CHARTER_MONITOR", model.name)
        command = shlex.join(["charter", "monitor", model.name, "--data", model.step("ingest").params["source"]])
        on_drift = bool((model.retrain or {}).get("on_drift"))
        falls_back = [r for r in model.rollouts if r.get("fallback")]
        found[f"charter-monitor-{model.name}"] = _job(
            project, "test", [command], [{"if": rule}], 30, variables=_store(project),
            **({"allow_failure": {"exit_codes": [3]}} if on_drift or falls_back else {}))  # too few rows: nothing
        if on_drift:
            found[f"charter-retrain-{model.name}-on-drift"] = _retrain(
                project, out, model, [{"if": rule, "when": "on_failure"}], auto_merge,
                needs=[f"charter-monitor-{model.name}"])
        if falls_back:
            found[f"charter-fallback-{model.name}"] = _fallback(project, out, model, falls_back[0], rule)
    for model in [m for m in models or [] if (m.retrain or {}).get("schedule")]:
        found[f"charter-retrain-{model.name}"] = _retrain(
            project, out, model, [{"if": _scheduled("CHARTER_RETRAIN", model.name)}], auto_merge)
    for model in [m for m in models or [] if (m.retrain or {}).get("on_data_change")]:
        rule = _scheduled("CHARTER_DATA", model.name)
        # exit 2, the data changed, fails the job, so the retraining after it runs; 0 skips it
        found[f"charter-data-{model.name}"] = _job(
            project, "test", [shlex.join(["charter", "status", "--data", model.name])], [{"if": rule}], 30,
            variables=_store(project))
        found[f"charter-retrain-{model.name}-on-data"] = _retrain(
            project, out, model, [{"if": rule, "when": "on_failure"}], auto_merge,
            needs=[f"charter-data-{model.name}"])
    return found


def _scheduled(variable: str, model: str) -> str:
    """A scheduled (or manual) pipeline whose `variable` names `model`, in a list or as `all`."""
    return (f'($CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web") && '
            f"${variable} =~ /^(.+,)?({model}|all)(,.+)?$/")


def _retrain(project: dict, out: str, model, rules: list[dict], auto_merge: list[str], **extra) -> dict:
    """Train `model` again (the same data checks and gates) and propose its promotion as `charter-run` does."""
    return _job(project, "deploy", [shlex.join(["charter", "run", model.name]), promote(auto_merge)], rules, 360,
                variables=_promotion_variables(project, out, auto_merge), resource_group="charter-run", **extra)


_JUDGE_DATA = 'charter monitor "$CHARTER_FALLBACK_MODEL" --data "$CHARTER_FALLBACK_DATA" --report'
# `judge: predictions`: what the last environment served, joined with the outcomes that arrived
_JUDGE_PREDICTIONS = ('since=()\nif [ -n "$CHARTER_FALLBACK_SINCE" ]; then '
                      'since=(--since "$CHARTER_FALLBACK_SINCE"); fi\n'
                      'charter monitor "$CHARTER_FALLBACK_MODEL" --predictions --env "$CHARTER_FALLBACK_ENVIRONMENT" '
                      '"${since[@]}" --report')


def _fallback(project: dict, out: str, model, policy: dict, rule: str) -> dict:
    """Roll `model` back when the monitor job failed and its served version fails its gates."""
    fallback = policy["fallback"]
    judge: dict = {"CHARTER_FALLBACK_DATA": model.step("ingest").params["source"]}
    script = FALLBACK
    if fallback.get("judge") == "predictions":
        assert _JUDGE_DATA in FALLBACK
        script = FALLBACK.replace(_JUDGE_DATA, _JUDGE_PREDICTIONS)
        judge = {"CHARTER_FALLBACK_ENVIRONMENT": policy["environments"][-1]["name"],
                 "CHARTER_FALLBACK_SINCE": fallback.get("since") or ""}
    # GitLab usernames: the handles of people (a group, `@org/team`, cannot be an assignee)
    assign = ",".join(h.removeprefix("@") for h in fallback.get("reviewers", []) if h.startswith("@") and "/" not in h)
    # the rollback restores the RolloutPolicy specs too: the spec folders are part of the change
    paths = ["charter.lock", out, ".github", *project.get("specs", ["specs"])]
    # CHARTER_-prefixed: a project CI/CD variable of the same name would take precedence
    variables = {"GIT_DEPTH": "0", **_store(project), "CHARTER_FALLBACK_MODEL": model.name, **judge,
                 "CHARTER_FALLBACK_MODE": fallback.get("mode", "review"), "CHARTER_FALLBACK_ASSIGN": assign,
                 "CHARTER_ROLLBACK_PATHS": {"value": "\n".join(paths), "expand": False}}
    return _job(project, "deploy", [script + PUSH], [{"if": rule, "when": "on_failure"}], 60, variables=variables,
                resource_group="charter-run", needs=[f"charter-monitor-{model.name}"])


def _promotion_variables(project: dict, out: str, auto_merge: list[str]) -> dict:
    return {"GIT_DEPTH": "0", **_store(project), "CHARTER_OUTPUT": {"value": out, "expand": False},
            **({"CHARTER_AUTO_MERGE": {"value": "\n".join(auto_merge), "expand": False}} if auto_merge else {}),
            "CHARTER_PROMOTION": (project.get("promotion") or {}).get("via", "pull-request")}


def _comment(value: str) -> str:
    """Text for a comment line: one line, whatever it holds (JSON escapes, ASCII only)."""
    return value if value.isprintable() and value.isascii() else json.dumps(value)[1:-1]


def render(graph, out: str) -> dict[str, str]:
    monitored = [m for m in graph.models if m.monitoring and m.monitoring.get("enabled", True)]
    include = json.dumps([{"local": f"{out}/{FILE}"}])  # JSON is YAML: an inert, one-line example
    notes = ["Jobs for GitLab CI; see docs/targets/gitlab.md. Include them from .gitlab-ci.yml:",
             f"  include: {include}",
             "CI/CD variables: CHARTER_STORE (the shared artifact store), CHARTER_PUSH_TOKEN (pushes",
             "charter.lock), CHARTER_IMAGE (overrides the image below)."]
    if monitored:
        notes += ["Monitoring: a pipeline schedule (timezone UTC) per line, with CHARTER_MONITOR set to",
                  "the model (a comma-separated list, or `all`, runs several):"]
        notes += [f"  CHARTER_MONITOR={m.name}  cron: {_comment(' '.join(m.monitoring['schedule'].split()))}"
                  for m in monitored]
    scheduled = [m for m in graph.models if (m.retrain or {}).get("schedule")]
    if scheduled:
        notes += ["Retraining: a pipeline schedule per line, with CHARTER_RETRAIN set to the model:"]
        notes += [f"  CHARTER_RETRAIN={m.name}  cron: {_comment(' '.join(m.retrain['schedule'].split()))}"
                  for m in scheduled]
    polled = [m for m in graph.models if (m.retrain or {}).get("on_data_change")]
    if polled:
        notes += ["Retraining on a data change: a pipeline schedule per line, with CHARTER_DATA set to the model",
                  "(a database source's URL: the CI/CD variable named by its `connection.url_env`):"]
        notes += [f"  CHARTER_DATA={m.name}  cron: {_comment(' '.join(m.retrain['poll'].split()))}" for m in polled]
    sources = ["charter.yaml", *(s for m in monitored for s in m.sources),
               *(s for m in [*scheduled, *(m for m in polled if m not in scheduled)] if m not in monitored
                 for s in m.sources)]
    text = header([_comment(s) for s in sources]) + "#\n" + "".join(f"# {n}\n" for n in notes) + "\n"
    # Parts: each job's YAML is written once per content (most are one model's)
    return {f"{out}/{FILE}": text + dump_yaml(Parts(jobs(graph.project, out, monitored,
                                                         auto_merge_manifests(graph, out), graph.models)))}

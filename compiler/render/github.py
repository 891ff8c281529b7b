"""Target `github`: hardened GitHub Actions workflows.

They are written to `.github/workflows/`, where GitHub reads them, not to the output folder.

- `charter-pr.yml`: on every pull request (no `paths:` filter, so required checks never hang),
  a `changes` job diffs the spec folders, `charter.yaml` and the generated files against the
  base; `validate` and `plan` skip with a job-level `if:` when nothing there changed (a skipped
  job counts as a success). It runs again on each review, so the approvals the plan requires
  are counted. The plan goes to the job summary; an opt-in `comment` job posts it.
- `charter-main.yml`: on a push to `base_branch`, runs the pipelines whose specs changed and
  pushes `charter.lock` back; this job alone may write.
- `charter-monitor.yml`: one job per monitored model, on its cron (UTC); a model with
  `retrain.on_drift` gets a retraining job that runs when its monitor alerts (exit 1).
- `charter-retrain.yml`: one job per model with `retrain.schedule`, on its cron: `charter run`
  (checks and gates) and the main workflow's promotion step, so a triggered run ends in the
  same reviewed change as a run after a merge. A model with `retrain.on_data_change` gets a
  `data-<model>` job on its `poll` (`charter status --data`) and a retraining that runs when
  the data changed since charter.lock's run.

Hardening (../shared/TARGETS.md items 10-11, checked by `zizmor --offline` in the tests): every
action pinned by commit SHA, `permissions: {}` at the top and the least per job,
`persist-credentials: false`, no `${{ }}` in any `run:` (values travel in `env:`), concurrency
groups. Spec text never reaches an expression: the folder list is JSON with `$` escaped.
"""

from __future__ import annotations

import json
import shlex

from compiler import __version__
from compiler.plain import plain_path
from compiler.render.common import (
    ONLY_AUTO_MERGE,
    RUN_AFFECTED,
    Parts,
    auto_merge_manifests,
    dump_yaml,
    shared_store,
    sunday_as_zero,
)
from compiler.render.header import header

WORKFLOWS = ".github/workflows"
PR, MAIN, MONITOR, RETRAIN = "charter-pr.yml", "charter-main.yml", "charter-monitor.yml", "charter-retrain.yml"
# Release commits of the tags in the comments (docs/targets/github.md says how to update them).
ACTIONS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
}
PYTHON = "3.12"
RUNNER = "ubuntu-latest"
# charter is not on PyPI: repository variables name what pip installs (a git URL, a wheel, a
# private index's `charter==X`); the defaults pin the version that wrote these files.
# CHARTER_PACKAGE is the core (validate, compile --check, plan: no runtime libraries);
# CHARTER_RUN_PACKAGE adds the `run` extra, for the jobs that run pipelines or monitor.
def package(runtime: bool = False) -> str:
    return f"charter{'[run]' if runtime else ''}=={__version__}"


def install(project: dict, runtime: bool = False) -> dict:
    """The step that installs charter.

    With `install.constraints` in charter.yaml, pip applies that file (`PIP_CONSTRAINT`), so the
    job gets the versions the repository pins.
    """
    var = "CHARTER_RUN_PACKAGE" if runtime else "CHARTER_PACKAGE"
    env = {"CHARTER_PACKAGE": f"${{{{ vars.{var} || '{package(runtime)}' }}}}"}
    constraints = (project.get("install") or {}).get("constraints")
    if constraints:  # a plain path: no `$` (an expression) reaches the env value
        if not plain_path(constraints):
            raise ValueError(f"refusing constraints path {constraints!r}")
        env["PIP_CONSTRAINT"] = constraints
    return {"name": "Install charter", "env": env, "run": 'python -m pip install "$CHARTER_PACKAGE"'}


# Special in GitHub's branch filters, plus `${}` so that no `${{` (an expression) is left: a
# backslash makes each literal.
_GLOB = set("*?+[]!\\${}")
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}  # fmt: skip

CHANGES = """\
changed="$(printf '%s' "$CHARTER_PATHS" | jq -j '.[] + "\\u0000"' \\
  | xargs -0 git diff --name-only "origin/${BASE_REF}...HEAD" --)"
if [ -n "$changed" ]; then
  printf '%s\\n' "$changed"
  echo "specs=true" >> "$GITHUB_OUTPUT"
else
  echo "Nothing under the spec folders, charter.yaml or the generated files changed."
  echo "specs=false" >> "$GITHUB_OUTPUT"
fi
"""
REVIEWS = """\
gh api --paginate "repos/${GITHUB_REPOSITORY}/pulls/${PR_NUMBER}/reviews" --jq '.[]' \\
  | jq -s . > "$RUNNER_TEMP/reviews.json"
"""
PLAN = """\
status=0
charter plan --base "origin/${BASE_REF}" --format markdown --reviews "$RUNNER_TEMP/reviews.json" \\
  > "$RUNNER_TEMP/plan.md" || status=$?
cat "$RUNNER_TEMP/plan.md" >> "$GITHUB_STEP_SUMMARY"
echo "status=$status" >> "$GITHUB_OUTPUT"
echo "markdown=$(base64 -w0 "$RUNNER_TEMP/plan.md")" >> "$GITHUB_OUTPUT"
"""
VERDICT = """\
case "$STATUS" in
  0) echo "No changes to the ML system." ;;
  2) echo "Changes planned: see the job summary." ;;
  3) echo "::error::approvals are missing: see the job summary"; exit 3 ;;
  *) echo "::error::charter plan failed (exit $STATUS)"; exit 1 ;;
esac
"""
COMMENT = """\
printf '%s' "$PLAN" | base64 -d > "$RUNNER_TEMP/plan.md"
gh pr comment "$PR_NUMBER" --body-file "$RUNNER_TEMP/plan.md" --edit-last --create-if-none
"""
RUN = "# The commit before the push; after a force push or on a new branch it may be unknown here.\n" + RUN_AFFECTED
PROMOTE = """\
# The deployment configs serve the versions charter.lock records: render them with it, so the
# lock and the manifests a GitOps controller applies change together, in one reviewed change.
charter compile
if [ -z "$(git status --porcelain -- charter.lock)" ]; then
  echo "No model was promoted: nothing to deploy."
  exit 0
fi
# the run id too: a scheduled or drift-triggered retraining may train the same commit again
promotion="charter/promote-${GITHUB_SHA:0:12}-${GITHUB_RUN_ID}"
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git switch -c "$promotion"
printf '%s' "$CHARTER_GENERATED" | jq -j '.[] + "\\u0000"' | xargs -0 git add -A --
git commit -m "charter: promote the models trained at ${GITHUB_SHA:0:12}"
# The token reaches git through the environment of this one command, never .git/config.
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL}/.extraheader" \\
  GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" \\
  git push origin "HEAD:refs/heads/${promotion}"
if [ "$VIA" = "pull-request" ]; then
  charter plan --base "origin/${BRANCH}" --format markdown > "$RUNNER_TEMP/promotion.md" || true
  gh pr create --base "$BRANCH" --head "$promotion" --body-file "$RUNNER_TEMP/promotion.md" \\
    --title "charter: promote the models trained at ${GITHUB_SHA:0:12}"
else
  echo "Pushed ${promotion}: open a pull request from it to ${BRANCH} to deploy."
fi
"""

# Appended to the pull request's creation when an environment declares `auto_merge: true`.
_PR_CREATED = """\
  gh pr create --base "$BRANCH" --head "$promotion" --body-file "$RUNNER_TEMP/promotion.md" \\
    --title "charter: promote the models trained at ${GITHUB_SHA:0:12}"
"""
AUTO_MERGE = """\
  # Only a promotion whose every changed manifest is of an environment with `auto_merge: true`
  # (which needs no approval) merges itself, once its checks pass; any other waits for review.
  ALLOWED="$(printf '%s' "$CHARTER_AUTO_MERGE" | jq -r '.[]')"
  MANIFESTS="$(printf '%s' "$CHARTER_MANIFESTS" | jq -r '.[0]')"
""" + "".join(f"  {line}\n" for line in ONLY_AUTO_MERGE.splitlines()) + """\
  if [ -n "$deploys" ] && [ -z "$others" ]; then
    gh pr merge "$promotion" --auto --squash \\
      || echo "::warning::auto-merge was refused (allow it in the repository's settings): merge by hand"
  else
    echo "Not set to auto-merge: the promotion deploys environments that need a review."
  fi
"""


def uses(action: str) -> str:
    return f"{action}@{ACTIONS[action][0]}"


def checkout(history: bool = False) -> dict:
    """Check out without leaving the token in .git/config; `history` fetches every branch."""
    return {"name": "Check out", "uses": uses("actions/checkout"),
            "with": {**({"fetch-depth": 0} if history else {}), "persist-credentials": False}}


def store(project: dict) -> str:
    """CHARTER_STORE of the jobs that run or monitor: the repository variable, else `shared_store`.

    `shared_store` is validated as a URL without quotes, `$` or braces, so it is a plain string
    literal in the expression. Without either, charter falls back to `artifact_store`.
    """
    url = shared_store(project)
    return f"${{{{ vars.CHARTER_STORE || '{url}' }}}}" if url else "${{ vars.CHARTER_STORE }}"


def setup(project: dict, history: bool = False, runtime: bool = False) -> list[dict]:
    return [checkout(history),
            {"name": "Set up Python", "uses": uses("actions/setup-python"), "with": {"python-version": PYTHON}},
            install(project, runtime)]  # fmt: skip


def env_json(values: list[str]) -> str:
    r"""A JSON list for an `env:` value, with no `$` in it.

    GitHub evaluates `${{ }}` in every value and no spec text may reach an expression, so `$`
    is written as JSON's `\u0024`; jq reads it back.
    """
    return json.dumps(values).replace("$", "\\u0024")


def branch_filter(branch: str) -> str:
    return "".join(f"\\{c}" if c in _GLOB else c for c in branch)


def cron(expr: str) -> str:
    """A cron as GitHub reads it: no macros, one space between fields.

    The jobs compare `github.event.schedule` with this very string.
    """
    text = " ".join(expr.split())
    return sunday_as_zero(_MACROS.get(text.lower(), text))


def watched_paths(project: dict, out: str) -> list[str]:
    """What a pull request must touch for validate and plan to run.

    The specs, the settings, and every generated file (the output folder, these workflows,
    CODEOWNERS).
    """
    return [*project.get("specs", ["specs"]), "charter.yaml", out, ".github/CODEOWNERS",
            *(f"{WORKFLOWS}/{name}" for name in (PR, MAIN, MONITOR))]


def _job(name: str, permissions: dict, steps: list[dict], minutes: int, **extra) -> dict:
    return {"name": name, **extra, "runs-on": RUNNER, "timeout-minutes": minutes, "permissions": permissions,
            "steps": steps}


def pr_workflow(project: dict, out: str) -> dict:
    base = {"BASE_REF": "${{ github.event.pull_request.base.ref }}"}
    gate = {"needs": "changes", "if": "needs.changes.outputs.specs == 'true'"}
    read = {"contents": "read"}
    changes = _job("specs changed?", read, [
        checkout(history=True),
        {"name": "Diff against the base branch", "id": "diff",
         "env": {**base, "CHARTER_PATHS": env_json(watched_paths(project, out)), "GIT_LITERAL_PATHSPECS": "1"},
         "run": CHANGES}], 10, outputs={"specs": "${{ steps.diff.outputs.specs }}"})  # fmt: skip
    validate = _job("validate", read, [
        *setup(project),
        {"name": "Validate the specs", "run": "charter validate --format github"},
        {"name": "Check the generated files", "run": "charter compile --check"}], 15, **gate)  # fmt: skip
    pr = {"PR_NUMBER": "${{ github.event.pull_request.number }}"}
    plan = _job("plan", {"contents": "read", "pull-requests": "read"}, [
        *setup(project, history=True),
        {"name": "Read the reviews", "env": {**pr, "GH_TOKEN": "${{ github.token }}"}, "run": REVIEWS},
        {"name": "Plan against the base branch", "id": "plan", "env": base, "run": PLAN},
        {"name": "Verdict", "env": {"STATUS": "${{ steps.plan.outputs.status }}"}, "run": VERDICT}],
        20, outputs={"markdown": "${{ steps.plan.outputs.markdown }}"}, **gate)  # fmt: skip
    # Opt in with the repository variable CHARTER_PR_COMMENT=true. This job runs no code from the
    # pull request, and forks (whose token cannot write) keep the summary only.
    comment = _job("plan comment", {"pull-requests": "write"}, [
        {"name": "Post or update the plan comment",
         "env": {**pr, "PLAN": "${{ needs.plan.outputs.markdown }}", "GH_TOKEN": "${{ github.token }}",
                 "GH_REPO": "${{ github.repository }}"}, "run": COMMENT}], 5, needs="plan",
        **{"if": "${{ !cancelled() && needs.plan.outputs.markdown != '' && vars.CHARTER_PR_COMMENT == 'true'"
                 " && github.event.pull_request.head.repo.full_name == github.repository }}"})  # fmt: skip
    on = {"pull_request": {"types": ["opened", "synchronize", "reopened"]},
          "pull_request_review": {"types": ["submitted", "dismissed"]}}
    group = {"group": "${{ github.workflow }}-${{ github.event.pull_request.number }}", "cancel-in-progress": True}
    return _workflow("charter pull request", on, group,
                     {"changes": changes, "validate": validate, "plan": plan, "comment": comment})


def promotion(project: dict, out: str, auto_merge: list[str] | None = None) -> tuple[dict, dict]:
    """(job permissions, step) that propose a promotion: one reviewed change of the lock and the manifests.

    The main workflow and every triggered retraining end in this same step.
    """
    via = (project.get("promotion") or {}).get("via", "pull-request")
    permissions = {"contents": "write", **({"pull-requests": "write"} if via == "pull-request" else {})}
    # A pull request opened with the job's own token starts no workflow (GitHub's rule against
    # loops): a token in the secret CHARTER_PROMOTE_TOKEN makes its checks run.
    token = "${{ secrets.CHARTER_PROMOTE_TOKEN || github.token }}"
    generated = env_json(["charter.lock", out, ".github/CODEOWNERS", WORKFLOWS])
    promote, auto_env = PROMOTE, {}
    if auto_merge and via == "pull-request":
        assert _PR_CREATED in PROMOTE
        promote = PROMOTE.replace(_PR_CREATED, _PR_CREATED + AUTO_MERGE)
        auto_env = {"CHARTER_AUTO_MERGE": env_json(auto_merge), "CHARTER_MANIFESTS": env_json([f"{out}/kubernetes"])}
    return permissions, {"name": "Propose the promotion: charter.lock and the manifests, as one change",
                         "env": {"BRANCH": "${{ github.ref_name }}", "GH_TOKEN": token, "VIA": via,
                                 "CHARTER_GENERATED": generated, **auto_env}, "run": promote}


def main_workflow(project: dict, out: str, auto_merge: list[str] | None = None, models: list | None = None) -> dict:
    """The push workflow; `auto_merge` lists the manifests whose promotions may merge themselves."""
    permissions, promote = promotion(project, out, auto_merge)
    run = _job("run affected pipelines", permissions, [
        *setup(project, history=True, runtime=True),
        {"name": "Run the pipelines whose specs changed",
         "env": {**database_env(models or []), "BEFORE": "${{ github.event.before }}",
                 "CHARTER_STORE": store(project)}, "run": RUN},
        promote], 360)  # fmt: skip
    # Queued, not cancelled: each run proposes its own promotion.
    group = {"group": "${{ github.workflow }}-${{ github.ref }}", "cancel-in-progress": False}
    on = {"push": {"branches": [branch_filter(project.get("base_branch", "main"))]}}
    return _workflow("charter main", on, group, {"run": run})


# The poll of a model that retrains when its data changes: `charter status --data` exits 2 when
# the data differs from charter.lock's run (or the model never ran), 0 when it does not; an
# unreadable source (exit 1) fails the job and retrains nothing.
DATA_CODE = """\
set +e
charter status --data "$MODEL"
code=$?
set -e
if [ "$code" = 2 ]; then
  echo "changed=true" >> "$GITHUB_OUTPUT"
  exit 0
fi
exit $code
"""


def database_env(models: list) -> dict[str, str]:
    """The database URLs the models' sources read, each from the repository secret of its own name.

    `connection.url_env` is validated as an environment variable name (letters, digits, `_`), so
    it is safe inside an expression; the value never reaches a `run:` text.
    """
    names: set[str] = set()
    for model in models:
        for step in model.steps:
            params = step.params
            for source in [params, *(w.get("source") for w in params.get("windows") or [])]:
                if isinstance(source, dict) and source.get("connection"):
                    names.add(source["connection"]["url_env"])
    return {name: f"${{{{ secrets.{name} }}}}" for name in sorted(names)}


def data_job(model, project: dict) -> dict:
    """Look at `model`'s training data on its poll: `changed` is `true` when it differs from charter.lock's run."""
    literal = cron(model.retrain["poll"]).replace("'", "''")  # an expression's string literal
    return _job(f"look at {model.name}'s data", {"contents": "read"}, [
        *setup(project, runtime=True),
        {"name": f"Compare {model.name}'s training data with charter.lock's run", "id": "data",
         "env": {**database_env([model]), "MODEL": model.name}, "run": DATA_CODE}], 30,
        **{"if": f"github.event_name == 'workflow_dispatch' || github.event.schedule == '{literal}'"},
        outputs={"changed": "${{ steps.data.outputs.changed }}"})  # fmt: skip


def retrain_job(model, project: dict, out: str, auto_merge: list[str] | None, **extra) -> dict:
    """Train `model` again and propose its promotion.

    The data checks and gates of `charter run`, then the promotion step of the main workflow.
    """
    permissions, promote = promotion(project, out, auto_merge)
    return _job(f"retrain {model.name}", permissions, [
        *setup(project, history=True, runtime=True),
        {"name": f"Run {model.name}'s pipeline: the same data checks and gates as after a merge",
         "env": {**database_env([model]), "CHARTER_STORE": store(project)},
         "run": shlex.join(["charter", "run", model.name])},
        promote], 360, **extra)  # fmt: skip


def retrain_workflow(models: list, project: dict, out: str, auto_merge: list[str] | None = None) -> dict:
    """One job per model with `retrain.schedule`, each on its own cron (UTC).

    With `on_data_change`, a job that looks at the data on its poll and a retraining that runs
    when it changed.
    """
    jobs = {}
    for model in models:
        if model.retrain.get("schedule"):
            literal = cron(model.retrain["schedule"]).replace("'", "''")  # an expression's string literal
            jobs[f"retrain-{model.name}"] = retrain_job(
                model, project, out, auto_merge,
                **{"if": f"github.event_name == 'workflow_dispatch' || github.event.schedule == '{literal}'"})
        if model.retrain.get("on_data_change"):
            jobs[f"data-{model.name}"] = data_job(model, project)
            jobs[f"retrain-{model.name}-on-data"] = retrain_job(
                model, project, out, auto_merge, needs=f"data-{model.name}",
                **{"if": f"needs.data-{model.name}.outputs.changed == 'true'"})
    crons = {cron(c) for m in models for c in (m.retrain.get("schedule"), m.retrain.get("poll")) if c}
    on = {"schedule": [{"cron": c} for c in sorted(crons)], "workflow_dispatch": {}}
    # Queued with the main workflow's promotions, never cancelled: each run proposes its own.
    group = {"group": "${{ github.workflow }}-${{ github.event.schedule }}", "cancel-in-progress": False}
    return _workflow("charter retrain", on, group, jobs)


# A monitor step whose exit code a drift-triggered retraining reads: 1 is an alert (or data the
# checks refuse, which a retraining would refuse too); 3, too few rows, retrains nothing.
MONITOR_CODE = """\
set +e
{command}
code=$?
echo "code=$code" >> "$GITHUB_OUTPUT"
exit $code
"""


# The fallback job: the served version judged again on the same data; only failing gates roll
# back (drift alone retrains, where `retrain.on_drift` says so). `charter fallback` changes
# nothing when the gates passed; otherwise its rollback becomes one reviewed change, or is
# pushed to the base branch when the RolloutPolicy's `fallback.mode` is `apply`.
FALLBACK = """\
set +e
charter monitor "$MODEL" --data "$DATA" --report "$RUNNER_TEMP/monitor.json" > /dev/null
set -e
charter fallback "$MODEL" --report "$RUNNER_TEMP/monitor.json" --description "$RUNNER_TEMP/fallback.md"
if [ -z "$(git status --porcelain -- charter.lock)" ]; then
  echo "Nothing to roll back."
  exit 0
fi
failing="$(jq -r .version "$RUNNER_TEMP/monitor.json")"
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
printf '%s' "$CHARTER_GENERATED" | jq -j '.[] + "\\u0000"' | xargs -0 git add -A --
git commit -m "charter: roll back ${MODEL}: version ${failing} failed its gates on new data"
push() {  # the token reaches git through the environment of this one command, never .git/config
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL}/.extraheader" \\
    GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" \\
    git push origin "$1"
}
if [ "$MODE" = "apply" ]; then
  push "HEAD:refs/heads/${BRANCH}"
  echo "Rolled back ${MODEL} on ${BRANCH}: version ${failing} failed its gates."
  exit 0
fi
fallback="charter/fallback-${MODEL}-${GITHUB_RUN_ID}"
push "HEAD:refs/heads/${fallback}"
reviewers=()
if [ -n "$REVIEWERS" ]; then reviewers=(--reviewer "$REVIEWERS"); fi
gh pr create --base "$BRANCH" --head "$fallback" --body-file "$RUNNER_TEMP/fallback.md" \\
  --title "charter: roll back ${MODEL}: version ${failing} failed its gates" "${reviewers[@]}"
"""


_JUDGE_DATA = 'charter monitor "$MODEL" --data "$DATA" --report'
# `judge: predictions`: what the last environment served, joined with the outcomes that arrived
_JUDGE_PREDICTIONS = ('since=()\nif [ -n "$SINCE" ]; then since=(--since "$SINCE"); fi\n'
                      'charter monitor "$MODEL" --predictions --env "$ENVIRONMENT" "${since[@]}" --report')


def fallback_job(model, policy: dict, project: dict, out: str) -> dict:
    """Roll `model` back when its served version fails its gates on the monitored data or its prediction log."""
    mode = policy["fallback"].get("mode", "review")
    judge: dict = {"DATA": model.step("ingest").params["source"]}
    script = FALLBACK
    if policy["fallback"].get("judge") == "predictions":
        assert _JUDGE_DATA in FALLBACK
        script = FALLBACK.replace(_JUDGE_DATA, _JUDGE_PREDICTIONS)
        judge = {"ENVIRONMENT": policy["environments"][-1]["name"], "SINCE": policy["fallback"].get("since") or ""}
    permissions = {"contents": "write", **({"pull-requests": "write"} if mode == "review" else {})}
    reviewers = ",".join(h.removeprefix("@") for h in policy["fallback"].get("reviewers", []) if h.startswith("@"))
    # the rollback restores the RolloutPolicy specs too: the spec folders are part of the change
    generated = env_json(["charter.lock", out, ".github/CODEOWNERS", WORKFLOWS, *project.get("specs", ["specs"])])
    return _job(f"fall back {model.name}", permissions, [
        *setup(project, history=True, runtime=True),
        {"name": f"Roll {model.name} back to its last good version if its gates failed",
         "env": {**database_env([model]), "MODEL": model.name, **judge, "MODE": mode,
                 "REVIEWERS": reviewers, "BRANCH": "${{ github.ref_name }}", "CHARTER_STORE": store(project),
                 "GH_TOKEN": "${{ secrets.CHARTER_PROMOTE_TOKEN || github.token }}", "CHARTER_GENERATED": generated},
         "run": script}], 60, needs=f"monitor-{model.name}",
        **{"if": f"always() && needs.monitor-{model.name}.outputs.code == '1'"})  # fmt: skip


def monitor_workflow(models: list, project: dict, out: str = "generated", auto_merge: list[str] | None = None) -> dict:
    jobs = {}
    for model in models:
        literal = cron(model.monitoring["schedule"]).replace("'", "''")  # an expression's string literal
        command = shlex.join(["charter", "monitor", model.name, "--data", model.step("ingest").params["source"]])
        on_drift = bool((model.retrain or {}).get("on_drift"))
        falls_back = [r for r in model.rollouts if r.get("fallback")]
        coded = on_drift or bool(falls_back)
        step = {"name": f"Compare new data with {model.name}'s training data",
                "env": {**database_env([model]), "CHARTER_STORE": store(project)},
                **({"id": "monitor", "run": MONITOR_CODE.format(command=command)} if coded else {"run": command})}
        outputs = {"outputs": {"code": "${{ steps.monitor.outputs.code }}"}} if coded else {}
        jobs[f"monitor-{model.name}"] = _job(
            f"monitor {model.name}", {"contents": "read"}, [*setup(project, runtime=True), step], 30,
            **{"if": f"github.event_name == 'workflow_dispatch' || github.event.schedule == '{literal}'"}, **outputs)
        if on_drift:
            jobs[f"retrain-{model.name}"] = retrain_job(
                model, project, out, auto_merge, needs=f"monitor-{model.name}",
                **{"if": f"always() && needs.monitor-{model.name}.outputs.code == '1'"})
        if falls_back:
            jobs[f"fallback-{model.name}"] = fallback_job(model, falls_back[0], project, out)
    on = {"schedule": [{"cron": c} for c in sorted({cron(m.monitoring["schedule"]) for m in models})],
          "workflow_dispatch": {}}
    group = {"group": "${{ github.workflow }}-${{ github.event.schedule }}", "cancel-in-progress": False}
    return _workflow("charter monitor", on, group, jobs)


def _workflow(name: str, on: dict, concurrency: dict, jobs: dict) -> dict:
    # Parts: each job's YAML is written once per content (most are one model's)
    return {"name": name, "on": on, "permissions": {}, "concurrency": concurrency, "jobs": Parts(jobs)}


def _comment(value: str) -> str:
    """Text for a comment line: one line, whatever it holds (JSON escapes, ASCII only)."""
    return value if value.isprintable() and value.isascii() else json.dumps(value)[1:-1]


def text(sources: list[str], notes: list[str], doc: dict, why: dict | None = None) -> str:
    """The YAML with the comments PyYAML cannot write.

    They are the tag of each pinned action (for readers and Dependabot) and why each job needs
    each permission (zizmor's pedantic audit).
    """
    notes_text = "#\n" + "".join(f"# {line}\n" for line in notes) + "\n"
    body = header([_comment(s) for s in sources]) + notes_text + dump_yaml(doc)
    for action, (sha, version) in ACTIONS.items():
        body = body.replace(f"uses: {action}@{sha}\n", f"uses: {action}@{sha} # {version}\n")
    for (scope, level), reason in {**_WHY, **(why or {})}.items():  # only job-level permissions are so indented
        body = body.replace(f"\n      {scope}: {level}\n", f"\n      {scope}: {level} # {reason}\n")
    return body


_WHY = {("contents", "read"): "check out the repository",
        ("contents", "write"): "push the promotion's branch",
        ("pull-requests", "read"): "read the reviews, which the plan counts as approvals",
        ("pull-requests", "write"): "post the plan as a comment"}
_NOTES = {
    PR: ["Validates and plans every pull request that touches the specs; see docs/targets/github.md.",
         "Repository variables: CHARTER_PACKAGE (what pip installs: the core), CHARTER_PR_COMMENT=true (post the plan",
         "as a comment too). Make the `validate` and `plan` checks required in branch protection."],
    MAIN: ["Runs the pipelines whose specs changed on each push; a promotion becomes a pull request with",
           "charter.lock and the manifests that serve it (or a branch: `promotion.via` in charter.yaml).",
           "Repository variables: CHARTER_RUN_PACKAGE (what pip installs: charter[run]), CHARTER_STORE (the",
           "artifact store all runs share). Secret CHARTER_PROMOTE_TOKEN: a token whose pull requests run checks."],
    RETRAIN: ["Retrains each model with `retrain.schedule` on its cron (UTC), and each model with",
              "`retrain.on_data_change` when its data changed since charter.lock's run (looked at on `retrain.poll`):",
              "the same data checks and gates as a run after a merge, and a promotion proposed as the same reviewed",
              "change of charter.lock and the manifests.",
              "Repository variables and secret: as charter-main.yml; a database source's URL comes from the",
              "repository secret named by its `connection.url_env`."],
    MONITOR: ["Compares new data with each model's training data on its schedule (cron in UTC).",
              "Repository variables: CHARTER_RUN_PACKAGE (what pip installs: charter[run]), CHARTER_STORE",
              "(where the promoted models are)."],
}


def render(graph, out: str) -> dict[str, str]:
    settings = ["charter.yaml"]
    auto_merge = auto_merge_manifests(graph, out)
    promoting = {("pull-requests", "write"): "open the promotion's pull request",
                 ("contents", "write"): "push the promotion's branch"}
    files = {f"{WORKFLOWS}/{PR}": text(settings, _NOTES[PR], pr_workflow(graph.project, out)),
             f"{WORKFLOWS}/{MAIN}": text(settings, _NOTES[MAIN],
                                         main_workflow(graph.project, out, auto_merge, [*graph.models, *graph.checks]),
                                         promoting)}
    monitored = [m for m in graph.models if m.monitoring and m.monitoring.get("enabled", True)]
    if monitored:
        sources = [*settings, *(s for m in monitored for s in m.sources)]
        notes, why = _NOTES[MONITOR], promoting
        if any(r.get("fallback") for m in monitored for r in m.rollouts):
            notes = [*notes, "A model whose RolloutPolicy declares `fallback` is rolled back to its last good version",
                     "when its served version fails its gates on the new data (`charter fallback`)."]
            why = {("pull-requests", "write"): "open the promotion's or the rollback's pull request",
                   ("contents", "write"): "push the promotion's or the rollback's branch"}
        files[f"{WORKFLOWS}/{MONITOR}"] = text(sources, notes,
                                               monitor_workflow(monitored, graph.project, out, auto_merge), why)
    scheduled = [m for m in graph.models if (m.retrain or {}).get("schedule") or (m.retrain or {}).get("poll")]
    if scheduled:
        sources = [*settings, *(s for m in scheduled for s in m.sources)]
        files[f"{WORKFLOWS}/{RETRAIN}"] = text(sources, _NOTES[RETRAIN],
                                               retrain_workflow(scheduled, graph.project, out, auto_merge), promoting)
    return files

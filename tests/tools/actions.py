"""A test tool, not a product feature: plays generated GitHub workflows on this machine.

What a GitHub runner does for the parts Charter's workflows use, and no more: jobs in `needs`
order, `if:` and `${{ }}` expressions (the subset the workflows hold: `||`, `&&`, `==`,
`!=`, `!`, parentheses, string literals, the status functions `always()`, `success()`,
`failure()` and `cancelled()` (a job condition without one means `success() && ...`, as on
GitHub), and the `github`, `vars`, `secrets`, `steps` and `needs` contexts), every `run:` step
with bash as GitHub runs it (`bash --noprofile --norc -eo pipefail`), the files and variables a
runner provides (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `GITHUB_EVENT_PATH`, `RUNNER_TEMP`,
`GITHUB_RUN_ID`) and job outputs (of a failed job too: what its steps set before it failed).
`uses:` steps are replaced by their effect: `actions/checkout` clones the origin at the
event's commit into a fresh workspace (full history, `origin/*` branches),
`actions/setup-python` is the test's interpreter, whose folder is first on PATH. The install
step is skipped for the same reason: the test's environment already has this checkout of
Charter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.targets.external import load_yaml_all

_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*\(\)|[A-Za-z_][\w.*-]*)")
SKIPPED_STEPS = ("Install charter",)


def _needs_passed(contexts: dict) -> bool:
    return all(n["result"] == "success" for n in contexts.get("needs", {}).values())


_STATUS = {"cancelled()": lambda c: False, "always()": lambda c: True, "success()": _needs_passed,
           "failure()": lambda c: not _needs_passed(c)}


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"expression not understood at {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def evaluate(expr: str, contexts: dict[str, Any]) -> Any:
    """A GitHub expression (without `${{ }}`), with GitHub's `||`/`&&` value semantics."""
    tokens = _tokens(expr)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def primary() -> Any:
        tok = take()
        if tok == "(":
            value = either()
            assert take() == ")"
            return value
        if tok == "!":
            return not primary()
        if tok.startswith("'"):
            return tok[1:-1].replace("''", "'")
        if tok in _STATUS:
            return _STATUS[tok](contexts)
        if tok in ("true", "false"):
            return tok == "true"
        value: Any = contexts
        for part in tok.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def compare() -> Any:
        left = primary()
        while peek() in ("==", "!="):
            op, right = take(), primary()
            same = str(left if left is not None else "").lower() == str(right if right is not None else "").lower()
            left = same if op == "==" else not same
        return left

    def both() -> Any:
        left = compare()
        while peek() == "&&":
            take()
            right = compare()
            left = right if left else left
        return left

    def either() -> Any:
        left = both()
        while peek() == "||":
            take()
            right = both()
            left = left if left else right
        return left

    value = either()
    assert pos == len(tokens), f"trailing tokens in {expr!r}"
    return value


def interpolate(text: str, contexts: dict[str, Any]) -> str:
    def one(m: re.Match) -> str:
        value = evaluate(m.group(1), contexts)
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


@dataclass
class JobResult:
    status: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    log: str = ""


@dataclass
class Runner:
    """Plays workflows against `origin` (a bare repository) with this machine's tools."""

    origin: Path
    work: Path
    bin_dirs: list[str]
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    count: int = 0
    runs: int = 0

    def workflow(self, path: Path, event_name: str, event: dict, sha: str, ref: str) -> dict[str, JobResult]:
        [doc] = load_yaml_all(path.read_text(encoding="utf-8"))
        self.runs += 1
        github = {"run_id": str(self.runs), "event_name": event_name, "event": event, "sha": sha, "ref": ref,
                  "ref_name": ref.removeprefix("refs/heads/"), "workflow": doc["name"], "repository": "acme/ml",
                  "token": "ghs_job_token", "server_url": "https://github.invalid"}
        results: dict[str, JobResult] = {}
        pending = dict(doc["jobs"])
        while pending:
            name = next(n for n, j in pending.items() if all(d in results for d in _needs(j)))
            job = pending.pop(name)
            needs = {d: {"outputs": results[d].outputs, "result": results[d].status} for d in _needs(job)}
            contexts = {"github": github, "vars": self.vars, "secrets": self.secrets, "needs": needs, "steps": {}}
            condition = job.get("if")
            if not any(f in str(condition or "") for f in _STATUS) and not _needs_passed(contexts):
                results[name] = JobResult("skipped")  # an implicit `success() &&`
                continue
            if condition is not None and not evaluate(str(condition).removeprefix("${{").removesuffix("}}"), contexts):
                results[name] = JobResult("skipped")
                continue
            results[name] = self._job(job, contexts, github)
        return results

    def _job(self, job: dict, contexts: dict, github: dict) -> JobResult:
        self.count += 1
        home = self.work / f"job-{self.count}"
        workspace, temp = home / "workspace", home / "temp"
        temp.mkdir(parents=True)
        event_path = temp / "event.json"
        event_path.write_text(json.dumps(github["event"]), encoding="utf-8")
        summary = temp / "summary.md"
        summary.touch()
        log: list[str] = []
        code = 0
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                subprocess.run(["git", "clone", "-q", str(self.origin), str(workspace)], check=True)
                subprocess.run(["git", "checkout", "-q", github["sha"]], cwd=workspace, check=True)
                continue
            if uses.startswith("actions/setup-python@") or step.get("name") in SKIPPED_STEPS:
                continue
            assert "run" in step, f"no stand-in for {uses}"
            output = temp / f"output-{len(log)}"
            output.touch()
            env = {"PATH": os.pathsep.join([*self.bin_dirs, os.environ["PATH"]]), "HOME": str(home),
                   "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true", **self.env,
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
                   "GITHUB_EVENT_PATH": str(event_path), "RUNNER_TEMP": str(temp), "GITHUB_SHA": github["sha"],
                   "GITHUB_REF": github["ref"], "GITHUB_REPOSITORY": github["repository"],
                   "GITHUB_SERVER_URL": github["server_url"], "GITHUB_WORKSPACE": str(workspace),
                   "GITHUB_RUN_ID": github["run_id"]}
            env.update({k: interpolate(str(v), contexts) for k, v in {**job.get("env", {}),
                                                                       **step.get("env", {})}.items()})
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=workspace, env=env, capture_output=True, text=True, timeout=900)
            log.append(f"--- {step.get('name')} (exit {done.returncode})\n{done.stdout}{done.stderr}")
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            if "id" in step:
                contexts["steps"][step["id"]] = {"outputs": outputs}
            code = done.returncode
            if code != 0:
                break
        job_outputs = {k: interpolate(str(v), contexts) for k, v in job.get("outputs", {}).items()}
        return JobResult("failure" if code else "success", job_outputs, summary.read_text(), "\n".join(log))


def _needs(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)

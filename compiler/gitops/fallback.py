"""`charter fallback`: a production model that fails its gates on new data is rolled back.

The scheduled monitor (`charter monitor MODEL --report FILE`) judges the served version on new
labelled data, or on the prediction log joined with outcomes. When its gates failed, this
command finds the last version whose gates passed and rolls back to it exactly as `charter
rollback` does (lock entry, RolloutPolicy specs, re-rendered manifests), so the result is a
change a plan can judge and the deployment Accountable approves. It also writes the
description of that change (the failing gates and the monitor's findings) and records in the
artifact store that the version failed, so a later fallback never returns to it.

"The last version whose gates passed": every version in charter.lock was promoted through its
gates (waived gates included, as `charter run` counts them). The candidates are the versions of
charter.lock's history, newest first, other than the failing one, which are still in the
artifact store and have not failed a monitor themselves (`fallbacks/MODEL/VERSION.json` in
the store).
"""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

from compiler.gitops.git import Git
from compiler.gitops.output import CommandError
from compiler.gitops.rollback import rollback
from compiler.gitops.snapshot import worktree

LOCK = "charter.lock"


def fallback(root: Path, args) -> tuple[str, int]:
    from compiler.execute.failure import RunError
    from compiler.execute.store import open_store, store_uri

    report = _report(Path(args.report), args.model)
    head = worktree(root)
    graph, problems = head.compile()
    if graph is None:
        raise CommandError("the specs do not compile: " + "; ".join(problems[:5]))
    model = graph.model(args.model)
    if model is None:
        raise CommandError(f"no Model `{args.model}`")
    gates = report["gates"]
    if gates is None or gates["passed"]:
        why = "passed its gates" if gates else "was not judged by gates (the monitored data has no labels)"
        return f"{args.model} version {report['version']} {why}: nothing to roll back\n", 0
    entry = head.lock().get("models", {}).get(args.model)
    current = entry.get("version") if isinstance(entry, dict) else None
    if current != report["version"]:
        raise CommandError(f"the report judges version {report['version']} of `{args.model}`, but charter.lock "
                           f"serves {current or 'no version'}: monitor the served version again")
    try:
        store = open_store(store_uri(args.store, graph.project), root)
        failed = {Path(p).stem for p in store.listing(f"fallbacks/{args.model}")}
    except RunError as exc:
        raise CommandError(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")) from None
    git = Git(root)
    target, passed_over = _last_good(git, args.model, current, failed, store)
    if target is None:
        skipped = "; ".join(f"{v} ({why})" for v, why in passed_over) or "charter.lock's history has no other"
        raise CommandError(f"`{args.model}` version {current} failed its gates, and no earlier version can serve "
                           f"instead: {skipped}. Retrain (`charter run {args.model}`) or roll back by hand")
    sha, version, subject = target
    # Recorded before the rollback: if the rollback fails, a retry still knows the version failed.
    store.put(f"fallbacks/{args.model}/{current}.json", (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    text, _ = rollback(root, Namespace(model=args.model, to=sha))
    accountable = (model.owners.get("deployment") or {}).get("accountable")
    if args.description is not None:
        from compiler.atomic import write_atomic

        write_atomic(Path(args.description), description(report, version, sha, subject, passed_over, accountable,
                                                         text))
    return (f"{args.model} version {current} failed its gates on new data: serving version {version} again "
            f"(charter.lock at {sha[:12]})\n" + text), 0


def _report(path: Path, model: str) -> dict:
    """The monitor's JSON report, checked enough that nothing below trips on its shape."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read the monitor report {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path} is not a JSON monitor report ({exc})") from None
    if not isinstance(report, dict) or report.get("format_version") != 1 or not isinstance(report.get("version"), str):
        raise CommandError(f"{path} is not a monitor report (`charter monitor {model} --report FILE` writes one)")
    if report.get("model") != model:
        raise CommandError(f"{path} reports on `{report.get('model')}`, not `{model}`")
    gates = report.get("gates")
    if gates is not None and not (isinstance(gates, dict) and isinstance(gates.get("passed"), bool)
                                  and isinstance(gates.get("gates"), list)):
        raise CommandError(f"{path}: `gates` is not a gate verdict")
    return report


def _last_good(git: Git, model: str, current: str, failed: set[str], store) -> tuple[tuple | None, list]:
    """((commit sha, version, subject) of the newest other version the store can serve, or None), passed over."""
    passed_over: list[tuple[str, str]] = []
    seen = {current}
    for commit, changes in git.log([LOCK]):
        blob = next((new for _, path, _, _, new in changes if path == LOCK and new), None)
        if blob is None:
            continue
        try:
            entry = json.loads(git.read(blob)).get("models", {}).get(model)
        except (ValueError, AttributeError):
            continue  # a commit whose lock did not parse served nothing
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(version, str) or version in seen:
            continue
        seen.add(version)
        if version in failed:
            passed_over.append((version, "failed a monitor"))
        elif not store.has_model(model, version):
            passed_over.append((version, "not in the artifact store"))
        else:
            return (commit.sha, version, commit.subject), passed_over
    return None, passed_over


def _cell(value: object) -> str:
    if isinstance(value, float):
        value = f"{value:.4f}"
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def description(report: dict, version: str, sha: str, subject: str, passed_over: list, accountable: str | None,
                rollback_text: str) -> str:
    """The Markdown of the rollback's pull request: why, what it serves instead, the monitor's findings."""
    model, failing = report["model"], report["version"]
    source = (f"the prediction log ({report.get('environment', 'production')})" if report.get("source") == "predictions"
              else "new labelled data")
    lines = [f"## charter: roll back {model} to version {version}", "",
             f"The scheduled monitor judged version `{failing}` of `{model}` on {source} "
             f"({report.get('rows', '?')} rows) and its gates failed:", "",
             "| gate | value | threshold |", "| --- | --- | --- |"]
    lines += [f"| `{_cell(g.get('id'))}` | {_cell(g.get('value'))} | {_cell(g.get('threshold'))} |"
              for g in report["gates"]["gates"] if not g.get("passed")]
    lines += ["", f"This change serves version `{version}` again, the newest earlier version whose gates passed "
                  f"(charter.lock at {sha[:12]}: {_cell(subject)}): charter.lock and the manifests that serve it, "
                  "re-rendered by `charter rollback`."]
    if passed_over:
        lines += ["", "Passed over: " + "; ".join(f"`{v}` ({why})" for v, why in passed_over) + "."]
    if accountable:
        lines += ["", f"Approval: the deployment Accountable, {accountable} (CODEOWNERS of the manifests)."]
    drifted = [name for name, d in sorted(report.get("drift", {}).items()) if isinstance(d, dict) and d.get("alert")]
    if drifted:
        lines += ["", "Drift alerts: " + ", ".join(f"`{_cell(n)}`" for n in drifted) + "."]
    lines += ["", "<details><summary>Monitor report (JSON)</summary>", "", "```json",
              json.dumps(report, indent=2, sort_keys=True).replace("```", "'''"), "```", "</details>", "",
              "<details><summary>charter rollback</summary>", "", "```text",
              rollback_text.rstrip("\n").replace("```", "'''"), "```", "</details>", ""]
    return "\n".join(lines)

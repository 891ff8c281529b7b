"""`charter plan`: judge a change (a branch, a commit, the working tree) against the base ref.

The plan is a versioned JSON document, like `terraform show -json`: base, head and merge-base
SHAs, a change per resource (semantic field changes, risk findings), the pipeline steps and
deployments it affects, the generated files it changes, the approvals it needs and the
metrics of the last local run against the base's `charter.lock`. Text and Markdown are
renderings of that document (`compiler/gitops/report.py`).

Approvals are always read from the Ownership specs at the *base* ref (its tip, not the merge
base): a pull request cannot approve itself by editing the RACI it is judged by.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from compiler.gitops.git import WORKTREE, Git, GitError
from compiler.gitops.risk import BREAKING, RULES, findings, worst
from compiler.gitops.semdiff import diff_resources
from compiler.gitops.snapshot import Snapshot, at_commit, worktree
from compiler.ir.graph import STAGE_FALLBACK, STAGE_OF_KIND

FORMAT_VERSION = "1.0"

EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES, EXIT_APPROVALS = 0, 1, 2, 3


def snapshots(root: Path, base: str, head: str | None) -> tuple[Git, dict, Snapshot, Snapshot, Snapshot]:
    """The snapshots a plan compares: (git, refs, diff base, head, approval base).

    The diff is taken from the merge base, so changes that landed on the base branch since the
    branch point are not shown as reverted.
    """
    git = Git(root)
    if head is not None:
        base_sha, head_sha = git.resolve_many(base, head)
        head_snap = at_commit(git, head_sha, head, root)
    else:
        head_snap = worktree(root)
        try:
            base_sha, head_sha = git.resolve_many(base, "HEAD")
        except GitError:  # the base is missing (raised again below), or no commit exists yet
            base_sha, head_sha = git.resolve(base), None
    merge_base = git.merge_base(base_sha, head_sha) if head_sha else None
    approval_base = at_commit(git, base_sha, base, root)
    diff_base = approval_base if merge_base in (None, base_sha) else at_commit(git, merge_base, "merge-base", root)
    refs = {"base": {"ref": base, "sha": base_sha},
            "head": {"ref": head or WORKTREE, "sha": head_sha, "worktree": head is None},
            "merge_base": merge_base}
    return git, refs, diff_base, head_snap, approval_base


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in set(before.files) | set(after.files) if before.files.get(p) != after.files.get(p))


def semantic_diff(before: Snapshot, after: Snapshot, name: str | None = None):
    """Resource changes between two snapshots, reading only the files that differ."""
    paths = changed_paths(before, after)
    b = before.resources([p for p in paths if p in before.files])
    a = after.resources([p for p in paths if p in after.files])
    changes = diff_resources(b, a)
    if name:
        changes = [c for c in changes if name in (c.name, c.address, c.previous_name)]
    problems = [f"{before.label}: {p}" for p in before.problems([p for p in paths if p in before.files])]
    problems += [f"{after.label}: {p}" for p in after.problems([p for p in paths if p in after.files])]
    return changes, problems


def ownership_index(snap: Snapshot) -> tuple[dict[str, dict], dict[str, dict], dict | None]:
    """(spec name -> RACI, Ownership name -> RACI, default RACI) from raw Ownership specs."""
    covers: dict[str, dict] = {}
    by_name: dict[str, dict] = {}
    for res in snap.resources().values():
        if res.kind != "Ownership":
            continue
        spec = found if isinstance(found := res.data.get("spec"), dict) else {}
        raci = found if isinstance(found := spec.get("raci"), dict) else {}
        by_name[res.name] = raci
        for covered in spec.get("covers") or []:
            if isinstance(covered, str):
                covers.setdefault(covered, raci)
    default = None
    config = snap.resources([p for p in ("charter.yaml",) if p in snap.files])
    project = next((r for r in config.values() if r.kind == "Project"), None)
    if project is not None and isinstance(project.data.get("spec"), dict):
        default = by_name.get(project.data["spec"].get("default_ownership"))
    return covers, by_name, default


def _handles(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def roles(kind: str, name: str, index) -> tuple[list[str], list[str]]:
    """(accountable, consulted) for one spec at the approval base; empty when nobody owns it."""
    covers, by_name, default = index
    if kind == "Ownership":
        raci = by_name.get(name, {})
        return sorted({h for r in raci.values() if isinstance(r, dict) for h in _handles(r.get("accountable"))}), []
    raci = covers.get(name) or default or {}
    stage = STAGE_OF_KIND.get(kind)
    stage = stage if stage in raci else STAGE_FALLBACK.get(stage or "")
    chosen = [raci[stage]] if stage in raci else list(raci.values())
    chosen = [r for r in chosen if isinstance(r, dict)]
    return (sorted({h for r in chosen for h in _handles(r.get("accountable"))}),
            sorted({h for r in chosen for h in _handles(r.get("consulted"))}))


def _impact(before: dict, after: dict) -> dict:
    """Per model: the steps that re-run and the environments that get a new deployment, from two revision summaries.

    A step re-runs when it changed, or is downstream of a change.
    """
    models = {}
    for name in sorted(set(before["models"]) | set(after["models"])):
        b, a = before["models"].get(name), after["models"].get(name)
        if a is None:
            models[name] = {"action": "delete", "rerun": [], "deployments": []}
            continue
        old = {step: h for step, h, _ in b["steps"]} if b else {}
        rerun: list[str] = []
        for step, h, needs in a["steps"]:  # steps are in topological order
            if old.get(step) != h or any(n in rerun for n in needs):
                rerun.append(step)
        rollout_changed = b is None or b["rollouts"] != a["rollouts"]
        deploy = a["deployments"] if ("package" in rerun or rollout_changed) else []
        if rerun or deploy:
            models[name] = {"action": "create" if b is None else "update", "rerun": rerun, "deployments": deploy}
    return models


def _generated(before: dict, after: dict) -> list[dict]:
    b_files, a_files = before["generated"], after["generated"]
    files = []
    for path in sorted(set(b_files) | set(a_files)):
        b, a = b_files.get(path), a_files.get(path)
        if b == a:
            continue
        action = "create" if b is None else "delete" if a is None else "update"
        files.append({"path": path, "action": action, "before_hash": b, "after_hash": a})
    return files


def _metrics(root: Path, head: dict, base: Snapshot) -> list[dict]:
    """Candidate metrics from the last local run against the base's lock, per model."""
    lock = base.lock().get("models", {})
    store = head["store"]
    if "://" in store:
        return []
    out = []
    for model in sorted(head["models"]):
        path = root / store / "runs" / model / "last.json"
        try:
            candidate = json.loads(path.read_text(encoding="utf-8"))["metrics"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not isinstance(candidate, dict):
            continue
        baseline = (lock.get(model) or {}).get("metrics", {}).get("metrics") or {}
        rows = []
        for metric in sorted(set(candidate) | set(baseline)):
            c, b = candidate.get(metric), baseline.get(metric)
            rows.append({"metric": metric, "candidate": c, "baseline": b,
                         "delta": (c - b) if isinstance(c, (int, float)) and isinstance(b, (int, float)) else None})
        out.append({"model": model, "baseline_version": (lock.get(model) or {}).get("version"), "metrics": rows})
    return out


def make_plan(root: Path, base: str, head: str | None = None, approved: list[str] | None = None,
              today: str | None = None) -> dict:
    """The plan document. Raises GitError for refs that are missing."""
    today = today or date.today().isoformat()
    git, refs, diff_base, head_snap, approval_base = snapshots(root, base, head)
    changes, problems = semantic_diff(diff_base, head_snap)
    before, after = diff_base.summary(), head_snap.summary()
    for label, summary in ((diff_base.label, before), (head_snap.label, after)):
        problems += [f"{label}: {p}" for p in summary["problems"] if f"{label}: {p}" not in problems]
    used_by: dict[str, set[str]] = {}
    for summary in (before, after):
        for name, models in summary["used_by"].items():
            used_by.setdefault(name, set()).update(models)
    waivers = [{**w, "active": w["expires"] >= today} for w in after["waivers"]]
    owners = approval_base.summary()["ownership"]
    index = (owners["covers"], owners["by_name"], owners["default"])
    resources: list[dict] = []
    required: dict[str, dict] = {}

    def need(handles, reason, kind="approval"):
        for h in handles:
            entry = required.setdefault(h, {"handle": h, "reasons": [], "kind": kind})
            if reason not in entry["reasons"]:
                entry["reasons"].append(reason)

    reviewers: set[str] = set()
    for ch in changes:
        active = {w["rule"]: w["approver"] for w in waivers
                  if w["active"] and w["rule"] and w["address"] == ch.address}
        found = findings(ch, set(used_by), active)
        accountable, consulted = roles(ch.kind, ch.previous_name or ch.name, index)
        if not accountable and ch.previous_name:
            accountable, consulted = roles(ch.kind, ch.name, index)
        reviewers.update(consulted)
        risk = worst(found)
        need(accountable, f"{ch.address} ({risk})")
        if any(f.risk == BREAKING for f in found):
            for model in sorted(used_by.get(ch.name, ())):
                if f"Model/{model}" != ch.address:
                    need(roles("Model", model, index)[0], f"{ch.address} breaks Model/{model}")
        for f in found:
            if f.rule == "P205":
                for w in waivers:
                    if w["address"] == ch.address and w["approver"]:
                        need([w["approver"]], f"waiver on {ch.address}")
        resources.append({
            "address": ch.address, "kind": ch.kind, "name": ch.name, "action": ch.action, "file": ch.file,
            "previous_file": ch.previous_file, "previous_name": ch.previous_name, "risk": risk,
            "changes": [c.to_dict() for c in ch.changes if c.path],
            "findings": [f.to_dict() for f in found],
            "owners": {"accountable": accountable, "consulted": consulted},
            "unowned": not accountable,
        })
    approved_set = set(approved or [])
    approvals = [{**e, "approved": e["handle"] in approved_set} for _, e in sorted(required.items())]
    missing = [a["handle"] for a in approvals if not a["approved"]]
    breaking = [r["address"] for r in resources if r["risk"] == BREAKING]
    generated = _generated(before, after)
    notes = sorted(set(before["notes"]) | set(after["notes"]))
    if approved is None:
        blocked = bool(breaking)
        reason = "breaking changes need their approvals; pass --approved-by or --reviews" if breaking else ""
    else:
        blocked = bool(missing)
        reason = f"approvals missing: {', '.join(missing)}" if missing else ""
    counts = {k: sum(r["action"] == k for r in resources) for k in ("create", "update", "delete", "rename", "move")}
    return {
        "format_version": FORMAT_VERSION,
        **refs,
        "summary": {**counts, "breaking": len(breaking),
                    "risky": sum(r["risk"] == "risky" for r in resources),
                    "safe": sum(r["risk"] == "safe" for r in resources),
                    "generated_files": len(generated),
                    "approvals_missing": len(missing) if approved is not None else None,
                    "blocked": blocked, "blocked_reason": reason},
        "resource_changes": resources,
        "impact": _impact(before, after),
        "generated_changes": generated,
        "approvals": approvals,
        "approvals_checked": approved is not None,
        "reviewers": sorted(reviewers - set(required)),
        "waivers": [w for w in waivers if w["active"]],
        "expired_waivers": [w for w in waivers if not w["active"]],
        "metrics": _metrics(root, after, approval_base),
        "problems": problems,
        "notes": notes,
        "rules": {rid: {"risk": r[0], "name": r[1]} for rid, r in RULES.items()
                  if any(f["rule"] == rid for res in resources for f in res["findings"])},
    }


def affected_models(root: Path, base: str) -> list[str]:
    """Models of the working tree whose pipelines must re-run since `base` (new ones included)."""
    git = Git(root)
    before = at_commit(git, git.resolve(base), base, root)
    after = worktree(root)
    impact = _impact(before.summary(), after.summary())
    return [name for name, imp in impact.items() if imp["rerun"]]


def exit_code(plan: dict) -> int:
    if plan["summary"]["blocked"]:
        return EXIT_APPROVALS
    if plan["resource_changes"] or plan["generated_changes"]:
        return EXIT_CHANGES
    return EXIT_NO_CHANGES


def approvals_from_reviews(path: Path) -> list[str]:
    """Handles that approved, from GitHub's reviews JSON or a plain JSON list of handles.

    GitHub's is the JSON of `GET /repos/{o}/{r}/pulls/{n}/reviews`; the latest review of each user
    counts.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return [x if x.startswith("@") else "@" + x for x in data]
    latest: dict[str, str] = {}
    for review in data if isinstance(data, list) else []:
        user = (review.get("user") or {}).get("login") if isinstance(review, dict) else None
        state = review.get("state") if isinstance(review, dict) else None
        if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[user] = state
    return sorted("@" + u for u, s in latest.items() if s == "APPROVED")

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

from compiler.gitops.git import WORKTREE, Git
from compiler.gitops.risk import BREAKING, RULES, findings, worst
from compiler.gitops.semdiff import diff_resources
from compiler.gitops.snapshot import Snapshot, at_commit, worktree

FORMAT_VERSION = "1.0"
STAGE_OF_KIND = {"DataSource": "data", "ValidationSuite": "validation", "Model": "model",
                 "MetricSet": "evaluation", "RolloutPolicy": "deployment"}  # fmt: skip
_FALLBACK = {"validation": "data", "evaluation": "model", "monitoring": "deployment"}

EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES, EXIT_APPROVALS = 0, 1, 2, 3


def snapshots(root: Path, base: str, head: str | None) -> tuple[Git, dict, Snapshot, Snapshot, Snapshot]:
    """(git, refs, diff base, head, approval base). The diff is taken from the merge base, so
    changes that landed on the base branch since the branch point are not shown as reverted."""
    git = Git(root)
    base_sha = git.resolve(base)
    if head is None:
        head_snap = worktree(root)
        try:
            head_sha = git.resolve("HEAD")
        except Exception:  # noqa: BLE001 - a repository without commits yet
            head_sha = None
    else:
        head_sha = git.resolve(head)
        head_snap = at_commit(git, head_sha, head, root)
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
        spec = res.data.get("spec") if isinstance(res.data.get("spec"), dict) else {}
        raci = spec.get("raci") if isinstance(spec.get("raci"), dict) else {}
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
    stage = stage if stage in raci else _FALLBACK.get(stage or "")
    chosen = [raci[stage]] if stage in raci else list(raci.values())
    chosen = [r for r in chosen if isinstance(r, dict)]
    return (sorted({h for r in chosen for h in _handles(r.get("accountable"))}),
            sorted({h for r in chosen for h in _handles(r.get("consulted"))}))


def _waivers(snap: Snapshot, today: str) -> list[dict]:
    """Every waiver in the snapshot (files that mention waivers only), active or expired."""
    out = []
    for path in snap.spec_files():
        if b"waivers" not in snap.read(path):
            continue
        for res in snap.resources_of(path)[0]:
            for w in res.data.get("waivers") or []:
                if isinstance(w, dict):
                    exp = str(w.get("expires", ""))
                    out.append({"address": res.address, "file": res.file, "gate": w.get("gate"),
                                "rule": w.get("rule"), "approver": w.get("approver"), "reason": w.get("reason"),
                                "expires": exp, "active": exp >= today})
    return sorted(out, key=lambda w: (w["address"], str(w["gate"] or w["rule"])))


def _impact(base_graph, head_graph) -> dict:
    models = {}
    before = {m.name: m for m in (base_graph.models if base_graph else ())}
    after = {m.name: m for m in (head_graph.models if head_graph else ())}
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if a is None:
            models[name] = {"action": "delete", "rerun": [], "deployments": []}
            continue
        if b is None:
            changed = {s.name for s in a.steps}
        else:
            old = {s.name: s.hash for s in b.steps}
            changed = {s.name for s in a.steps if old.get(s.name) != s.hash}
        # a step re-runs when it changed or anything upstream of it re-runs
        rerun: list[str] = []
        for step in a.steps:  # steps are in topological order
            if step.name in changed or any(n.split("/", 1)[1] in rerun for n in step.needs):
                rerun.append(step.name)
        rollout_changed = b is None or json.dumps(b.rollouts, sort_keys=True) != json.dumps(a.rollouts, sort_keys=True)
        deploy = [f"{r['name']}/{e['name']}" for r in a.rollouts for e in r["environments"]] \
            if ("package" in rerun or rollout_changed) else []
        if rerun or deploy:
            models[name] = {"action": "create" if b is None else "update", "rerun": rerun, "deployments": deploy}
    return models


def _generated(base_graph, head_graph, out: str) -> tuple[list[dict], list[str]]:
    from compiler.gitops.render import render_all
    from compiler.ir.graph import content_hash

    notes: list[str] = []
    before = render_all(base_graph, out, notes) if base_graph else {}
    after = render_all(head_graph, out, notes) if head_graph else {}
    files = []
    for path in sorted(set(before) | set(after)):
        b, a = before.get(path), after.get(path)
        if b == a:
            continue
        action = "create" if b is None else "delete" if a is None else "update"
        files.append({"path": path, "action": action, "before_hash": content_hash(b) if b is not None else None,
                      "after_hash": content_hash(a) if a is not None else None})
    return files, notes


def _metrics(root: Path, head_graph, base: Snapshot) -> list[dict]:
    """Candidate metrics from the last local run against the base's lock, per model."""
    lock = base.lock().get("models", {})
    out = []
    store_root = None
    if head_graph is not None:
        store = head_graph.project.get("artifact_store", ".charter/artifacts")
        store_root = None if "://" in store else (root / store)
    for model in sorted(m.name for m in head_graph.models) if head_graph else []:
        path = store_root / "runs" / model / "last.json" if store_root else None
        try:
            candidate = json.loads(path.read_text(encoding="utf-8"))["metrics"] if path else None
        except (OSError, ValueError, KeyError, TypeError):
            candidate = None
        baseline = (lock.get(model) or {}).get("metrics", {}).get("metrics")
        if not candidate:
            continue
        rows = []
        for metric in sorted(set(candidate) | set(baseline or {})):
            c, b = candidate.get(metric), (baseline or {}).get(metric)
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
    base_graph, base_problems = diff_base.compile()
    head_graph, head_problems = head_snap.compile()
    problems += [f"{diff_base.label}: {p}" for p in base_problems if f"{diff_base.label}: {p}" not in problems]
    problems += [f"{head_snap.label}: {p}" for p in head_problems if f"{head_snap.label}: {p}" not in problems]
    used_by: dict[str, set[str]] = {}
    for graph in (base_graph, head_graph):
        for m in graph.models if graph else ():
            used_by.setdefault(m.step("ingest").params["source"], set()).add(m.name)
            for g in m.step("gate").params["gates"]:
                used_by.setdefault(g["metric_set"], set()).add(m.name)
    waivers = _waivers(head_snap, today)
    index = ownership_index(approval_base)
    resources, required = [], {}

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
    out = (head_graph or base_graph).project.get("output", "generated") if (head_graph or base_graph) else "generated"
    generated, notes = _generated(base_graph, head_graph, out) if (base_graph or head_graph) else ([], [])
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
                    "generated_files": len(generated), "approvals_missing": len(missing) if approved is not None else None,
                    "blocked": blocked, "blocked_reason": reason},
        "resource_changes": resources,
        "impact": _impact(base_graph, head_graph),
        "generated_changes": generated,
        "approvals": approvals,
        "approvals_checked": approved is not None,
        "reviewers": sorted(reviewers - set(required)),
        "waivers": [w for w in waivers if w["active"]],
        "expired_waivers": [w for w in waivers if not w["active"]],
        "metrics": _metrics(root, head_graph, approval_base),
        "problems": problems,
        "notes": notes,
        "rules": {rid: {"risk": r[0], "name": r[1]} for rid, r in RULES.items()
                  if any(f["rule"] == rid for res in resources for f in res["findings"])},
    }


def exit_code(plan: dict) -> int:
    if plan["summary"]["blocked"]:
        return EXIT_APPROVALS
    if plan["resource_changes"] or plan["generated_changes"]:
        return EXIT_CHANGES
    return EXIT_NO_CHANGES


def approvals_from_reviews(path: Path) -> list[str]:
    """Handles that approved, from GitHub's `GET /repos/{o}/{r}/pulls/{n}/reviews` JSON (the
    latest review of each user counts) or a plain JSON list of handles."""
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

"""`charter plan`: judge a change (a branch, a commit, the working tree) against the base ref.

The plan is a versioned JSON document, like `terraform show -json`: base, head and merge-base
SHAs, a change per resource (semantic field changes, risk findings), the pipeline steps and
deployments it affects, the generated files it changes, the models whose MLOps maturity level
changes (`charter maturity`), the approvals it needs and the metrics of the last local run
against the base's `charter.lock`. Text and Markdown are
renderings of that document (`compiler/gitops/report.py`).

Approvals are always read from the Ownership specs at the *base* ref (its tip, not the merge
base): a pull request cannot approve itself by editing the RACI it is judged by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from compiler.gitops.git import WORKTREE, Git, GitError
from compiler.gitops.impact import generated as generated_changes
from compiler.gitops.impact import impact, input_impact, metrics, unknown_reason
from compiler.gitops.inputs import data_changes, drift, lock_changes
from compiler.gitops.maturity import level_changes, levels
from compiler.gitops.owners import roles
from compiler.gitops.risk import BREAKING, RULES, findings, renames_of, stage_of, worst
from compiler.gitops.semdiff import diff_resources
from compiler.gitops.snapshot import Snapshot, at_commit, worktree

FORMAT_VERSION = "1.0"

EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES, EXIT_APPROVALS = 0, 1, 2, 3
DEEPEN = 100  # commits a `git fetch --deepen` hint asks for: most branches are younger than that


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
    merge_base = _merge_base(root, git, base_sha, head_sha) if head_sha else None
    if head_sha and merge_base is None and git.shallow():
        # diffing against the base's tip would blame the branch for every later change of the base
        raise GitError(f"this clone is shallow and does not hold the merge base of {base} and "
                       f"{head or 'HEAD'}, so the plan cannot tell the branch's changes from the base's",
                       f"deepen the history until it does: `git fetch --deepen={DEEPEN} origin` (repeat as "
                       "needed), or fetch it all: `git fetch --unshallow origin` (in GitHub Actions: "
                       "`actions/checkout` with `fetch-depth: 0`)")
    approval_base = at_commit(git, base_sha, base, root)
    diff_base = approval_base if merge_base in (None, base_sha) else at_commit(git, merge_base, "merge-base", root)
    refs = {"base": {"ref": base, "sha": base_sha},
            "head": {"ref": head or WORKTREE, "sha": head_sha, "worktree": head is None},
            "merge_base": merge_base}
    return git, refs, diff_base, head_snap, approval_base


def _merge_base(root: Path, git: Git, a: str, b: str) -> str | None:
    """`git merge-base` of two commits, recorded: it never changes once found.

    None (unrelated, or a shallow clone cut between them) is not recorded: fetching more
    history may find one.
    """
    from compiler.gitops.snapshot import CACHE_DIR, read_record, write_record

    record = root / CACHE_DIR / f"{a}-{b}.base.marshal"
    found = read_record(record)
    if isinstance(found, str):
        return found
    found = git.merge_base(a, b)
    if found is not None:
        write_record(record, found)
    return found


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in set(before.files) | set(after.files) if before.files.get(p) != after.files.get(p))


@dataclass(frozen=True, slots=True)
class SpecDiff:
    """The semantic diff of two snapshots: what changed, what could not be read, and why.

    `unknown` holds the resources whose fate a broken file hides: one that vanished from a file
    that no longer parses (or whose name a broken file mentions) is not a deletion, and one that
    appeared beside a file that did not parse at the base is not a creation.
    """

    changes: list
    problems: list[str]
    unknown: list[dict]


def _broken(snap: Snapshot, paths: list[str]) -> list[str]:
    return [p for p in paths if p in snap.files and snap.resources_of(p)[1]]


def _hidden(res, snap: Snapshot, broken: list[str]) -> bool:
    """Could `res` be in one of the snapshot's broken files?"""
    return res.file in broken or any(res.name.encode() in snap.read(p) for p in broken)


def semantic_diff(before: Snapshot, after: Snapshot, name: str | None = None) -> SpecDiff:
    """Resource changes between two snapshots, reading only the files that differ."""
    paths = changed_paths(before, after)
    b = before.resources([p for p in paths if p in before.files])
    a = after.resources([p for p in paths if p in after.files])
    broken_b, broken_a = _broken(before, paths), _broken(after, paths)
    unknown = []
    for addr, res in sorted(b.items()):
        if addr not in a and _hidden(res, after, broken_a):
            unknown.append({"address": addr, "file": res.file, "reason": f"{after.label}: a spec file does not parse"})
    for addr, res in sorted(a.items()):
        if addr not in b and _hidden(res, before, broken_b):
            unknown.append({"address": addr, "file": res.file, "reason": f"{before.label}: a spec file does not parse"})
    hidden = {u["address"] for u in unknown}
    changes = diff_resources({k: v for k, v in b.items() if k not in hidden},
                             {k: v for k, v in a.items() if k not in hidden})
    if name:
        changes = [c for c in changes if name in (c.name, c.address, c.previous_name)]
        unknown = [u for u in unknown if name in (u["address"], u["address"].split("/", 1)[-1])]
    problems = [f"{before.label}: {p}" for p in before.problems([p for p in paths if p in before.files])]
    problems += [f"{after.label}: {p}" for p in after.problems([p for p in paths if p in after.files])]
    return SpecDiff(changes, problems, unknown)


def make_plan(root: Path, base: str, head: str | None = None, approved: list[str] | None = None,
              today: str | None = None) -> dict:
    """The plan document. Raises GitError for refs that are missing."""
    today = today or date.today().isoformat()
    git, refs, diff_base, head_snap, approval_base = snapshots(root, base, head)
    sd = semantic_diff(diff_base, head_snap)
    before, after = diff_base.summary(), head_snap.summary()
    problems = list(sd.problems)
    for label, summary in ((diff_base.label, before), (head_snap.label, after)):
        problems += [f"{label}: {p}" for p in summary["problems"] if f"{label}: {p}" not in problems]
    used_by = used_by_at(diff_base, head_snap)
    waivers = [{**w, "active": w["expires"] >= today} for w in after["waivers"]]
    owners = approval_base.summary()["ownership"]
    index = (owners["covers"], owners["by_name"], owners["default"])
    data = data_changes(diff_base, head_snap, before, after, head_snap.lock())
    versions = lock_changes(git, refs["base"]["sha"], diff_base.lock(), head_snap.lock(), after)
    drifted = drift(head_snap, after)
    maturity = level_changes(levels(diff_base), levels(head_snap))
    resources, approvals, reviewers = judge(sd.changes, used_by, waivers, index, approved,
                                            after["ownership"].get("covered_by", {}),
                                            input_approvals(data, versions, after, index))
    missing = [a["handle"] for a in approvals if not a["approved"]]
    breaking = [r["address"] for r in resources if r["risk"] == BREAKING]
    unowned = [r["address"] for r in resources if r["unowned"]]
    unknown = unknown_reason(before, after, (diff_base.label, head_snap.label))
    generated = generated_changes(before, after, unknown)
    notes = sorted(set(before["notes"]) | set(after["notes"]))
    if unknown:
        notes.append(f"impact and generated files unknown: {unknown}")
    invalid = not after["ok"]
    if approved is None:
        blocked = bool(breaking)
        reason = "breaking changes need their approvals; pass --approved-by or --reviews" if breaking else ""
    else:
        blocked = bool(missing)
        reason = f"approvals missing: {', '.join(missing)}" if missing else ""
    if drifted:  # what Argo CD would apply is not what the specs say
        blocked = True
        reason = "; ".join(filter(None, [reason, "generated files differ from what the head renders: "
                                          + ", ".join(d["path"] for d in drifted)
                                          + " (run `charter compile` and commit the result)"]))
    if unowned:  # nobody at the base can approve these: a change must not merge unreviewed
        blocked = True
        reason = "; ".join(filter(None, [reason, f"nobody owns {', '.join(unowned)} at the base (cover it in an "
                                          "Ownership, give an Ownership a `project` stage for charter.yaml, "
                                          "or set `default_ownership` in charter.yaml)"]))
    counts = {k: sum(r["action"] == k for r in resources) for k in ("create", "update", "delete", "rename", "move")}
    notes += [d["note"] for d in data if d["state"] == "not-compared"]
    head_models = {r["name"] for r in resources if r["kind"] == "Model"} | {
        u["address"].split("/", 1)[1] for u in sd.unknown if u["address"].startswith("Model/")}
    return {
        "format_version": FORMAT_VERSION,
        **refs,
        "summary": {**counts, "breaking": len(breaking),
                    "risky": sum(r["risk"] == "risky" for r in resources),
                    "safe": sum(r["risk"] == "safe" for r in resources),
                    "unknown": len(sd.unknown),
                    "data": sum(d["state"] == "changed" for d in data), "versions": len(versions),
                    "drift": len(drifted), "maturity": len(maturity),
                    "generated_files": len(generated),
                    "approvals_missing": len(missing) if approved is not None else None,
                    "blocked": blocked, "blocked_reason": reason, "invalid": invalid},
        "resource_changes": resources,
        "unknown_resources": sd.unknown,
        "impact": input_impact(impact(before, after, unknown, head_models), data, versions, before, after),
        "generated_changes": generated,
        "data_changes": [d for d in data if d["state"] == "changed"],
        "lock_changes": versions,
        "drift": drifted,
        "maturity_changes": maturity,
        "approvals": approvals,
        "approvals_checked": approved is not None,
        "reviewers": reviewers,
        "waivers": [w for w in waivers if w["active"]],
        "expired_waivers": [w for w in waivers if not w["active"]],
        "metrics": metrics(root, after, approval_base.lock()),
        "problems": problems,
        "notes": notes,
        "rules": {rid: {"risk": r[0], "name": r[1]} for rid, r in RULES.items()
                  if any(f["rule"] == rid for res in resources for f in res["findings"])},
    }


def input_approvals(data: list[dict], versions: list[dict], after: dict, index) -> list[tuple[list[str], str]]:
    """Who approves what is not spec text.

    A data change needs its source's data Accountable; a version change the deployment approval
    its RolloutPolicy declares (the base's deployment Accountable).
    """
    out = []
    for d in data:
        if d["state"] == "changed":
            out.append((roles("DataSource", d["source"], index, stage_of(d["rule"]))[0],
                        f"data of DataSource/{d['source']} ({d['rule']})"))
    for v in versions:
        approvals = (after["models"].get(v["model"]) or {}).get("approvals", {})
        for policy in v["policies"] or [None]:
            declared = [a for env, a in approvals.items() if env.split("/", 1)[0] == policy and a != "none"]
            if policy is None or declared:
                stage = stage_of(v["rule"])
                handles = roles("RolloutPolicy", policy, index, stage)[0] if policy else roles(
                    "Model", v["model"], index, stage)[0]
                handles += [h for a in declared if isinstance(a, list) for h in a]
                reason = f"{v['action']} of {v['model']} {v['from']} -> {v['to']} ({v['rule']})"
                out.append((sorted(set(handles)), reason))
    return out


def used_by_at(*snaps: Snapshot) -> dict[str, set[str]]:
    """Spec name -> Models that read it at any of the snapshots (raw specs: invalid ones count too)."""
    out: dict[str, set[str]] = {}
    for snap in snaps:
        for name, models in snap.readers().items():
            out.setdefault(name, set()).update(models)
    return out


def owners_of(ch, index, head_covered_by: dict[str, str] | None = None,
              stage: str | None = None) -> tuple[list[str], list[str]]:
    """(accountable, consulted) of a change, from the base's Ownership specs.

    `stage` is the RACI stage a risk rule names (monitoring, say); None is the kind's own. A spec
    new at the head is owned by the base's version of the Ownership that covers it at the head
    (the change to that Ownership's `covers` needs its base owners' approval anyway).
    """
    accountable, consulted = roles(ch.kind, ch.previous_name or ch.name, index, stage)
    if not accountable and ch.previous_name:
        accountable, consulted = roles(ch.kind, ch.name, index, stage)
    if not accountable and head_covered_by and ch.kind != "Ownership":
        covers, by_name, default = index
        mine = head_covered_by.get(ch.name)
        if mine in by_name:
            accountable, consulted = roles(ch.kind, ch.name, ({ch.name: by_name[mine]}, by_name, default), stage)
    return accountable, consulted


def stage_owners(ch, found, index, head_covered_by: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The Accountables (and Consulted) of every RACI stage the change's findings name."""
    accountable: set[str] = set()
    consulted: set[str] = set()
    for stage in sorted({stage_of(f.rule) or "" for f in found}) or [""]:
        a, c = owners_of(ch, index, head_covered_by, stage or None)
        accountable.update(a)
        consulted.update(c)
    return sorted(accountable), sorted(consulted)


def judge(changes, used_by: dict[str, set[str]], waivers: list[dict], index, approved: list[str] | None,
          head_covered_by: dict[str, str] | None = None, extra: Sequence[tuple[list[str], str]] = ()):
    """(resource entries, approvals, reviewers to request) for the resource changes of a plan.

    `extra` holds (handles, reason) pairs for changes that are not spec text (data, versions).
    """
    resources: list[dict] = []
    required: dict[str, dict] = {}

    def need(handles, reason, kind="approval"):
        for h in handles:
            entry = required.setdefault(h, {"handle": h, "reasons": [], "kind": kind})
            if reason not in entry["reasons"]:
                entry["reasons"].append(reason)

    reviewers: set[str] = set()
    renames = renames_of(changes)
    for ch in changes:
        active = {w["rule"]: w["approver"] for w in waivers
                  if w["active"] and w["rule"] and w["address"] == ch.address}
        found = findings(ch, set(used_by), active, renames)
        accountable, consulted = stage_owners(ch, found, index, head_covered_by)
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
    for handles, reason in extra:
        need(handles, reason)
    approved_set = set(approved or [])
    approvals = [{**e, "approved": e["handle"] in approved_set} for _, e in sorted(required.items())]
    return resources, approvals, sorted(reviewers - set(required))


def affected_models(root: Path, base: str) -> list[str]:
    """Models of the working tree whose pipelines must re-run since `base` (new ones included).

    Compared with the merge base, as `charter plan` does, and with data changes counted. When
    either revision does not compile, every model of the working tree is affected.
    """
    git, refs, before, after, _ = snapshots(root, base, None)
    b, a = before.summary(), after.summary()
    found = impact(b, a, unknown_reason(b, a, (before.label, after.label)))
    found = input_impact(found, data_changes(before, after, b, a, after.lock()), [], b, a)
    return [name for name, imp in found.items() if imp["rerun"] or (imp["action"] == "unknown" and name in a["models"])]


def exit_code(plan: dict) -> int:
    """1 when the head does not validate (whatever else), 3 blocked, 2 changes, 0 nothing to do."""
    if plan["summary"].get("invalid"):
        return EXIT_ERROR
    if plan["summary"]["blocked"]:
        return EXIT_APPROVALS
    if plan["resource_changes"] or plan["generated_changes"] or plan.get("unknown_resources") or plan.get(
            "data_changes") or plan.get("lock_changes") or any(
            i["action"] == "unknown" for i in plan["impact"].values()):  # not knowing is not "no changes"
        return EXIT_CHANGES
    return EXIT_NO_CHANGES

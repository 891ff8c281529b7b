"""Plan inputs beyond spec text: committed data files, the lock, and committed generated files.

What a pipeline trains on and what a cluster serves depend on more than the specs: the bytes
of each DataSource's file (compared by git blob id at both revisions), the model versions in
`charter.lock` (a version change is a promotion or a rollback), and the generated files a
GitOps controller applies (compared with what the head's specs and lock render: a file edited
by hand is drift).
"""

from __future__ import annotations

from compiler.gitops.git import Git, GitError, blob_id
from compiler.gitops.risk import input_rule
from compiler.gitops.rules import DATA_FILE, GENERATED_FILE, LOCK_ENTRY
from compiler.gitops.semdiff import MISSING
from compiler.gitops.snapshot import LOCK, Snapshot


def data_changes(before: Snapshot, after: Snapshot, b_sum: dict, a_sum: dict, lock: object) -> list[dict]:
    """One entry per DataSource whose committed data differs, or that the plan could not look at."""
    sources: dict[str, dict] = {}
    for label, summary in (("before", b_sum), ("after", a_sum)):
        for model, info in summary["models"].items():
            used = [("models", info["data"])] if info.get("data") else []
            used += [("evaluated_by", d) for d in info.get("window_data") or ()]
            used += [("checked_by", d) for d in info.get("reference_data") or ()]
            for role, data in used:
                entry = sources.setdefault(data["source"], {"models": set(), "evaluated_by": set(),
                                                            "checked_by": set(), "before": None, "after": None})
                entry[role].add(model)
                entry[label] = data["path"] or entry[label]
    out = []
    recorded = lock.get("models", {}) if isinstance(lock, dict) else {}
    for entry in sources.values():
        if not b_sum["ok"]:  # a revision that does not compile names no path: compare the same file
            entry["before"] = entry["after"]
        if not a_sum["ok"]:
            entry["after"] = entry["before"]
    # every file's blob id at each revision in one listing (one git call per side, not per source)
    blobs_b = before.blobs(sorted({e["before"] for e in sources.values() if e["before"]}))
    blobs_a = after.blobs(sorted({e["after"] for e in sources.values() if e["after"]}))
    for source, entry in sorted(sources.items()):
        models = sorted(entry["models"])
        # models that only evaluate on this source (a window): its data re-runs their evaluate onwards
        evaluated = {"evaluated_by": sorted(entry["evaluated_by"] - entry["models"])} if entry["evaluated_by"] \
            - entry["models"] else {}
        # models whose foreign keys look keys up in it: its data re-runs their validate onwards
        if checked := entry["checked_by"] - entry["models"]:
            evaluated["checked_by"] = sorted(checked)
        path_b, path_a = entry["before"], entry["after"]
        if path_b is None and path_a is None:  # a database, or a URL: not in git
            fps = sorted({str((recorded.get(m) or {}).get("data_fingerprint")) for m in models})
            out.append({"source": source, "path": None, "models": models, **evaluated, "state": "not-compared",
                        "note": f"the data of DataSource/{source} is not in git; could not look (charter.lock "
                                f"records fingerprint {', '.join(f[:12] for f in fps)} from the last run)"})
            continue
        b = blobs_b.get(path_b) if path_b else None
        a = blobs_a.get(path_a) if path_a else None
        if a != b:
            out.append({"source": source, "path": path_a or path_b, "models": models, **evaluated, "state": "changed",
                        "before_blob": b, "after_blob": a, "rule": input_rule(DATA_FILE, "blob", b, a)})
    return out


def lock_changes(git: Git | None, base_sha: str | None, b_lock: object, a_lock: object, a_sum: dict) -> list[dict]:
    """Model versions that differ between the two locks: a promotion, or a rollback to an earlier version."""
    b_models = b_lock.get("models", {}) if isinstance(b_lock, dict) else {}
    a_models = a_lock.get("models", {}) if isinstance(a_lock, dict) else {}
    out = []
    for model in sorted(set(b_models) | set(a_models)):
        b, a = b_models.get(model) or {}, a_models.get(model) or {}
        if not isinstance(a, dict) or not isinstance(b, dict) or b.get("version") == a.get("version"):
            continue
        to = a.get("version")
        if to is None:
            action = "removed"
        elif b.get("version") is not None and _seen_before(git, base_sha, to):
            action = "rollback"
        else:
            action = "promotion"
        info = a_sum["models"].get(model) or {}
        out.append({"model": model, "action": action, "from": b.get("version"), "to": to,
                    "rule": input_rule(LOCK_ENTRY, "version", b.get("version"), to),
                    "from_metrics": (b.get("metrics") or {}).get("metrics"),
                    "to_metrics": (a.get("metrics") or {}).get("metrics"),
                    "deployments": list(info.get("deployments", [])),
                    "policies": sorted({d.split("/", 1)[0] for d in info.get("deployments", [])})})
    return out


def _seen_before(git: Git | None, base_sha: str | None, version: str) -> bool:
    """Was `version` in the lock at some commit of the base's history? (git's pickaxe: one call)."""
    if git is None or base_sha is None:
        return False
    try:
        return bool(git.run("log", "--format=%H", "-n", "1", f"-S{version}", base_sha, "--",
                            git.prefix + LOCK).strip())
    except GitError:
        return False


def drift(after: Snapshot, a_sum: dict) -> list[dict]:
    """Committed generated files that are not what the head's specs and lock render.

    Nothing when the head does not compile, or when no generated file is committed (a
    repository that renders in CI and commits nothing).
    """
    expected = a_sum.get("generated_blobs")
    if not a_sum["ok"] or not expected:
        return []
    found = after.blobs(sorted(expected))
    if not found:
        return []
    out = []
    for path, blob in sorted(expected.items()):
        rule = input_rule(GENERATED_FILE, "blob", blob, found.get(path, MISSING))
        if path not in found:
            out.append({"path": path, "state": "missing", "rule": rule})
        elif found[path] != blob:
            out.append({"path": path, "state": "differs from what the head renders (edited by hand, or stale)",
                        "rule": rule})
    return out


def text_blob(text: str) -> str:
    """The blob id `charter compile` gives a generated file (UTF-8, as written)."""
    return blob_id(text.encode("utf-8"))

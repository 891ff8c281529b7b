"""What a change does to pipelines, deployments and generated files, from two revision summaries.

A revision that does not compile has no IR: its impact is *unknown*, never "everything was
deleted". Such models are listed with `action: unknown` and a reason, and generated files are
not compared with it (the plan cannot know what they would be).
"""

from __future__ import annotations

import json
from collections.abc import Set
from pathlib import Path


def unknown_reason(before: dict, after: dict, labels: tuple[str, str]) -> str | None:
    """Why the impact cannot be computed (a revision does not compile), or None."""
    broken = [label for label, summary in zip(labels, (before, after), strict=True) if not summary["ok"]]
    if not broken:
        return None
    return f"{broken[0]} does not compile" if len(broken) == 1 else f"{' and '.join(broken)} do not compile"


def impact(before: dict, after: dict, unknown: str | None = None, models: Set[str] = frozenset()) -> dict:
    """Per model: the steps that re-run and the environments that get a new deployment.

    A step re-runs when it changed, or is downstream of a change. With `unknown` (a revision does
    not compile), every model of either revision (and `models`, named by the specs) is listed
    as unknown.
    """
    names = set(before["models"]) | set(after["models"]) | set(models)
    if unknown:
        return {name: {"action": "unknown", "rerun": [], "deployments": [], "reason": unknown}
                for name in sorted(names)}
    out = {}
    for name in sorted(names):
        b, a = before["models"].get(name), after["models"].get(name)
        if a is None:
            out[name] = {"action": "delete", "rerun": [], "deployments": []}
            continue
        old = {step: h for step, h, _ in _steps(b)} if b else {}
        rerun: list[str] = []
        for step, h, needs in _steps(a):  # steps are in topological order
            if old.get(step) != h or any(n in rerun for n in needs):
                rerun.append(step)
        deploy = deployments(b, a, rerun, _manifests_changed(before, after, a))
        if rerun or deploy:
            out[name] = {"action": "create" if b is None else "update", "rerun": rerun, "deployments": deploy}
    return out


def input_impact(found: dict, data: list[dict], versions: list[dict], before: dict, after: dict) -> dict:
    """`found` with what data and version changes add.

    New data re-runs every step from ingest; a version change redeploys every environment of the model.
    """
    out = dict(found)
    for d in data:
        if d["state"] != "changed":
            continue
        for model in d["models"]:
            a = after["models"].get(model)
            if a is None or out.get(model, {}).get("action") == "unknown":
                continue
            out[model] = {**out.get(model, {"action": "update"}), "rerun": [s for s, _, _ in _steps(a)],
                          "deployments": list(a["deployments"])}
        # a window's data re-runs evaluate and what follows it, a foreign key's referenced data
        # validate and what follows it; neither re-reads the training data
        for role, first in (("evaluated_by", "evaluate"), ("checked_by", "validate")):
            for model in d.get(role, ()):
                a = after["models"].get(model)
                if a is None or out.get(model, {}).get("action") == "unknown":
                    continue
                entry = out.get(model, {"action": "update", "rerun": []})
                rerun = list(entry["rerun"])
                for step, _, needs in _steps(a):
                    if step not in rerun and (step == first or any(n in rerun for n in needs)):
                        rerun.append(step)
                order = [s for s, _, _ in _steps(a)]
                out[model] = {**entry, "rerun": sorted(rerun, key=order.index),
                              "deployments": list(a["deployments"])}
    for v in versions:
        if out.get(v["model"], {}).get("action") == "unknown" or v["model"] not in after["models"]:
            continue
        entry = out.get(v["model"], {"action": "update", "rerun": []})
        out[v["model"]] = {**entry, "deployments": list(after["models"][v["model"]]["deployments"])}
    return dict(sorted(out.items()))


def _steps(model: dict) -> list:
    # `plan_steps` hash what determines a result, with lists whose order has no meaning sorted;
    # summaries cached by an older Charter lack them
    return model.get("plan_steps") or model["steps"]


def _manifests_changed(before: dict, after: dict, model: dict) -> set[str]:
    """Deployments of `model` whose generated manifest changes with the project settings (charter.yaml).

    Only then: a change of the specs redeploys through the environments' own hashes, and a
    manifest that changes only because gates were reordered is no new deployment.
    """
    if before.get("project") == after.get("project"):
        return set()
    old, new = before["generated"], after["generated"]
    return {env for env, path in (model.get("manifests") or {}).items()
            if path in old and path in new and old[path] != new[path]}


def deployments(b: dict | None, a: dict, rerun: list[str], manifests: Set[str] = frozenset()) -> list[str]:
    """Environments that get a new deployment.

    All when the model is repackaged; else those whose config changed, or whose generated
    manifest changes for another reason (`manifests`: a new runner image, say).
    """
    if b is None or "package" in rerun:
        return list(a["deployments"])
    old, new = b.get("environments"), a.get("environments")
    if old is None or new is None:  # an older cached summary: by whole rollout
        return list(a["deployments"]) if b["rollouts"] != a["rollouts"] or manifests else []
    return [env for env in a["deployments"] if old.get(env) != new.get(env) or env in manifests]


def generated(before: dict, after: dict, unknown: str | None = None) -> list[dict]:
    """Generated files whose content changes (none, when a revision does not compile)."""
    if unknown:
        return []
    b_files, a_files = before["generated"], after["generated"]
    files = []
    for path in sorted(set(b_files) | set(a_files)):
        b, a = b_files.get(path), a_files.get(path)
        if b == a:
            continue
        action = "create" if b is None else "delete" if a is None else "update"
        files.append({"path": path, "action": action, "before_hash": b, "after_hash": a})
    return files


def metrics(root: Path, head: dict, lock: dict) -> list[dict]:
    """Candidate metrics from the last local run against the base's lock, per model."""
    lock = lock.get("models", {})
    store = head["store"]
    if "://" in store:
        return []
    out = []
    for model in sorted(head["models"]):
        path = root / store / "runs" / model / "last.json"
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
            candidate = run["metrics"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not isinstance(candidate, dict):
            continue
        base = (lock.get(model) or {}).get("metrics", {})
        rows = _rows(candidate, base.get("metrics") or {}, None)
        # then each evaluation window's, of either side (a window added or removed shows as n/a)
        c_windows, b_windows = _windows(run), _windows(base)
        for window in sorted(set(c_windows) | set(b_windows)):
            rows += _rows(c_windows.get(window, {}), b_windows.get(window, {}), window)
        out.append({"model": model, "baseline_version": (lock.get(model) or {}).get("version"), "metrics": rows})
    return out


def _windows(doc: object) -> dict[str, dict]:
    windows = doc.get("windows") if isinstance(doc, dict) else None
    if not isinstance(windows, dict):
        return {}
    return {k: w["metrics"] for k, w in windows.items() if isinstance(w, dict) and isinstance(w.get("metrics"), dict)}


def _rows(candidate: dict, baseline: dict, window: str | None) -> list[dict]:
    rows = []
    for metric in sorted(set(candidate) | set(baseline)):
        c, b = candidate.get(metric), baseline.get(metric)
        row = {"metric": metric, "candidate": c, "baseline": b,
               "delta": (c - b) if isinstance(c, (int, float)) and isinstance(b, (int, float)) else None}
        if window is not None:  # only for a window's rows: plans of models without windows keep their shape
            row["window"] = window
        rows.append(row)
    return rows

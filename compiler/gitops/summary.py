"""The record of one revision that a plan compares: small, JSON, cached per revision."""

from __future__ import annotations

import json

from compiler.gitops.git import blob_id
from compiler.ir.graph import canonical_json, content_hash


def summarize(snap) -> dict:
    from compiler.gitops.owners import ownership_index
    from compiler.gitops.render import lock_versions, render_all

    graph, problems = snap.compile()
    covered_by: dict[str, str] = {}
    covers, by_name, default = ownership_index(snap, covered_by)
    doc = {"ok": graph is not None, "problems": problems, "models": {}, "used_by": {}, "generated": {},
           "notes": [], "output": "generated", "store": ".charter/artifacts",
           "ownership": {"covers": covers, "by_name": by_name, "default": default, "covered_by": covered_by},
           "waivers": waivers(snap)}
    if graph is None:
        return doc
    doc["output"] = graph.project.get("output", "generated")
    doc["store"] = graph.project.get("artifact_store", ".charter/artifacts")
    doc["project"] = content_hash(json.loads(json.dumps(graph.project, default=str)))
    for m in graph.models:
        doc["models"][m.name] = {
            "steps": [[s.name, s.hash, [n.split("/", 1)[1] for n in s.needs]] for s in m.steps],
            "plan_steps": plan_steps(m.steps),
            "data": _data(m.step("ingest").params),
            # the DataSources its evaluation windows score: their new data re-runs evaluate onwards
            "window_data": [_data(w["source"]) for w in m.step("evaluate").params.get("windows", [])
                            if isinstance(w.get("source"), dict)],
            # the DataSources its foreign keys look up: their new keys re-run validate onwards
            "reference_data": [_data(r["references"]["ingest"]) for r in m.step("validate").params.get("rules", [])
                               if r.get("rule") == "foreign_key"],
            "approvals": {f"{r['name']}/{e['name']}": e.get("approval", "none") for r in m.rollouts
                          for e in r["environments"]},
            "rollouts": content_hash(json.loads(json.dumps(m.rollouts))),
            "deployments": [f"{r['name']}/{e['name']}" for r in m.rollouts for e in r["environments"]],
            # the manifest a GitOps controller applies for each deployment (the kubernetes target's
            # layout): when it changes, for whatever reason (an image in charter.yaml), it redeploys
            "manifests": {f"{r['name']}/{e['name']}": f"{doc['output']}/kubernetes/{e['name']}/{m.name}.yaml"
                          for r in m.rollouts for e in r["environments"]},
            # per environment: what its deployment is made of (the shared serving config and its own)
            "environments": {f"{r['name']}/{e['name']}": content_hash(_canonical(json.loads(json.dumps(
                {"serving": r["serving"], "environment": e, **_analysis_pod(m, e)}))))
                for r in m.rollouts for e in r["environments"]},
        }
        doc["used_by"].setdefault(m.step("ingest").params["source"], []).append(m.name)
        for w in doc["models"][m.name]["window_data"] + doc["models"][m.name]["reference_data"]:
            if m.name not in doc["used_by"].setdefault(w["source"], []):
                doc["used_by"][w["source"]].append(m.name)
        for g in m.step("gate").params["gates"]:
            if m.name not in doc["used_by"].setdefault(g["metric_set"], []):
                doc["used_by"][g["metric_set"]].append(m.name)
    files = render_all(graph, doc["output"], lock_versions(snap.lock()))
    doc["generated"] = {path: content_hash(text) for path, text in files.items()}
    doc["generated_blobs"] = {path: blob_id(text.encode("utf-8")) for path, text in files.items()}
    doc["notes"] = []  # a revision's own notes; plans merge those of both revisions
    return doc


def _analysis_pod(model, env: dict) -> dict:
    """The pod settings of an environment's analysis Job (`compute.steps.monitor`), part of what it deploys.

    Only where there is an analysis and settings: other environments keep their hashes.
    """
    pod = (getattr(model, "compute", None) or {}).get("monitor")
    return {"analysis_pod": pod} if pod and env.get("strategy", {}).get("analysis") else {}


def _data(params: dict) -> dict:
    """Where a model's data is: a file in the repository (compared by blob id), or elsewhere."""
    path = params.get("path")
    local = isinstance(path, str) and not params.get("connection") and "://" not in path
    return {"source": params["source"], "path": path if local else None}


# Lists in step params whose order has no meaning: a reordered gate list re-runs nothing.
# Prepare steps, guardrails (first match wins) and canary steps keep their order.
UNORDERED = frozenset({"gates", "gate_list", "rules", "slices", "metrics", "business", "windows"})


def _canonical(value, key: str | None = None):
    if isinstance(value, dict):
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=canonical_json) if key in UNORDERED else items
    return value


def plan_steps(steps) -> list[list]:
    """[step, hash, needs] like the IR's, but hashing params with unordered lists sorted."""
    hashes: dict[str, str] = {}
    out = []
    for s in steps:
        needs = [n.split("/", 1)[1] for n in s.needs]
        params = _canonical(json.loads(json.dumps(s.params, default=str)))
        hashes[s.name] = content_hash({"step": s.name, "params": params, "needs": [hashes.get(n) for n in needs]})
        out.append([s.name, hashes[s.name], needs])
    return out


def waivers(snap) -> list[dict]:
    """Every waiver of the revision, active or not (only files that mention waivers are parsed)."""
    out = []
    for path in snap.spec_files():
        if b"waivers" not in snap.read(path):
            continue
        for res in snap.resources_of(path)[0]:
            for w in res.data.get("waivers") or []:
                if isinstance(w, dict):
                    out.append({"address": res.address, "file": res.file, "gate": w.get("gate"),
                                "rule": w.get("rule"), "approver": w.get("approver"), "reason": w.get("reason"),
                                "expires": str(w.get("expires", ""))})
    return sorted(out, key=lambda w: (w["address"], str(w["gate"] or w["rule"])))

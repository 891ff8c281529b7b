"""The record of one revision that a plan compares: small, JSON, cached per revision."""

from __future__ import annotations

import json

from compiler.ir.graph import content_hash


def summarize(snap) -> dict:
    from compiler.gitops.plan import ownership_index
    from compiler.gitops.render import lock_versions, render_all

    graph, problems = snap.compile()
    covers, by_name, default = ownership_index(snap)
    doc = {"ok": graph is not None, "problems": problems, "models": {}, "used_by": {}, "generated": {},
           "notes": [], "output": "generated", "store": ".charter/artifacts",
           "ownership": {"covers": covers, "by_name": by_name, "default": default},
           "waivers": waivers(snap)}
    if graph is None:
        return doc
    doc["output"] = graph.project.get("output", "generated")
    doc["store"] = graph.project.get("artifact_store", ".charter/artifacts")
    for m in graph.models:
        doc["models"][m.name] = {
            "steps": [[s.name, s.hash, [n.split("/", 1)[1] for n in s.needs]] for s in m.steps],
            "rollouts": content_hash(json.loads(json.dumps(m.rollouts))),
            "deployments": [f"{r['name']}/{e['name']}" for r in m.rollouts for e in r["environments"]],
        }
        doc["used_by"].setdefault(m.step("ingest").params["source"], []).append(m.name)
        for g in m.step("gate").params["gates"]:
            if m.name not in doc["used_by"].setdefault(g["metric_set"], []):
                doc["used_by"][g["metric_set"]].append(m.name)
    notes: list[str] = []
    files = render_all(graph, doc["output"], notes, lock_versions(snap.lock()))
    doc["generated"] = {path: content_hash(text) for path, text in files.items()}
    doc["notes"] = notes
    return doc


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

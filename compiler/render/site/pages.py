"""What each page shows, as plain values for the templates: tables, the lineage and the charts.

Numbers are formatted here, in Python (`%.4g`, no locale), so a page has the same bytes on
every machine.
"""

from __future__ import annotations

from compiler.render.site import charts
from compiler.render.site.health import health
from compiler.render.site.lineage import lineage

STAGES = ("data", "validation", "model", "evaluation", "deployment", "monitoring")


def num(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    return f"{value:.4g}"


def index_page(graph, inputs) -> dict:
    models = [{"name": m.name, "description": m.description, "task": m.task.replace("_", " "),
               "health": health(m.name, inputs)} for m in graph.models]
    return {"models": models}


def model_page(model, inputs) -> dict:
    entry = inputs.lock.get(model.name) or {}
    metrics = entry.get("metrics") or {}
    history = inputs.history.get(model.name) or []
    kept = inputs.monitors.get(model.name)
    report = (kept or {}).get("report") or {}
    found = [charts.scopes(entry), charts.history(history), charts.drift(report)]
    return {"model": model, "health": health(model.name, inputs), "lineage": lineage(model),
            "raci": _raci(model.owners), "gates": _gates(model, inputs.gates.get(model.name)),
            "scopes": _scopes(metrics), "windows": _windows(model, metrics), "history": _history(history),
            "drift": _drift(kept), "card": _card(model, entry),
            "charts": {c.id: c for c in found if c is not None}}


def _raci(owners: dict) -> list[dict]:
    rows = []
    for stage in STAGES:
        r = owners.get(stage)
        if r:
            rows.append({"stage": stage, "responsible": r.get("responsible") or [],
                         "accountable": [r["accountable"]] if r.get("accountable") else [],
                         "consulted": r.get("consulted") or [], "informed": r.get("informed") or []})
    return rows


def _threshold(g: dict) -> str:
    parts = ([f">= {g['min']:g}"] if g.get("min") is not None else []) + (
        [f"<= {g['max']:g}"] if g.get("max") is not None else []) + (
        [f"drop <= {g['max_drop']:g} vs {g['versus']}"] if g.get("max_drop") is not None else [])
    return " and ".join(parts) or "none"


def _gates(model, verdict: dict | None) -> list[dict]:
    judged = {g["id"]: g for g in (verdict or {}).get("gates", [])}
    params = model.step("gate").params
    rows = []
    for g in params["gates"]:
        j = judged.get(g["id"])
        rows.append({"id": g["id"], "kind": "metric", "metric": g["metric"], "window": g.get("window") or "test set",
                     "slice": g.get("slice") or "all rows", "threshold": _threshold(g),
                     **_judged(j)})
    for b in params["business"]:
        j = judged.get(f"business:{b['name']}")
        rows.append({"id": f"business:{b['name']}", "kind": "business", "metric": b["name"], "window": "test set",
                     "slice": "all rows", "threshold": _threshold(b), **_judged(j)})
    return rows


def _judged(j: dict | None) -> dict:
    if j is None:
        return {"value": "n/a", "state": "none", "result": "not promoted", "note": ""}
    return {"value": num(j["value"]), "state": "ok" if j["passed"] else "bad",
            "result": "pass" if j["passed"] else "fail", "note": j.get("note") or ""}


def _scopes(metrics: dict) -> dict:
    """A table of scopes (test set, slices, windows, windows' slices) by metric."""
    rows: list[dict] = [{"scope": "test set", "rows": num((metrics.get("rows") or {}).get("test")),
             "values": metrics.get("metrics") or {}}]
    for name, s in sorted((metrics.get("slices") or {}).items()):
        rows.append({"scope": f"slice {name}", "rows": num(s.get("rows")), "values": s.get("metrics") or {}})
    for name, w in sorted((metrics.get("windows") or {}).items()):
        rows.append({"scope": f"window {name}", "rows": num(w.get("rows")), "values": w.get("metrics") or {}})
        for sname, s in sorted((w.get("slices") or {}).items()):
            rows.append({"scope": f"window {name} · {sname}", "rows": num(s.get("rows")),
                         "values": s.get("metrics") or {}})
    names = sorted({k for r in rows for k in r["values"]})
    return {"metrics": names, "rows": [{**r, "cells": [num(r["values"].get(k)) for k in names]} for r in rows]
            if names else []}


def _windows(model, metrics: dict) -> list[dict]:
    recorded = metrics.get("windows") or {}
    rows = []
    for w in model.step("evaluate").params.get("windows") or []:
        source = w["source"]["source"] if isinstance(w.get("source"), dict) else None
        where = f"DataSource {source}" if source else "held-out test rows"
        if w.get("last"):
            end = "the newest row" if w.get("relative_to", "newest") == "newest" else "the end of the run's UTC day"
            where += f", {w['column']} in the {w['last']} before {end}"
        r = recorded.get(w["name"]) or {}
        rows.append({"name": w["name"], "definition": where, "start": r.get("start") or "-",
                     "end": r.get("end") or "-", "rows": num(r.get("rows")) if r else "not evaluated yet"})
    return rows


def _history(entries: list[dict]) -> dict:
    names = sorted({k for e in entries for k in (e.get("metrics") or {})})
    business = sorted({k for e in entries for k in (e.get("business") or {})})
    rows = [{"n": i, "version": e["version"], "commit": (e.get("commit") or "")[:12],
             "date": (e.get("date") or "")[:10], "subject": e.get("subject") or "",
             "cells": [num((e.get("metrics") or {}).get(k)) for k in names]
             + [num((e.get("business") or {}).get(k)) for k in business]}
            for i, e in enumerate(entries, 1)]
    return {"columns": names + [f"business: {b}" for b in business], "rows": rows}


def _drift(kept: dict | None) -> dict | None:
    if not kept:
        return None
    report = kept.get("report") or {}
    features = [{"feature": name, "statistic": d.get("statistic") or "", "value": num(d.get("value")),
                 "rows": num(d.get("rows")), "status": d.get("status") or "",
                 "state": "bad" if d.get("alert") else "ok" if d.get("status") == "ok" else "warn",
                 "note": d.get("note") or ""}
                for name, d in sorted((report.get("drift") or {}).items())]
    source = ("prediction log, " + str(report.get("environment"))) if report.get("source") == "predictions" \
        else "a data batch"
    return {"recorded": kept.get("recorded") or "", "version": report.get("version") or "", "source": source,
            "rows": num(report.get("rows")), "method": report.get("method") or "",
            "alert_above": num(report.get("alert_above")), "status": report.get("status") or "",
            "features": features}


def _card(model, entry: dict) -> dict:
    """The model card's facts (Google's Model Card sections) that the IR and the lock hold."""
    train, split = model.step("train").params, model.step("split").params
    ingest, evaluate = model.step("ingest").params, model.step("evaluate").params
    metrics = entry.get("metrics") or {}
    rows = metrics.get("rows") or {}
    caveats = []
    for scope, doc in [("test set", metrics), *((f"slice {k}", v) for k, v in sorted((metrics.get("slices") or {})
                                                                                   .items()))]:
        for metric, why in sorted((doc.get("not_computable") or {}).items()):
            caveats.append(f"{metric} on the {scope}: not computable ({why})")
    for name, s in sorted((metrics.get("slices") or {}).items()):
        if isinstance(s.get("rows"), int) and s["rows"] < 30:
            caveats.append(f"slice {name} has {s['rows']} test rows: its metrics are uncertain")
    split_text = f"{split['method']}, {split['test_size']:g} of the rows held out" + (
        f" by {split['time_column']}" if split.get("time_column") else "")
    params = ", ".join(f"{k}={v}" for k, v in sorted((train["estimator"].get("params") or {}).items()))
    return {"estimator": train["estimator"]["class"], "params": params or "defaults", "target": train["target"],
            "features": train["features"], "source": ingest["source"], "format": ingest["format"],
            "path": ingest.get("path") or "", "split": split_text, "train_rows": num(rows.get("train")),
            "test_rows": num(rows.get("test")), "guardrails": evaluate.get("guardrails") or [],
            "slices": evaluate.get("slices") or [], "caveats": caveats,
            "version": entry.get("version"), "monitoring": model.monitoring}

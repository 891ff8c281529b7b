"""The site's charts as Vega-Lite specs, with their data inline; the vendored vega-embed draws them.

Each chart counts its points (the marks drawn from data), so the browser test can check that
what was drawn is what was meant. Values that JSON cannot hold (NaN, infinity) are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # read by vega-embed as a version, never fetched


@dataclass(frozen=True, slots=True)
class Chart:
    id: str  # unique in its page, also the id of the <script> holding the spec
    title: str
    spec: dict
    points: int  # marks drawn from data: what the browser test counts


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _faceted(rows: list[dict], unit: dict, columns: int = 3) -> dict:
    return {"$schema": SCHEMA, "datasets": {"points": rows}, "data": {"name": "points"},
            "facet": {"field": "metric", "type": "nominal", "title": None},
            "columns": columns, "spec": unit, "resolve": {"scale": {"x": "independent", "y": "independent"}},
            "config": {"view": {"stroke": "#d0d7de"}, "font": "system-ui, sans-serif"}}


def scopes(entry: dict) -> Chart | None:
    """The promoted version's metrics on the test set, each slice, each window and each window's slices."""
    metrics = entry.get("metrics") or {}
    rows: list[dict] = []

    scopes_seen: list[str] = []

    def add(scope: str, values: dict | None, count: object) -> None:
        scopes_seen.append(scope)
        for metric, value in sorted((values or {}).items()):
            if (v := _number(value)) is not None:
                rows.append({"scope": scope, "order": len(scopes_seen), "metric": metric, "value": v, "rows": count})

    add("test set", metrics.get("metrics"), (metrics.get("rows") or {}).get("test"))
    for name, s in sorted((metrics.get("slices") or {}).items()):
        add(f"slice {name}", s.get("metrics"), s.get("rows"))
    for name, w in sorted((metrics.get("windows") or {}).items()):
        add(f"window {name}", w.get("metrics"), w.get("rows"))
        for sname, s in sorted((w.get("slices") or {}).items()):
            add(f"window {name} · {sname}", s.get("metrics"), s.get("rows"))
    if not rows:
        return None
    unit = {"width": 180, "height": {"step": 20},
            "mark": {"type": "point", "filled": True, "size": 70, "tooltip": True},
            "encoding": {"y": {"field": "scope", "type": "nominal", "sort": {"field": "order"}, "title": None},
                         "x": {"field": "value", "type": "quantitative", "scale": {"zero": False}, "title": None},
                         "color": {"field": "scope", "type": "nominal", "sort": {"field": "order"}, "legend": None},
                         "tooltip": [{"field": "scope"}, {"field": "metric"},
                                     {"field": "value", "type": "quantitative", "format": ".4f"},
                                     {"field": "rows", "title": "rows"}]}}
    return Chart("chart-scopes", "Metrics per slice and window", _faceted(rows, unit), len(rows))


def history(entries: list[dict]) -> Chart | None:
    """Each metric over the promoted versions, oldest first (one point per version and metric)."""
    rows: list[dict] = []
    for i, e in enumerate(entries, 1):
        label = f"{i}. {e['version']}"
        values = {**(e.get("metrics") or {}), **{f"business: {k}": v for k, v in (e.get("business") or {}).items()}}
        for metric, value in sorted(values.items()):
            if (v := _number(value)) is not None:
                rows.append({"promotion": label, "order": i, "metric": metric, "value": v, "version": e["version"],
                             "date": (e.get("date") or "not committed yet")[:10]})
    if not rows:
        return None
    unit = {"width": 200, "height": 120,
            "mark": {"type": "line", "point": {"filled": True, "size": 60}, "tooltip": True},
            "encoding": {"x": {"field": "promotion", "type": "ordinal", "sort": {"field": "order"}, "title": None,
                               "axis": {"labelAngle": -30, "labelLimit": 120}},
                         "y": {"field": "value", "type": "quantitative", "scale": {"zero": False}, "title": None,
                               "axis": {"format": ".4~g"}},
                         "tooltip": [{"field": "version"}, {"field": "date"}, {"field": "metric"},
                                     {"field": "value", "type": "quantitative", "format": ".4f"}]}}
    return Chart("chart-history", "Metrics over promoted versions", _faceted(rows, unit), len(rows))


def drift(report: dict) -> Chart | None:
    """Drift per feature of the latest monitor report, against the alert threshold."""
    rows = [{"feature": name, "value": v, "status": d.get("status"), "statistic": d.get("statistic"),
             "rows": d.get("rows")}
            for name, d in sorted((report.get("drift") or {}).items()) if (v := _number(d.get("value"))) is not None]
    if not rows:
        return None
    limit = _number(report.get("alert_above"))
    bars = {"mark": {"type": "bar", "tooltip": True},
            "encoding": {"y": {"field": "feature", "type": "nominal", "title": None},
                         "x": {"field": "value", "type": "quantitative", "title": "drift"},
                         "color": {"field": "status", "type": "nominal", "title": "status",
                                   "scale": {"domain": ["ok", "alert"], "range": ["#2da44e", "#cf222e"]}},
                         "tooltip": [{"field": "feature"}, {"field": "statistic"}, {"field": "status"},
                                     {"field": "value", "type": "quantitative", "format": ".4f"},
                                     {"field": "rows"}]}}
    layers: list[dict] = [bars]
    if limit is not None:
        layers.append({"data": {"values": [{"limit": limit}]}, "mark": {"type": "rule", "strokeDash": [4, 3]},
                       "encoding": {"x": {"field": "limit", "type": "quantitative"}}})
    spec = {"$schema": SCHEMA, "datasets": {"points": rows}, "data": {"name": "points"}, "width": 420,
            "height": {"step": 22}, "layer": layers,
            "config": {"view": {"stroke": "#d0d7de"}, "font": "system-ui, sans-serif"}}
    return Chart("chart-drift", "Drift per feature", spec, len(rows))

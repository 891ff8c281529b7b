"""Gate: compare the evaluated metrics with the MetricSet's thresholds and the baseline.

`max_drop` gates compare with the metrics recorded in `charter.lock` for the version in
production (`versus: production`) or the last run (`versus: previous`); with no baseline yet
such a gate passes and says so. A metric that could not be computed fails its gate. A gate
with a `window` reads that window's metrics (an empty window fails it: "no rows in the
window"); on live data (`charter monitor`), which has no windows, it is reported and passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date


@dataclass(frozen=True, slots=True)
class GateResult:
    id: str
    metric: str
    slice: str | None
    value: float | None
    threshold: str
    passed: bool
    margin: float | None  # how far inside (+) or outside (-) the threshold
    note: str = ""


def _scope(metrics: dict, window: str | None) -> dict:
    """The part of the metrics document a gate reads: the test set's, or one window's."""
    return metrics if window is None else (metrics.get("windows") or {}).get(window) or {}


def _value(metrics: dict, metric: str, slice_name: str | None, window: str | None = None) -> float | None:
    scope = _scope(metrics, window)
    if slice_name is None:
        return (scope.get("metrics") or {}).get(metric)
    return (scope.get("slices") or {}).get(slice_name, {}).get("metrics", {}).get(metric)


def _why(metrics: dict, metric: str, slice_name: str | None, window: str | None = None) -> str:
    """Why a metric is missing, in the words evaluate recorded (metrics from older runs have none)."""
    scope = _scope(metrics, window)
    where = scope if slice_name is None else (scope.get("slices") or {}).get(slice_name, {})
    reason = (where.get("not_computable") or {}).get(metric)
    if reason is None and window is not None and not scope:
        reason = f"window `{window}` was not evaluated"
    return f"not computable: {reason}" if reason else "not computable"


def check_gates(params: dict, metrics: dict, baselines: dict[str, dict | None],
                today: str | None = None) -> list[GateResult]:
    results = []
    for g in params["gates"]:
        window = g.get("window")
        if window is not None and "windows" not in metrics:
            # metrics of live data (`charter monitor`): a window is a set of the evaluation, not of a batch
            results.append(GateResult(g["id"], g["metric"], g["slice"], None, "-", True, None,
                                      f"window `{window}` is judged by `charter run` only"))
            continue
        value = _value(metrics, g["metric"], g["slice"], window)
        if g.get("max_drop") is not None:
            base = baselines.get(g["versus"])
            base_value = _value(base, g["metric"], g["slice"], window) if base else None
            if base_value is None:
                results.append(GateResult(g["id"], g["metric"], g["slice"], value, f"drop <= {g['max_drop']}", True,
                                          None, f"no {g['versus']} baseline yet"))
                continue
            if value is None:
                results.append(GateResult(g["id"], g["metric"], g["slice"], None, f"drop <= {g['max_drop']}", False,
                                          None, _why(metrics, g["metric"], g["slice"], window)))
                continue
            drop = (base_value - value) if g["higher_is_better"] else (value - base_value)
            results.append(GateResult(g["id"], g["metric"], g["slice"], value,
                                      f"drop <= {g['max_drop']} vs {base_value:.4g}", drop <= g["max_drop"],
                                      g["max_drop"] - drop))
            continue
        result = _bounds(g["id"], g["metric"], g["slice"], value, g.get("min"), g.get("max"))
        if value is None:
            result = replace(result, note=_why(metrics, g["metric"], g["slice"], window))
        results.append(result)
    for b in params["business"]:
        results.append(_bounds(f"business:{b['name']}", b["name"], None, metrics["business"].get(b["name"]),
                               b.get("min"), b.get("max")))
    return _waive(results, params.get("waivers", []), today or date.today().isoformat())


def _waive(results: list[GateResult], waivers: list[dict], today: str) -> list[GateResult]:
    """A failing gate with an active waiver passes, and says by whom, until when and why."""
    active = {w["gate"]: w for w in waivers if w["expires"] >= today}
    out = []
    for r in results:
        w = active.get(r.id)
        if not r.passed and w is not None:
            r = replace(r, passed=True, note=f"waived by {w['approver']} until {w['expires']}: {w['reason']}")
        out.append(r)
    return out


def _bounds(gid: str, metric: str, slice_name, value, low, high) -> GateResult:
    parts = ([f">= {low:g}"] if low is not None else []) + ([f"<= {high:g}"] if high is not None else [])
    threshold = " and ".join(parts) or "none"
    if value is None:
        return GateResult(gid, metric, slice_name, None, threshold, low is None and high is None, None,
                          "not computable")
    margins = ([value - low] if low is not None else []) + ([high - value] if high is not None else [])
    margin = min(margins) if margins else None
    return GateResult(gid, metric, slice_name, value, threshold, margin is None or margin >= 0, margin)


def verdict(results: list[GateResult]) -> dict:
    return {"passed": all(r.passed for r in results), "gates": [asdict(r) for r in results]}


def table(results: list[GateResult]) -> str:
    """A plain table of gate results, failures first, for the terminal and the run log."""
    rows = [("gate", "value", "threshold", "margin", "result")]
    for r in sorted(results, key=lambda r: (r.passed, r.id)):
        value = "n/a" if r.value is None else f"{r.value:.4g}"
        margin = "" if r.margin is None else f"{r.margin:+.4g}"
        result = ("ok" if r.passed else "FAILED") + (f" ({r.note})" if r.note else "")
        rows.append((r.id, value, r.threshold, margin, result))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)

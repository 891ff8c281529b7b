"""A model's health in a few words: its gates, its last run, its drift and its maturity level.

Read from the site's inputs only, so the index and the model pages say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    state: str  # "ok" | "bad" | "warn" | "none": the CSS class of its badge
    text: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    version: str | None
    gates: Signal
    run: Signal
    drift: Signal
    maturity: Signal

    @property
    def overall(self) -> Signal:
        signals = (self.gates, self.run, self.drift)
        if self.version is None:
            return Signal("none", "not promoted")
        if any(s.state == "bad" for s in signals):
            return Signal("bad", "needs attention")
        if any(s.state == "warn" for s in signals):
            return Signal("warn", "check")
        return Signal("ok", "healthy")


def health(name: str, inputs) -> Health:
    entry = inputs.lock.get(name) or {}
    return Health(entry.get("version"), _gates(inputs.gates.get(name)), _run(inputs.runs.get(name)),
                  _drift(inputs.monitors.get(name), entry.get("version")), _maturity(inputs.maturity.get(name)))


def _gates(verdict: dict | None) -> Signal:
    if not verdict:
        return Signal("none", "no promoted metrics")
    total = len(verdict["gates"])
    passed = sum(g["passed"] for g in verdict["gates"])
    if passed == total:
        return Signal("ok", f"{passed} of {total} pass", "the promoted version's metrics against today's gates")
    return Signal("bad", f"{total - passed} of {total} fail", "the promoted version's metrics against today's gates")


def _run(record: dict | None) -> Signal:
    if not record:
        return Signal("none", "no run in the store")
    when = str(record.get("finished", ""))[:16].replace("T", " ") + " UTC"
    if record.get("outcome") == "passed":
        version = record.get("version")
        return Signal("ok", f"passed {when}", f"version {version}" if version else "")
    return Signal("bad", f"failed {when}", str(record.get("failed") or ""))


def _drift(kept: dict | None, promoted: str | None) -> Signal:
    if not kept:
        return Signal("none", "no monitor report")
    report = kept.get("report") or {}
    when = str(kept.get("recorded", ""))[:10]
    if promoted and report.get("version") and report["version"] != promoted:  # says nothing of what serves now
        return Signal("warn", "report of another version", f"report of {when} on version {report['version']}")
    alerts = sorted(f for f, d in (report.get("drift") or {}).items() if d.get("alert"))
    status = report.get("status")
    if status == "alert":
        what = f"{len(alerts)} feature(s) drift" if alerts else "gates fail on live data"
        return Signal("bad", f"alert: {what}", f"report of {when}: " + ", ".join(alerts))
    if status == "insufficient":
        return Signal("warn", "too few rows", f"report of {when}")
    return Signal("ok", "no drift", f"report of {when}")


def _maturity(doc: dict | None) -> Signal:
    if not doc:
        return Signal("none", "unknown")
    state = "ok" if doc["next"] is None else "warn" if doc["level"] else "bad"
    return Signal(state, f"level {doc['level']}", doc["level_name"])

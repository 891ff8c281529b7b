"""Risk of a change, by rules with stable ids: breaking, risky or safe.

Breaking changes can hurt something already running (a model loses a column, a gate lets a
worse model through, a rollout loses a safety step, nobody owns a spec any more); they need
the approval of every Accountable they affect. Risky changes retrain or redeploy; safe ones
only tighten or describe. A change no rule recognises is risky, never silently safe. The
table below is the documentation (`docs/plan.md` lists it) and its ids never change meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from compiler.gitops.semdiff import MISSING, FieldChange, ResourceChange

BREAKING, RISKY, SAFE = "breaking", "risky", "safe"
ORDER = {SAFE: 0, RISKY: 1, BREAKING: 2}

RULES: dict[str, tuple[str, str, str]] = {
    # id: (risk, name, what it means)
    "P101": (BREAKING, "column-removed", "a column of a DataSource that a Model reads was removed"),
    "P102": (BREAKING, "column-retyped", "a column of a DataSource that a Model reads changed type"),
    "P103": (BREAKING, "gate-loosened",
             "a gate's `min` went down, `max` or `max_drop` went up, or a bound was dropped"),
    "P104": (BREAKING, "gate-removed", "a promotion gate was removed"),
    "P105": (BREAKING, "canary-step-removed", "a canary strategy lost a traffic step, or stopped being a canary"),
    "P106": (BREAKING, "owner-removed", "an Accountable or Responsible owner, or a covered spec, was removed"),
    "P107": (BREAKING, "monitoring-disabled", "monitoring was removed or turned off"),
    "P108": (BREAKING, "resource-removed", "a Model, DataSource, MetricSet, RolloutPolicy or Ownership was deleted"),
    "P109": (BREAKING, "approval-relaxed", "an environment's deployment approval was removed or lowered"),
    "P110": (BREAKING, "generated-file-drift",
             "a committed generated file is not what the head's specs and lock render (edited by hand, or stale)"),
    "P201": (RISKY, "model-changed", "the estimator, its parameters, features, split or preprocessing changed"),
    "P202": (RISKY, "data-changed", "where the data comes from, its schema or its cleaning changed"),
    "P203": (RISKY, "check-relaxed", "a validation rule was removed or relaxed"),
    "P204": (RISKY, "rollout-changed", "serving, environments or a rollout strategy changed"),
    "P205": (RISKY, "waiver-changed", "a waiver was added, edited or removed"),
    "P206": (RISKY, "resource-renamed", "a spec was renamed (other specs refer to it by name)"),
    "P207": (RISKY, "data-content-changed", "the committed data file of a DataSource changed"),
    "P208": (RISKY, "model-version-changed", "charter.lock serves another model version (a promotion or a rollback)"),
    "P299": (RISKY, "other-change", "a change no other rule classifies"),
    "P301": (SAFE, "gate-tightened", "a gate's `min` went up or `max`/`max_drop` went down, or a gate was added"),
    "P302": (SAFE, "text-edited", "a description or label changed"),
    "P303": (SAFE, "added", "a spec, column, rule, owner or metric was added"),
    "P304": (SAFE, "moved", "a spec moved to another file, unchanged"),
    "P305": (SAFE, "reference-renamed", "a reference now names the new name of a spec renamed in the same change"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    path: str
    message: str
    waived_by: str | None = None

    @property
    def risk(self) -> str:
        return RISKY if self.waived_by and RULES[self.rule][0] == BREAKING else RULES[self.rule][0]

    def to_dict(self) -> dict:
        d = {"rule": self.rule, "name": RULES[self.rule][1], "risk": self.risk, "path": self.path,
             "message": self.message}
        if self.waived_by:
            d["waived_by"] = self.waived_by
        return d


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _gate_rule(fc: FieldChange) -> str:
    last = fc.keys[-1] if fc.keys else None
    if fc.op == "remove" and isinstance(last, tuple):
        return "P104"
    if fc.op == "add" and isinstance(last, tuple):
        return "P301"
    bound = last if isinstance(last, str) else None
    b, a = _num(fc.before), _num(fc.after)
    if bound == "min":
        if a is None:
            return "P103"
        if b is None:
            return "P301"
        return "P103" if a < b else "P301"
    if bound in ("max", "max_drop"):
        if a is None:
            return "P103"
        if b is None:
            return "P301"
        return "P103" if a > b else "P301"
    return "P299"


InUse = Callable[[str], bool]


def _in_use(used: InUse | Collection[str]) -> InUse:
    return used if callable(used) else used.__contains__


def _renamed_ref(fc: FieldChange, renames: dict[str, str]) -> bool:
    """Is this change only a reference following a rename (`old` -> `new`, alone or in a list of names)?"""
    if fc.op != "change" or not renames:
        return False
    b, a = fc.before, fc.after
    if isinstance(b, str) and isinstance(a, str):
        return renames.get(b) == a
    if isinstance(b, list) and isinstance(a, list) and all(isinstance(x, str) for x in b + a):
        return sorted(renames.get(x) or x for x in b) == sorted(a) and any(x in renames for x in b)
    return False


def classify(change: ResourceChange, used_sources: InUse | Collection[str],
             renames: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(rule id, path) for every field change of one resource.

    `used_sources` says whether a DataSource is read by a Model (a set, or a function asked only
    when a column changes); `renames` maps old -> new names of the specs renamed by the same
    change, so references that follow them are no finding of their own.
    """
    in_use = _in_use(used_sources)
    renames = renames or {}
    if change.action == "delete":
        return [("P108" if change.kind != "ValidationSuite" else "P203", "")]
    if change.action == "create":
        return [("P303", "")]
    if change.action == "move":
        return [("P304", "")]
    out: list[tuple[str, str]] = []
    if change.action == "rename":
        out.append(("P206", "metadata.name"))
    for fc in change.changes:
        if change.action == "rename" and fc.keys == ("metadata", "name"):
            continue  # the rename's own finding, P206
        out.append(("P305" if _renamed_ref(fc, renames) else _rule(change, fc, in_use), fc.path))
    return out


def _rule(change: ResourceChange, fc: FieldChange, in_use: InUse) -> str:
    keys = [k if isinstance(k, str) else None for k in fc.keys]
    top = keys[0] if keys else None
    if top == "waivers":
        return "P205"
    if top == "metadata":
        return "P302" if len(keys) > 1 and keys[1] in ("description", "labels") else "P299"
    if top != "spec":
        return "P299"
    second = keys[1] if len(keys) > 1 else None
    if "description" in keys:
        return "P302"
    kind = change.kind
    if kind == "DataSource":
        if second in ("schema", "columns"):
            if fc.op == "remove" and len(fc.keys) == 3:
                return "P101" if in_use(change.name) else "P202"
            if fc.op == "add" and len(fc.keys) == 3:
                return "P303"
            if keys[-1] == "type":
                return "P102" if in_use(change.name) else "P202"
        return "P202"
    if kind == "MetricSet":
        if second == "gates":
            return _gate_rule(fc)
        if second == "monitoring":
            if fc.op == "remove" and len(fc.keys) == 2:
                return "P107"
            if keys[-1] == "enabled" and fc.after is False:
                return "P107"
            if fc.op == "add" and len(fc.keys) == 2:
                return "P303"
            return "P204"
        if second == "metrics" and fc.op in ("add", "change"):
            return "P303"
        if second == "business":
            return _gate_rule(fc) if keys[-1] in ("min", "max") or fc.op != "change" else "P299"
        return "P299"
    if kind == "Ownership":
        if second in ("raci", "covers"):
            removed = fc.op == "remove" or (fc.op == "change" and fc.before is not MISSING and (
                not isinstance(fc.before, list) or not set(fc.before) <= set(fc.after or [])))
            return "P106" if removed else "P303"
        return "P299"
    if kind == "RolloutPolicy":
        if "steps" in keys:
            if fc.op == "remove" or (keys[-1] == "steps" and isinstance(fc.before, list)
                                      and len(fc.after or []) < len(fc.before)):
                return "P105"
        if keys[-1] == "type" and fc.before == "canary":
            return "P105"
        if keys[-1] == "approval" or (len(keys) >= 2 and keys[-2] == "approval"):
            order = {"none": 0, "responsible": 1, "accountable": 2}
            b = order.get(fc.before, 2) if not isinstance(fc.before, list) else 2
            a = order.get(fc.after, 2) if fc.after is not MISSING and not isinstance(fc.after, list) else (
                0 if fc.after is MISSING else 2)
            return "P109" if a < b else "P204"
        if second == "environments" and fc.op == "remove" and len(fc.keys) == 3:
            return "P204"
        return "P204"
    if kind == "ValidationSuite":
        if second == "rules":
            if fc.op == "add" and len(fc.keys) == 3:
                return "P303"
            return "P203"
        return "P202"
    if kind == "Model":
        if second in ("slices", "guardrails") and fc.op == "add":
            return "P303"
        return "P201"
    return "P299"


def findings(change: ResourceChange, used_sources: InUse | Collection[str], waivers: dict[str, str],
             renames: dict[str, str] | None = None) -> list[Finding]:
    """The change's findings; `waivers` maps an active waiver's rule id to its approver."""
    out = []
    for rule, path in classify(change, used_sources, renames):
        where = f" at `{path}`" if path else ""
        out.append(Finding(rule, path, f"{RULES[rule][2]}{where}", waivers.get(rule)))
    return out


def worst(found: list[Finding]) -> str:
    return max((f.risk for f in found), key=ORDER.__getitem__, default=SAFE)


def renames_of(changes: Iterable[ResourceChange]) -> dict[str, str]:
    """Old name -> new name of every rename among `changes` (references to them may follow)."""
    return {c.previous_name: c.name for c in changes if c.action == "rename" and c.previous_name}


def assess(changes: list[ResourceChange], used_sources: InUse | Collection[str],
           waivers: Callable[[ResourceChange], dict[str, str]] = lambda ch: {},
           renames: dict[str, str] | None = None) -> list[list[Finding]]:
    """The findings of each change of one diff: the one classifier of plan, diff, history and changelog.

    `renames` defaults to the renames among `changes`; pass those of the whole diff when
    `changes` is a part of it.
    """
    renames = renames_of(changes) if renames is None else renames
    return [findings(ch, used_sources, waivers(ch), renames) for ch in changes]


def readers(resources) -> dict[str, set[str]]:
    """Spec name -> the Models that read it, from raw resources (`kind/name` -> Resource).

    A Model reads its data source and validation suite; a MetricSet and a RolloutPolicy belong
    to their model. Raw specs, so an invalid revision still says who reads what.
    """
    out: dict[str, set[str]] = {}
    for res in resources.values():
        spec = found if isinstance(found := res.data.get("spec"), dict) else {}
        if res.kind == "Model":
            data = found if isinstance(found := spec.get("data"), dict) else {}
            for key in ("source", "validation"):
                if isinstance(data.get(key), str):
                    out.setdefault(data[key], set()).add(res.name)
        elif res.kind in ("MetricSet", "RolloutPolicy") and isinstance(spec.get("model"), str):
            out.setdefault(res.name, set()).add(spec["model"])
    return out

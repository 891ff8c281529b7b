"""Risk of a change, by rules with stable ids: breaking, risky or safe.

Breaking changes can hurt something already running (a model loses a column, a gate lets a
worse model through, a rollout loses a safety step, nobody owns a spec any more); they need
the approval of every Accountable they affect. Risky changes retrain or redeploy; safe ones
only tighten or describe. A change no rule recognises is risky, never silently safe. The
rules themselves are declared in `compiler/gitops/rules.py`; this module applies them to the
resource changes of a diff, for plan, diff, history and changelog alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from compiler.gitops.rules import BREAKING, BY_ID, RISKY, SAFE, Change, match
from compiler.gitops.rules import RULES as DECLARED
from compiler.gitops.semdiff import FieldChange, ResourceChange

__all__ = ["BREAKING", "BY_ID", "RISKY", "RULES", "SAFE", "Finding", "assess", "classify", "findings",
           "input_rule", "stage_of", "worst"]

ORDER = {SAFE: 0, RISKY: 1, BREAKING: 2}

# id -> (risk, name, meaning): the declarations of `compiler/gitops/rules.py`, for readers by id
RULES: dict[str, tuple[str, str, str]] = {r.id: (r.risk, r.name, r.summary) for r in DECLARED}


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

    if change.action in ("delete", "create", "move"):
        return [(match(Change(change.kind, change.action, change.action, ())).id, "")]
    out: list[tuple[str, str]] = []
    if change.action == "rename":
        out.append((match(Change(change.kind, "rename", "change", ("metadata", "name"))).id, "metadata.name"))
    for fc in change.changes:
        if change.action == "rename" and fc.keys == ("metadata", "name"):
            continue  # the rename's own finding, above
        keys = tuple(k if isinstance(k, str) else None for k in fc.keys)
        c = Change(change.kind, change.action, fc.op, keys, fc.before, fc.after, lambda: in_use(change.name),
                   _renamed_ref(fc, renames))
        out.append((match(c).id, fc.path))
    return out


def input_rule(kind: str, key: str, before: object, after: object) -> str:
    """The rule of a change to a plan input that is not spec text (a data file, a lock entry, a generated file)."""
    return match(Change(kind, "update", "change", (key,), before, after)).id


def stage_of(rule: str) -> str | None:
    """The RACI stage whose Accountable approves a finding of `rule` (None: the spec kind's own)."""
    return BY_ID[rule].stage


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

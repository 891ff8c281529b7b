"""The plan's risk rules, each one declared unit: id, name, risk, what it matches, who approves.

A rule is a predicate over one `Change` (a field change of one resource, or a resource's
create/delete/move, or a change of an input that is not spec text) with the RACI stage
whose Accountable approves it (None: the stage of the changed spec's kind). Each rule also
carries a change it must match and a near miss it must not: `tests/gitops/test_rules.py`
runs both for every rule, and the table in `docs/gitops.md` is generated from these
declarations (`python -m compiler.docgen`). Ids never change meaning.

Rules are tried in the order of `RULES`; the `fallback` ones (a kind's catch-all, then
`P299`) only after every precise one, so a change no rule recognises is risky, never safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compiler.gitops.semdiff import MISSING, FieldChange, ResourceChange

BREAKING, RISKY, SAFE = "breaking", "risky", "safe"

# Pseudo-kinds for the plan inputs that are not spec text (see `compiler/gitops/inputs.py`).
DATA_FILE, LOCK_ENTRY, GENERATED_FILE = "DataFile", "LockEntry", "GeneratedFile"


@dataclass(frozen=True, slots=True)
class Change:
    """What a rule looks at: one change of one resource, in the words rules need."""

    kind: str
    action: str  # update, create, delete, move or rename (for a field change: update or rename)
    op: str  # add, remove or change; the action itself for a create, delete or move
    keys: tuple  # string keys as they are; list identities become None
    before: Any = MISSING
    after: Any = MISSING
    in_use: Callable[[], bool] = lambda: True  # is the DataSource read by a Model? asked only when needed
    follows_rename: bool = False  # a reference that names the new name of a spec renamed alongside

    @property
    def top(self) -> str | None:
        return self.keys[0] if self.keys else None

    @property
    def second(self) -> str | None:
        return self.keys[1] if len(self.keys) > 1 else None

    @property
    def last(self) -> str | None:
        return self.keys[-1] if self.keys else None


@dataclass(frozen=True, slots=True)
class Example:
    """A fixture: one field change (or resource action) of one kind, and whether a Model reads it."""

    kind: str
    keys: tuple = ()
    before: Any = MISSING
    after: Any = MISSING
    action: str = "update"
    read_by_model: bool = True

    def resource_change(self) -> ResourceChange:
        op = "remove" if self.after is MISSING else "add" if self.before is MISSING else "change"
        fields = [FieldChange(".".join(map(str, self.keys)), op, self.before, self.after, self.keys)]
        return ResourceChange(f"{self.kind}/x", self.kind, "x", self.action, "f.yaml",
                              changes=fields if self.action == "update" else [])


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    risk: str
    summary: str  # what a finding of this rule means (its message)
    matches: str  # which changes, in words (the docs table)
    kinds: tuple[str, ...]  # the resource kinds it applies to; () for any
    when: Callable[[Change], bool]
    passing: Example
    failing: Example
    stage: str | None = None  # the RACI stage whose Accountable approves; None: the kind's own
    fallback: bool = False  # tried after every precise rule

    def applies(self, c: Change) -> bool:
        return (not self.kinds or c.kind in self.kinds) and self.when(c)


def _spec(c: Change, *second: str) -> bool:
    """A field under `spec` (under `spec.<second>` when given), not a description, not a renamed reference."""
    return (c.action in ("update", "rename") and c.top == "spec" and "description" not in c.keys
            and not c.follows_rename and (not second or c.second in second))


def _num(v: Any) -> float | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def gate_verdict(c: Change) -> str | None:
    """removed, added, loosened, tightened or None, for a change inside a gate list."""
    if c.op in ("remove", "add") and len(c.keys) == 3 and c.last is None:  # a whole gate
        return "removed" if c.op == "remove" else "added"
    b, a = _num(c.before), _num(c.after)
    if c.last == "min":
        return "loosened" if a is None or (b is not None and a < b) else "tightened"
    if c.last in ("max", "max_drop"):
        return "loosened" if a is None or (b is not None and a > b) else "tightened"
    return None


def _gate(c: Change, verdict: str) -> bool:
    if not c.kind == "MetricSet":
        return False
    if _spec(c, "gates"):
        return gate_verdict(c) == verdict
    # a business metric's bounds are gates too; other edits of one are no gate change
    return _spec(c, "business") and (c.last in ("min", "max") or c.op != "change") and gate_verdict(c) == verdict


def _column(c: Change, op: str) -> bool:
    return _spec(c, "schema", "columns") and c.op == op and len(c.keys) == 3


def _retyped(c: Change) -> bool:
    return _spec(c, "schema", "columns") and c.last == "type" and len(c.keys) > 3


def _monitoring(c: Change) -> bool:
    return c.kind == "MetricSet" and _spec(c, "monitoring")


def _monitoring_off(c: Change) -> bool:
    return _monitoring(c) and ((c.op == "remove" and len(c.keys) == 2) or (c.last == "enabled" and c.after is False))


def _monitoring_on(c: Change) -> bool:
    return _monitoring(c) and c.op == "add" and len(c.keys) == 2


def _names(v: Any) -> set:
    return {x for x in v if not isinstance(x, (dict, list))} if isinstance(v, list) else set()


def _metric_removed(c: Change) -> bool:
    if not (c.kind == "MetricSet" and _spec(c, "metrics")):
        return False
    return c.op == "remove" or (c.op == "change" and not _names(c.before) <= _names(c.after))


def _owner_removed(c: Change) -> bool:
    if not _spec(c, "raci", "covers"):
        return False
    if c.op == "remove":
        return True
    if c.op != "change" or c.before is MISSING:
        return False
    return not isinstance(c.before, list) or not set(c.before) <= set(c.after or [])


_APPROVAL = {"none": 0, "responsible": 1, "accountable": 2}


def _approval_level(v: Any) -> int:
    if v is MISSING:
        return 0
    return _APPROVAL.get(v, 2) if not isinstance(v, list) else 2  # a list of handles, or unknown: the strictest


def _approval(c: Change) -> bool:
    return _spec(c) and (c.last == "approval" or (len(c.keys) >= 2 and c.keys[-2] == "approval"))


def _steps_removed(c: Change) -> bool:
    if not (_spec(c) and "steps" in c.keys):
        return False
    return c.op == "remove" or (c.last == "steps" and isinstance(c.before, list)
                                and len(c.after if isinstance(c.after, list) else []) < len(c.before))


def _added(c: Change) -> bool:
    """The safe additions: a spec, a column, a validation rule, a slice or guardrail, an owner, a metric."""
    if c.action == "create":
        return True
    if c.kind == "DataSource":
        return _column(c, "add")
    if c.kind == "ValidationSuite":
        return _spec(c, "rules") and c.op == "add" and len(c.keys) == 3
    if c.kind == "Model":
        return _spec(c, "slices", "guardrails") and c.op == "add"
    if c.kind == "MetricSet":
        return _spec(c, "metrics") and c.op in ("add", "change") and not _metric_removed(c)
    if c.kind == "Ownership":
        return _spec(c, "raci", "covers") and not _owner_removed(c)
    return False


def _text(c: Change) -> bool:
    if c.action not in ("update", "rename") or c.follows_rename:
        return False
    if c.top == "metadata":
        return c.second in ("description", "labels")
    return c.top == "spec" and "description" in c.keys


def _ex(kind: str, *keys, before: Any = MISSING, after: Any = MISSING, **kw) -> Example:
    return Example(kind, tuple(keys), before, after, **kw)


_GATE = ("spec", "gates", None)
_COL = ("spec", "schema", None)

RULES: tuple[Rule, ...] = (
    Rule("P101", "column-removed", BREAKING, "a column of a DataSource that a Model reads was removed",
         "a column of `spec.schema` removed, when a Model reads the DataSource", ("DataSource",),
         lambda c: _column(c, "remove") and c.in_use(),
         _ex("DataSource", *_COL, before={"name": "a"}),
         _ex("DataSource", *_COL, before={"name": "a"}, read_by_model=False)),
    Rule("P102", "column-retyped", BREAKING, "a column of a DataSource that a Model reads changed type",
         "a column's `type` changed, when a Model reads the DataSource", ("DataSource",),
         lambda c: _retyped(c) and c.in_use(),
         _ex("DataSource", *_COL, "type", before="integer", after="float"),
         _ex("DataSource", *_COL, "type", before="integer", after="float", read_by_model=False)),
    Rule("P103", "gate-loosened", BREAKING,
         "a gate's `min` went down, `max` or `max_drop` went up, or a bound was dropped",
         "a `min` lowered, a `max`/`max_drop` raised or dropped, in `spec.gates` or `spec.business`",
         ("MetricSet",), lambda c: _gate(c, "loosened"),
         _ex("MetricSet", *_GATE, "min", before=0.7, after=0.65),
         _ex("MetricSet", *_GATE, "min", before=0.7, after=0.75)),
    Rule("P104", "gate-removed", BREAKING, "a promotion gate was removed",
         "an item of `spec.gates` (or `spec.business`) removed", ("MetricSet",),
         lambda c: _gate(c, "removed"),
         _ex("MetricSet", *_GATE, before={"metric": "f1", "min": 0.5}),
         _ex("MetricSet", *_GATE, after={"metric": "f1", "min": 0.5})),
    Rule("P105", "canary-step-removed", BREAKING,
         "a canary strategy lost a traffic step, or stopped being a canary",
         "fewer canary `steps`, or a strategy `type` that was `canary` changed", ("RolloutPolicy",),
         lambda c: _steps_removed(c) or (_spec(c) and c.last == "type" and c.before == "canary"),
         _ex("RolloutPolicy", "spec", "environments", None, "strategy", "steps",
             before=[{"traffic": 10}, {"traffic": 100}], after=[{"traffic": 100}]),
         _ex("RolloutPolicy", "spec", "environments", None, "strategy", "steps",
             before=[{"traffic": 100}], after=[{"traffic": 10}, {"traffic": 100}])),
    Rule("P106", "owner-removed", BREAKING,
         "an Accountable or Responsible owner, or a covered spec, was removed",
         "a RACI stage, role or handle, or a `covers` name, removed", ("Ownership",), _owner_removed,
         _ex("Ownership", "spec", "covers", before=["a", "b"], after=["a"]),
         _ex("Ownership", "spec", "covers", before=["a"], after=["a", "b"])),
    Rule("P107", "monitoring-disabled", BREAKING, "monitoring was removed or turned off",
         "`spec.monitoring` removed, or its `enabled` set to false", ("MetricSet",), _monitoring_off,
         _ex("MetricSet", "spec", "monitoring", "enabled", before=True, after=False),
         _ex("MetricSet", "spec", "monitoring", "enabled", before=False, after=True), stage="monitoring"),
    Rule("P108", "resource-removed", BREAKING,
         "a Model, DataSource, MetricSet, RolloutPolicy or Ownership was deleted",
         "a resource deleted (a ValidationSuite: P203)", (),
         lambda c: c.action == "delete" and c.kind != "ValidationSuite",
         _ex("Model", action="delete"), _ex("ValidationSuite", action="delete")),
    Rule("P109", "approval-relaxed", BREAKING, "an environment's deployment approval was removed or lowered",
         "an environment's `approval` removed or lowered (accountable > responsible > none)", ("RolloutPolicy",),
         lambda c: _approval(c) and _approval_level(c.after) < _approval_level(c.before),
         _ex("RolloutPolicy", "spec", "environments", None, "approval", before="accountable", after="none"),
         _ex("RolloutPolicy", "spec", "environments", None, "approval", before="none", after="accountable")),
    Rule("P110", "generated-file-drift", BREAKING,
         "a committed generated file is not what the head's specs and lock render (edited by hand, or stale)",
         "a committed generated file whose blob differs from what the head renders, or that is missing",
         (GENERATED_FILE,), lambda c: c.keys == ("blob",) and c.before != c.after,
         _ex(GENERATED_FILE, "blob", before="rendered", after="edited"),
         _ex(GENERATED_FILE, "blob", before="rendered", after="rendered")),
    Rule("P203", "check-relaxed", RISKY, "a validation rule was removed or relaxed",
         "a ValidationSuite deleted, or any edit of its `spec.rules` but an added rule", ("ValidationSuite",),
         lambda c: c.action == "delete" or (_spec(c, "rules") and not _added(c)),
         _ex("ValidationSuite", "spec", "rules", None, before={"rule": "not_null"}),
         _ex("ValidationSuite", "spec", "rules", None, after={"rule": "not_null"})),
    Rule("P205", "waiver-changed", RISKY, "a waiver was added, edited or removed",
         "anything under a resource's top-level `waivers`", (),
         lambda c: c.action in ("update", "rename") and c.top == "waivers" and not c.follows_rename,
         _ex("MetricSet", "waivers", None, after={"gate": "g"}), _ex("MetricSet", "spec", "waivers", after=[])),
    Rule("P206", "resource-renamed", RISKY, "a spec was renamed (other specs refer to it by name)",
         "a resource whose `metadata.name` changed and nothing else", (),
         lambda c: c.action == "rename" and c.keys == ("metadata", "name"),
         _ex("DataSource", "metadata", "name", before="a", after="b", action="rename"),
         _ex("DataSource", "metadata", "name", before="a", after="b", action="move")),
    Rule("P207", "data-content-changed", RISKY, "the committed data file of a DataSource changed",
         "the git blob of a DataSource's committed file differs", (DATA_FILE,),
         lambda c: c.keys == ("blob",) and c.before != c.after,
         # the near miss is the same blob: a data file entry that did not change is no change
         _ex(DATA_FILE, "blob", before="68a9", after="5c59"), _ex(DATA_FILE, "blob", before="68a9", after="68a9"),
         stage="data"),
    Rule("P208", "model-version-changed", RISKY,
         "charter.lock serves another model version (a promotion or a rollback)",
         "a model's `version` in `charter.lock` differs", (LOCK_ENTRY,),
         lambda c: c.keys == ("version",) and c.before != c.after,
         _ex(LOCK_ENTRY, "version", before="5e1f", after="d4d4"),
         _ex(LOCK_ENTRY, "metrics", before={}, after={"f1": 0.8}), stage="deployment"),
    Rule("P209", "monitoring-changed", RISKY, "how a model is monitored in production changed",
         "any other edit under `spec.monitoring` (drift method, thresholds, schedule)", ("MetricSet",),
         lambda c: _monitoring(c) and not _monitoring_off(c) and not _monitoring_on(c),
         _ex("MetricSet", "spec", "monitoring", "schedule", before="0 6 * * *", after="0 7 * * *"),
         _ex("MetricSet", "spec", "monitoring", before={"enabled": True}), stage="monitoring"),
    Rule("P210", "metric-removed", RISKY, "a metric is no longer computed (reports and dashboards lose it)",
         "a name removed from `spec.metrics`, or `spec.metrics` removed", ("MetricSet",), _metric_removed,
         _ex("MetricSet", "spec", "metrics", before=["f1", "recall"], after=["f1"]),
         _ex("MetricSet", "spec", "metrics", before=["f1"], after=["f1", "recall"])),
    Rule("P211", "project-changed", RISKY,
         "a project setting changed (image, store, targets: every pipeline and deployment may change)",
         "any edit of `spec` in `charter.yaml` but a description", ("Project",), _spec,
         _ex("Project", "spec", "image", before="runner:0.1", after="runner:0.2"),
         _ex("Project", "metadata", "description", before="a", after="b"), stage="project"),
    Rule("P212", "compute-changed", RISKY,
         "how orchestrators run a model's pods changed (resources, timeout, retries, placement, service account, "
         "secrets); no step re-runs, since none of it changes what a step computes",
         "any edit under a Model's `spec.compute`", ("Model",), lambda c: _spec(c, "compute"),
         _ex("Model", "spec", "compute", "timeout", before="1h", after="2h"),
         _ex("Model", "spec", "estimator", "params", "C", before=1.0, after=2.0)),
    Rule("P301", "gate-tightened", SAFE,
         "a gate's `min` went up or `max`/`max_drop` went down, or a gate was added",
         "a `min` raised, a `max`/`max_drop` lowered or set, or a gate added", ("MetricSet",),
         lambda c: _gate(c, "tightened") or _gate(c, "added"),
         _ex("MetricSet", *_GATE, "max_drop", before=0.02, after=0.01),
         _ex("MetricSet", *_GATE, "max_drop", before=0.01, after=0.02)),
    Rule("P302", "text-edited", SAFE, "a description or label changed",
         "`metadata.description`, `metadata.labels`, or a `description` inside `spec`", (), _text,
         _ex("Model", "metadata", "description", before="a", after="b"),
         _ex("Model", "metadata", "annotations", before="a", after="b")),
    Rule("P303", "added", SAFE, "a spec, column, rule, owner or metric was added",
         "a new resource, column, validation rule, slice or guardrail, owner or covered name, or metric", (),
         _added, _ex("MetricSet", "spec", "metrics", before=["f1"], after=["f1", "recall"]),
         _ex("MetricSet", "spec", "metrics", before=["f1", "recall"], after=["recall"])),
    Rule("P304", "moved", SAFE, "a spec moved to another file, unchanged", "a resource in another file, unchanged",
         (), lambda c: c.action == "move", _ex("Model", action="move"), _ex("Model", action="create")),
    Rule("P305", "reference-renamed", SAFE,
         "a reference now names the new name of a spec renamed in the same change",
         "a name (or list of names) changed from `old` to `new` of a rename in the same change", (),
         lambda c: c.follows_rename, _ex("Model", "spec", "data", "source", before="a", after="b"),
         _ex("Model", "spec", "data", "source", before="a", after="c")),
    Rule("P306", "monitoring-added", SAFE, "monitoring was set up for a model",
         "`spec.monitoring` added to a MetricSet", ("MetricSet",), _monitoring_on,
         _ex("MetricSet", "spec", "monitoring", after={"schedule": "@daily"}),
         _ex("MetricSet", "spec", "monitoring", before={"schedule": "@daily"}), stage="monitoring"),
    # a kind's catch-all, then the last resort: never silently safe
    Rule("P201", "model-changed", RISKY, "the estimator, its parameters, features, split or preprocessing changed",
         "any other edit of a Model's `spec`", ("Model",), _spec,
         _ex("Model", "spec", "estimator", "params", "C", before=1.0, after=2.0),
         _ex("Model", "metadata", "labels", before={}, after={"a": "b"}), fallback=True),
    Rule("P202", "data-changed", RISKY, "where the data comes from, its schema or its cleaning changed",
         "any other edit of a DataSource's `spec`, or of a ValidationSuite's outside `rules`",
         ("DataSource", "ValidationSuite"), _spec,
         _ex("DataSource", "spec", "path", before="a.csv", after="b.csv"),
         _ex("DataSource", *_COL, after={"name": "a"}), fallback=True),
    Rule("P204", "rollout-changed", RISKY, "serving, environments or a rollout strategy changed",
         "any other edit of a RolloutPolicy's `spec`", ("RolloutPolicy",), _spec,
         _ex("RolloutPolicy", "spec", "serving", "replicas", "min", before=2, after=5),
         _ex("RolloutPolicy", "spec", "serving", "description", before="a", after="b"), fallback=True),
    Rule("P299", "other-change", RISKY, "a change no other rule classifies",
         "anything else", (), lambda c: True,
         _ex("MetricSet", "spec", "model", before="a", after="b"),
         _ex("MetricSet", "spec", "metrics", after=["f1"]), fallback=True),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
_ORDERED = tuple(r for r in RULES if not r.fallback) + tuple(r for r in RULES if r.fallback)


def match(c: Change) -> Rule:
    """The first precise rule that applies, else the kind's catch-all, else P299."""
    return next(r for r in _ORDERED if r.applies(c))


def docs_table() -> str:
    """The Markdown table of `docs/gitops.md`, generated from the declarations."""
    out = ["| id | name | risk | matches | approved by | meaning |", "| --- | --- | --- | --- | --- | --- |"]
    for r in sorted(RULES, key=lambda r: r.id):
        kinds = ", ".join(r.kinds) if r.kinds else "any"
        who = f"the `{r.stage}` stage's Accountable" if r.stage else "the Accountable of the spec's stage"
        if r.stage == "project":
            who = "the Accountable of an Ownership's `project` stage, else of the `default_ownership`"
        if r.id == "P110":
            who = "nobody: it blocks until `charter compile` is committed"
        out.append(f"| `{r.id}` | {r.name} | {r.risk} | {kinds}: {r.matches} | {who} | {r.summary} |")
    return "\n".join(out) + "\n"

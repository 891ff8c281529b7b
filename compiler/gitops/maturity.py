"""`charter maturity`: the MLOps maturity level each model reaches, from evidence Charter already holds.

Google's levels ("MLOps: continuous delivery and automation pipelines in machine learning"):
0, a manual process; 1, an automated training pipeline with data and model validation,
metadata and triggers; 2, CI/CD of that pipeline, with monitoring, automated retraining and a
guarded, reversible rollout. The criteria are in `compiler/gitops/criteria.py`, one declared
unit each; a model reaches a level when it meets every criterion of that level and the ones
below. Pure reading of one revision (a `Snapshot`: the specs as written, the IR, `charter.lock`
and the generated files): nothing is run or written and nothing of the runtime imported, so a
plan judges its base and its head the same way as `charter maturity` judges the working tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.gitops.criteria import RULES, Criterion, Revision
from compiler.gitops.snapshot import Snapshot
from compiler.ir.graph import ModelPipeline

FORMAT_VERSION = 1
LEVELS = {0: "manual process", 1: "automated training pipeline", 2: "CI/CD of the pipeline"}


@dataclass(frozen=True, slots=True)
class ModelMaturity:
    """The intermediate state between a revision and a maturity report: one model's criteria and level."""

    model: str
    criteria: tuple[Criterion, ...]

    @property
    def level(self) -> int:
        reached = 0
        for level in sorted({c.level for c in self.criteria}):
            if not all(c.met for c in self.criteria if c.level == level):
                break
            reached = level
        return reached

    def next_changes(self) -> list[str]:
        """The changes that reach the next level (empty at the top)."""
        return [c.change or c.title for c in self.criteria if c.level == self.level + 1 and not c.met]

    def to_dict(self) -> dict:
        level = self.level
        top = max(LEVELS)
        return {"model": self.model, "level": level, "level_name": LEVELS[level],
                "criteria": [c.to_dict() for c in self.criteria],
                "next": None if level == top else {"level": level + 1, "level_name": LEVELS[level + 1],
                                                   "changes": self.next_changes()}}


def assess(rev: Revision, model: ModelPipeline) -> ModelMaturity:
    verdicts = []
    for rule in sorted(RULES, key=lambda r: r.level):  # stable: declaration order within a level
        met, evidence, change = rule.check(rev, model)
        verdicts.append(Criterion(rule.id, rule.level, rule.title, met, tuple(evidence), None if met else change))
    return ModelMaturity(model.name, tuple(verdicts))


def revision(snap: Snapshot) -> tuple[Revision | None, list[str]]:
    """What the criteria read of a snapshot (None, problems when its specs do not compile)."""
    graph, problems = snap.compile()
    if graph is None:
        return None, problems
    rendered = dict(snap.summary().get("generated_blobs", {}))
    models = snap.lock().get("models")
    return Revision(graph, snap.resources(), models if isinstance(models, dict) else {}, rendered,
                    snap.blobs(sorted(rendered))), problems


def maturity(snap: Snapshot) -> tuple[list[ModelMaturity] | None, list[str]]:
    """Every model's maturity at a revision, by model name; None when its specs do not compile."""
    rev, problems = revision(snap)
    if rev is None:
        return None, problems
    return [assess(rev, m) for m in sorted(rev.graph.models, key=lambda m: m.name)], problems


def levels(snap: Snapshot) -> dict[str, int] | None:
    """Model -> level at a revision, None when its specs do not compile: what a plan compares.

    Cached by what the criteria read: the revision's specs and lock (its key) and the blob ids of
    the generated files it holds. A plan then judges a revision seen before without reading
    every spec of it.
    """
    import hashlib
    import json

    from compiler.gitops.snapshot import CACHE_DIR

    summary = snap.summary()
    if not summary.get("ok"):
        found, _ = maturity(snap)
        return None if found is None else {m.model: m.level for m in found}
    committed = snap.blobs(sorted(summary.get("generated_blobs", {})))
    digest = hashlib.sha256((snap.key() + json.dumps(committed, sort_keys=True)).encode()).hexdigest()
    cache = snap.root / CACHE_DIR / f"{digest}.levels.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and all(isinstance(v, int) for v in cached.values()):
            return cached
    except (OSError, ValueError):
        pass
    found, _ = maturity(snap)
    if found is None:
        return None
    result = {m.model: m.level for m in found}
    from compiler.atomic import write_atomic

    try:
        write_atomic(cache, json.dumps(result, sort_keys=True), durable=False)
    except OSError:
        pass
    return result


def level_changes(before: dict[str, int] | None, after: dict[str, int] | None) -> list[dict]:
    """The models whose level differs between two revisions, by name; a new model's comes from None.

    Nothing when either revision does not compile: an unknown level is not a change (the plan
    says why the revision is invalid).
    """
    if before is None or after is None:
        return []
    return [{"model": name, "from": before.get(name), "to": level} for name, level in sorted(after.items())
            if before.get(name) != level]


# ---------------------------------------------------------------------------------------------
# the command and its renderings


def report(snap: Snapshot, model: str | None = None) -> dict:
    """The maturity document of a revision (every model, or one). Raises CommandError for an unknown model."""
    from compiler.diagnostics.suggest import suggestion
    from compiler.gitops.output import CommandError

    found, problems = maturity(snap)
    if found is None:
        raise SpecsInvalid(problems)
    if model is not None:
        names = [m.model for m in found]
        found = [m for m in found if m.model == model]
        if not found:
            hint = suggestion(model, names, "Models")
            raise CommandError(f"no Model named `{model}`" + (f"\n  help: {hint}" if hint else ""))
    return {"format_version": FORMAT_VERSION, "levels": {str(k): v for k, v in LEVELS.items()},
            "models": [m.to_dict() for m in found]}


class SpecsInvalid(Exception):
    """The revision's specs do not compile, so no level can be judged (exit 1)."""

    def __init__(self, problems: list[str]):
        super().__init__("the specs do not compile")
        self.problems = problems


def _next_line(doc: dict) -> str | None:
    """`to reach level 2 (CI/CD of the pipeline): meet retraining, rollback`, None at the top."""
    nxt = doc["next"]
    if nxt is None:
        return None
    unmet = [c["id"] for c in doc["criteria"] if c["level"] == nxt["level"] and not c["met"]]
    return f"to reach level {nxt['level']} ({nxt['level_name']}): meet {', '.join(unmet)}"


def to_text(doc: dict) -> str:
    from compiler.diagnostics import safe_text

    lines: list[str] = []
    for m in doc["models"]:
        lines.append(f"{m['model']}: level {m['level']} of {max(LEVELS)}, {m['level_name']}")
        for level in sorted({c["level"] for c in m["criteria"]}):
            lines.append(f"  level {level}, {LEVELS[level]}:")
            for c in (c for c in m["criteria"] if c["level"] == level):
                lines.append(f"    [{'x' if c['met'] else ' '}] {c['title']} ({c['id']})")
                lines += [f"        {e['file']}: {safe_text(e['detail'])}" for e in c["evidence"]]
                if not c["met"] and c["change"]:
                    lines.append(f"        change: {safe_text(c['change'])}")
        if m["next"] is not None:
            lines.append(f"  {_next_line(m)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else "no models\n"


def _prose(text: str) -> str:
    """Free text for Markdown, its `code` spans kept as code (spec text cannot inject markup either way)."""
    from compiler.gitops.report import _code, _md

    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: all prose
        return _md(text)
    def prose(part: str) -> str:  # `_md` folds whitespace: keep the spaces around code spans
        inner = _md(part)
        return (" " if part[:1].isspace() else "") + inner + (" " if part[-1:].isspace() and inner else "")

    return "".join(_code(p) if i % 2 else prose(p) for i, p in enumerate(parts))


def to_markdown(doc: dict) -> str:
    from compiler.gitops.report import _code, _md

    lines = ["# MLOps maturity", ""]
    for m in doc["models"]:
        lines += [f"## {_md(m['model'])}: level {m['level']}, {_md(m['level_name'])}", "",
                  "| | level | criterion | evidence |", "| --- | --- | --- | --- |"]
        for c in m["criteria"]:
            shown = [f"{_code(e['file'])}: {_prose(e['detail'])}" for e in c["evidence"]]
            if not c["met"] and c["change"]:
                shown.append(f"**change:** {_prose(c['change'])}")
            lines.append(f"| {'✅' if c['met'] else '❌'} | {c['level']} | {_md(c['title'])} | "
                         f"{'<br>'.join(shown) or '-'} |")
        lines.append("")
        if m["next"] is not None:
            lines += [f"**{_md(_next_line(m))}**", ""]
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["FORMAT_VERSION", "LEVELS", "ModelMaturity", "SpecsInvalid", "assess", "level_changes", "levels",
           "maturity", "report", "revision", "to_markdown", "to_text"]

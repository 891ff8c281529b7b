"""The criteria of `charter maturity`, one declared unit each: id, level, title and check.

A check reads one revision (`Revision`: the IR, the specs as written, `charter.lock` and the
generated files) and returns whether the model meets it, the files that prove it, and else the
change that would meet it, naming the spec and the field. A criterion backed by a generated
file needs the specs to render it and the revision to hold it: a GitOps controller or CI
applies what is committed, not what `charter compile` would write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from compiler.gitops.snapshot import CONFIG, LOCK, Resource
from compiler.ir.graph import STAGE_FALLBACK, ModelPipeline, PipelineGraph

STAGES = ("data", "validation", "model", "evaluation", "deployment", "monitoring")
ORCHESTRATORS = ("argo", "kubeflow", "airflow")
PROGRESSIVE = ("shadow", "canary")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One file that shows a criterion (met) or where its absence shows (unmet)."""

    file: str
    detail: str

    def to_dict(self) -> dict:
        return {"file": self.file, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Criterion:
    """The verdict on one criterion for one model."""

    id: str
    level: int
    title: str
    met: bool
    evidence: tuple[Evidence, ...] = ()
    change: str | None = None  # what would meet it, when unmet

    def to_dict(self) -> dict:
        return {"id": self.id, "level": self.level, "title": self.title, "met": self.met,
                "evidence": [e.to_dict() for e in self.evidence], "change": self.change}


@dataclass
class Revision:
    """What the criteria read of one revision, gathered once for every model."""

    graph: PipelineGraph
    resources: dict[str, Resource]
    lock: dict
    rendered: dict[str, str]  # path -> blob id of the generated files the specs render
    present: dict[str, str] = field(default_factory=dict)  # path -> blob id in the revision

    @property
    def output(self) -> str:
        return str(self.graph.project.get("output", "generated")).rstrip("/")

    @property
    def targets(self) -> list[str]:
        return list(self.graph.project.get("targets", []))

    def current(self, path: str) -> bool:
        return path in self.rendered and self.present.get(path) == self.rendered[path]

    def file_of(self, kind: str, name: str) -> str:
        entry = self.graph.files.get(f"{kind}/{name}") or {}
        return str(entry.get("file", "?"))

    def of_model(self, kind: str, model: str) -> list[Resource]:
        """The specs of `kind` whose `spec.model` is `model`, by name."""
        return sorted((r for r in self.resources.values() if r.kind == kind and isinstance(r.data.get("spec"), dict)
                       and r.data["spec"].get("model") == model), key=lambda r: r.name)


Check = Callable[[Revision, ModelPipeline], tuple[bool, list[Evidence], str | None]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A criterion as declared: id, level, title and its check."""

    id: str
    level: int
    title: str
    check: Check


RULES: list[Rule] = []


def criterion(id: str, level: int, title: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES.append(Rule(id, level, title, check))
        return check

    return register


def generated(rev: Revision, paths: list[str], what: str) -> tuple[list[Evidence], list[str]]:
    """(evidence of the files among `paths` the specs render and the revision holds, the rendered ones it lacks).

    A held file that differs from what the specs render still counts, with a note: that is
    drift (`charter compile --check`, the plan's P110), not a lower level.
    """
    found = [Evidence(p, what if rev.current(p) else f"{what} (differs from what the specs render: run "
                                                      "`charter compile`)")
             for p in paths if p in rev.rendered and p in rev.present]
    missing = [p for p in paths if p in rev.rendered and p not in rev.present]
    return found, missing


def rendered_by(rev: Revision, paths: list[str], what: str, targets: tuple[str, ...],
                spec: list[Evidence] | None = None) -> tuple[bool, list[Evidence], str | None]:
    """The verdict of a criterion that a generated file proves, after the spec evidence `spec`.

    Met when the revision holds one of `paths`; else the change is to compile (the specs render
    it) or to add one of `targets`.
    """
    found, missing = generated(rev, paths, what)
    if found:
        return True, [*(spec or []), *found], None
    return False, list(spec or []), compile_change(missing) if missing else target_change(targets)


def compile_change(paths: list[str]) -> str:
    return f"run `charter compile` and commit {', '.join(paths)}"


def target_change(names: tuple[str, ...] | list[str]) -> str:
    listed = " or ".join(f"`{n}`" for n in names)
    return f"add {listed} to `targets` in {CONFIG}"


# ---------------------------------------------------------------------------------------------
# level 1: an automated training pipeline


def _model_file(rev: Revision, model: ModelPipeline) -> str:
    return rev.file_of("Model", model.name)


@criterion("data-validation", 1, "data validation rules")
def data_validation(rev: Revision, model: ModelPipeline):
    params = _params(model, "validate")
    suite, rules = params.get("suite"), params.get("rules") or []
    source = _params(model, "ingest").get("source")
    if suite and rules:
        errors = sum(r.get("severity", "error") == "error" for r in rules)
        return True, [Evidence(rev.file_of("ValidationSuite", suite),
                               f"ValidationSuite {suite}: {len(rules)} rule(s) ({errors} blocking) on DataSource "
                               f"{source}")], None
    if suite:
        file = rev.file_of("ValidationSuite", suite)
        return False, [Evidence(file, f"ValidationSuite {suite} has no `rules`")], \
            f"add `rules` to ValidationSuite {suite} in {file}"
    file = _model_file(rev, model)
    return False, [Evidence(file, f"Model {model.name} has no `data.validation`")], \
        f"add a ValidationSuite with `rules` on DataSource {source} and name it in `data.validation` of " \
        f"Model {model.name} in {file}"


@criterion("model-validation", 1, "model validation gates")
def model_validation(rev: Revision, model: ModelPipeline):
    gates = _params(model, "gate").get("gates") or []
    sets = sorted({g["metric_set"] for g in gates})
    if gates:
        counts = {s: sum(g["metric_set"] == s for g in gates) for s in sets}
        return True, [Evidence(rev.file_of("MetricSet", s), f"MetricSet {s}: {n} gate(s)")
                      for s, n in counts.items()], None
    declared = rev.of_model("MetricSet", model.name)
    if declared:
        return False, [Evidence(declared[0].file, f"MetricSet {declared[0].name} has no `gates`")], \
            f"add `gates` to MetricSet {declared[0].name} in {declared[0].file}"
    file = _model_file(rev, model)
    return False, [], f"add a MetricSet with `model: {model.name}` and `gates` (beside Model {model.name} in {file})"


@criterion("pipeline", 1, "automated pipeline target")
def pipeline(rev: Revision, model: ModelPipeline):
    from compiler.render import airflow, argo, kubeflow

    paths = [mod.model_path(rev.output, model.name) for mod in (argo, kubeflow, airflow)]
    return rendered_by(rev, paths, "the training pipeline, step by step", ORCHESTRATORS)


@criterion("metadata", 1, "run metadata in charter.lock")
def metadata(rev: Revision, model: ModelPipeline):
    entry = rev.lock.get(model.name)
    if not isinstance(entry, dict) or not entry.get("version"):
        return False, [], f"run `charter run {model.name}` and commit {LOCK} (the main workflow does it on merge)"
    recorded = [k for k in ("spec_hash", "data_fingerprint", "metrics") if entry.get(k)]
    detail = f"version {entry['version']} with {', '.join(recorded) or 'no record of its inputs'}"
    package = model.step("package")
    if package is not None and entry.get("spec_hash") != package.hash:
        detail += " (of earlier specs: the next run records the current ones)"
    return True, [Evidence(LOCK, detail)], None


@criterion("trigger", 1, "pipeline runs on merge")
def trigger(rev: Revision, model: ModelPipeline):
    from compiler.render import github, gitlab

    paths = [f"{github.WORKFLOWS}/{github.MAIN}", f"{rev.output}/{gitlab.FILE}"]
    return rendered_by(rev, paths, "runs the pipelines whose specs or data changed, on the base branch",
                       ("github", "gitlab"))


# ---------------------------------------------------------------------------------------------
# level 2: CI/CD of the pipeline, monitoring, automated retraining, a guarded and reversible rollout


@criterion("ci", 2, "CI validation and plan of every change")
def ci(rev: Revision, model: ModelPipeline):
    from compiler.render import github, gitlab

    paths = [f"{github.WORKFLOWS}/{github.PR}", f"{rev.output}/{gitlab.FILE}"]
    return rendered_by(rev, paths, "validates and plans each pull (merge) request, approvals included",
                       ("github", "gitlab"))


@criterion("monitoring", 2, "scheduled monitoring with alerting")
def monitoring(rev: Revision, model: ModelPipeline):
    from compiler.render import argo, github, gitlab

    sets = rev.of_model("MetricSet", model.name)
    declaring = next((s for s in sets if isinstance(s.data["spec"].get("monitoring"), dict)), None)
    where = f"MetricSet {declaring.name} in {declaring.file}" if declaring else (
        f"MetricSet {sets[0].name} in {sets[0].file}" if sets else f"a MetricSet of Model {model.name}")
    mon = model.monitoring or {}
    if not mon.get("schedule"):
        return False, [], (f"add `monitoring: {{drift: {{method: psi, alert_above: 0.2}}, schedule: \"0 6 * * *\"}}` "
                           f"to {where}")
    if not mon.get("enabled", True):
        return False, [], f"set `monitoring.enabled: true` in {where}"
    drift = mon.get("drift") or {}
    spec = [Evidence(declaring.file if declaring else _model_file(rev, model),
                     f"MetricSet {declaring.name if declaring else '?'}: drift {drift.get('method')} alerts above "
                     f"{drift.get('alert_above')}, on `{mon['schedule']}` (UTC)")]
    paths = [f"{github.WORKFLOWS}/{github.MONITOR}", argo.model_path(rev.output, model.name),
             f"{rev.output}/{gitlab.FILE}"]
    return rendered_by(rev, paths, "runs `charter monitor` on the schedule; a drift alert fails the job",
                       ("github", "gitlab", "argo"), spec)


@criterion("retraining", 2, "automated retraining")
def retraining(rev: Revision, model: ModelPipeline):
    from compiler.render import github

    retrain = model.retrain or {}
    file = _model_file(rev, model)
    if not retrain:
        return False, [], (f"add `retrain: {{schedule: \"0 3 * * 1\"}}` (or `on_drift: true`, `on_data_change: true`) "
                           f"to Model {model.name} in {file}")
    from compiler.render import airflow, argo, gitlab

    paths, said = [], []
    if retrain.get("schedule"):
        paths += [f"{github.WORKFLOWS}/{github.RETRAIN}", argo.model_path(rev.output, model.name)]
        said.append(f"on `{retrain['schedule']}` (UTC)")
    if retrain.get("on_drift"):
        paths.append(f"{github.WORKFLOWS}/{github.MONITOR}")
        said.append("when its monitoring alerts")
    if retrain.get("on_data_change"):
        if not retrain.get("schedule"):
            paths.append(f"{github.WORKFLOWS}/{github.RETRAIN}")
        said.append(f"when its data changed (looked at on `{retrain['poll']}`)")
    # GitLab's jobs and Airflow's DAGs render both triggers (docs/maturity.md)
    paths += [f"{rev.output}/{gitlab.FILE}", airflow.model_path(rev.output, model.name)]
    spec = [Evidence(file, f"Model {model.name}: retrains {' and '.join(said)}")]
    return rendered_by(rev, paths, "retrains and checks (and, in CI, proposes the promotion for review)",
                       ("github", "gitlab", "argo", "airflow"), spec)


def _environments(model: ModelPipeline):
    for policy in model.rollouts:
        for env in policy["environments"]:
            yield policy["name"], env


@criterion("progressive-delivery", 2, "shadow or canary stage")
def progressive_delivery(rev: Revision, model: ModelPipeline):
    from compiler.render.common import manifest

    staged = [(p, e) for p, e in _environments(model) if e["strategy"]["type"] in PROGRESSIVE]
    if not model.rollouts:
        return False, [], (f"add a RolloutPolicy with `model: {model.name}` and an environment with "
                           "`strategy: {type: shadow, duration: 24h}` or a `canary` strategy "
                           f"(beside Model {model.name} in {_model_file(rev, model)})")
    if not staged:
        policy = model.rollouts[0]["name"]
        file = rev.file_of("RolloutPolicy", policy)
        return False, [Evidence(file, f"RolloutPolicy {policy}: no shadow or canary environment")], (
            "set `strategy: {type: shadow, duration: 24h}` (or a `canary` strategy with `steps`) on an environment "
            f"of RolloutPolicy {policy} in {file}")
    spec = [Evidence(rev.file_of("RolloutPolicy", p), f"RolloutPolicy {p}: {e['name']} is {e['strategy']['type']}")
            for p, e in staged]
    return rendered_by(rev, [manifest(rev.output, e["name"], model.name) for _, e in staged],
                       "the deployment a GitOps controller applies", ("kubernetes",), spec)


@criterion("rollback", 2, "automated rollback path")
def rollback(rev: Revision, model: ModelPipeline):
    from compiler.render.common import manifest

    analysed = [(p, e) for p, e in _environments(model) if e["strategy"].get("analysis")]
    back = [(p, e) for p, e in analysed if e["strategy"]["analysis"].get("on_failure") == "rollback"]
    if not back:
        if analysed:
            p, e = analysed[-1]
            file = rev.file_of("RolloutPolicy", p)
            return False, [Evidence(file, f"RolloutPolicy {p}: {e['name']} does "
                                          f"`{e['strategy']['analysis'].get('on_failure')}` on failure")], (
                f"set `on_failure: rollback` in the `analysis` of environment {e['name']} of RolloutPolicy {p} "
                f"in {file}")
        last = model.rollouts[-1]["name"] if model.rollouts else None
        where = f"RolloutPolicy {last} in {rev.file_of('RolloutPolicy', last)}" if last else \
            f"a RolloutPolicy of Model {model.name}"
        return False, [], (f"give the production environment of {where} a canary or blue-green strategy with "
                           "`analysis: {gates: METRICSET, on_failure: rollback}`")
    spec = [Evidence(rev.file_of("RolloutPolicy", p), f"RolloutPolicy {p}: {e['name']} analyses "
                                                      f"{e['strategy']['analysis'].get('gates')} and rolls back")
            for p, e in back]
    return rendered_by(rev, [manifest(rev.output, e["name"], model.name) for _, e in back],
                       "the rollout with its analysis", ("kubernetes",), spec)


@criterion("raci", 2, "complete RACI")
def raci(rev: Revision, model: ModelPipeline):
    owners = model.owners or {}
    gaps, fallbacks = [], []
    for stage in STAGES:
        own = owners.get(stage)
        if not own and stage in STAGE_FALLBACK:
            own = owners.get(STAGE_FALLBACK[stage])
            if own:
                fallbacks.append(f"{stage} by {STAGE_FALLBACK[stage]}")
        if not own or not own.get("accountable") or not own.get("responsible"):
            gaps.append(stage)
    ownership = next((r for r in sorted(rev.resources.values(), key=lambda r: r.name) if r.kind == "Ownership"
                      and model.name in ((r.data.get("spec") or {}).get("covers") or [])), None)
    if ownership is None:
        return False, [], (f"add an Ownership whose `covers` lists {model.name} with `responsible` and `accountable` "
                           f"for {', '.join(STAGES)}")
    if gaps:
        return False, [Evidence(ownership.file, f"Ownership {ownership.name}: no Responsible and Accountable for "
                                                f"{', '.join(gaps)}")], (
            f"add `responsible` and `accountable` for {', '.join(f'`raci.{g}`' for g in gaps)} to Ownership "
            f"{ownership.name} in {ownership.file}")
    detail = f"Ownership {ownership.name}: Responsible and Accountable for every stage"
    return True, [Evidence(ownership.file, detail + (f" ({', '.join(fallbacks)})" if fallbacks else ""))], None


@criterion("model-card", 2, "model card")
def model_card(rev: Revision, model: ModelPipeline):
    from compiler.render import docs

    return rendered_by(rev, [docs.model_path(rev.output, model.name)],
                       "the model card: pipeline, lineage, RACI, gates, monitoring, rollout", ("docs",))



def _params(model: ModelPipeline, step: str) -> dict:
    found = model.step(step)
    return found.params if found is not None else {}

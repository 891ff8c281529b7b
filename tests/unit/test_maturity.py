"""Each criterion of `charter maturity`, met and unmet, on spec trees built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.cli import main
from compiler.gitops.criteria import RULES, Criterion
from compiler.gitops.maturity import FORMAT_VERSION, LEVELS, ModelMaturity, level_changes, maturity, report
from compiler.gitops.snapshot import worktree
from tests.conftest import COMMITTED, EXAMPLE, copy_example

TINY = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: rows}
spec:
  format: csv
  path: specs/rows.csv
  schema:
    - {name: x, type: float}
    - {name: y, type: boolean}
---
apiVersion: charter/v1
kind: Model
metadata: {name: tiny}
spec:
  task: binary_classification
  data: {source: rows, target: y}
  estimator: {class: sklearn.linear_model.LogisticRegression}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: tiny-owners}
spec:
  covers: [rows, tiny]
  raci:
    data: {responsible: ["@a"], accountable: "@a"}
"""


def _criteria(root: Path, model: str) -> dict[str, Criterion]:
    found, problems = maturity(worktree(root))
    assert found is not None, problems
    return {c.id: c for c in next(m for m in found if m.model == model).criteria}


def _edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text(encoding="utf-8")
    assert old in text, old
    (root / path).write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The worked example with its lock and generated files, as committed (read only)."""
    return copy_example(tmp_path_factory.mktemp("maturity") / "repo", EXAMPLE + COMMITTED)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A Model with nothing but its data and an Ownership of the data stage; no target but the IR."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: tiny}\n"
                                           "spec: {targets: []}\n", encoding="utf-8")
    (tmp_path / "specs/m.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "specs/rows.csv").write_text("x,y\n1,true\n", encoding="utf-8")
    return tmp_path


MET = [r.id for r in RULES if r.id != "retraining"]  # the example declares no retraining (yet)


@pytest.mark.parametrize("criterion", MET)
def test_the_example_meets_each_criterion_with_files_that_exist(example, criterion):
    found = _criteria(example, "churn")[criterion]
    assert found.met and found.change is None
    assert found.evidence
    for e in found.evidence:
        assert (example / e.file).is_file(), e.file
        assert "differs" not in e.detail


UNMET = {
    "data-validation": "name it in `data.validation` of Model tiny in specs/m.yaml",
    "model-validation": "add a MetricSet with `model: tiny` and `gates`",
    "pipeline": "add `argo` or `kubeflow` or `airflow` to `targets` in charter.yaml",
    "metadata": "run `charter run tiny` and commit charter.lock",
    "trigger": "add `github` or `gitlab` to `targets` in charter.yaml",
    "ci": "add `github` or `gitlab` to `targets` in charter.yaml",
    "monitoring": "add `monitoring: {drift: {method: psi, alert_above: 0.2}, schedule: \"0 6 * * *\"}`",
    "retraining": "add `retrain: {schedule: \"0 3 * * 1\"}` (or `on_drift: true`, `on_data_change: true`) to Model "
                  "tiny in specs/m.yaml",
    "progressive-delivery": "add a RolloutPolicy with `model: tiny`",
    "rollback": "on_failure: rollback",
    "raci": "`raci.model`, `raci.evaluation`, `raci.deployment`, `raci.monitoring` to Ownership tiny-owners in "
            "specs/m.yaml",
    "model-card": "add `docs` to `targets` in charter.yaml",
}


def test_every_criterion_has_an_unmet_case():
    assert sorted(UNMET) == sorted(r.id for r in RULES)


@pytest.mark.parametrize("criterion", sorted(UNMET))
def test_a_bare_model_meets_no_criterion_and_is_told_what_to_change(tiny, criterion):
    found = _criteria(tiny, "tiny")[criterion]
    assert not found.met
    assert UNMET[criterion] in found.change


def test_a_bare_model_is_level_0_and_its_next_step_is_level_1(tiny):
    doc = report(worktree(tiny))
    (m,) = doc["models"]
    assert (m["level"], m["level_name"]) == (0, "manual process")
    assert m["next"]["level"] == 1
    assert len(m["next"]["changes"]) == 5  # the five criteria of level 1


def test_blue_green_with_pause_is_neither_staged_nor_a_rollback(example):
    found = _criteria(example, "delivery-time")
    assert not found["progressive-delivery"].met and not found["rollback"].met
    assert found["rollback"].evidence[0].detail == \
        "RolloutPolicy delivery-time-rollout: production does `pause` on failure"
    assert found["rollback"].change == ("set `on_failure: rollback` in the `analysis` of environment production of "
                                        "RolloutPolicy delivery-time-rollout in specs/delivery/model.yaml")
    assert "RolloutPolicy delivery-time-rollout in specs/delivery/model.yaml" in found["progressive-delivery"].change


def test_raci_stages_may_fall_back_as_codeowners_and_approvals_do(example):
    found = _criteria(example, "delivery-time")["raci"]
    assert found.met
    assert "(validation by data, evaluation by model, monitoring by deployment)" in found.evidence[0].detail


def test_a_generated_file_that_is_not_in_the_repository_does_not_count(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    (root / "generated/docs/churn.md").unlink()
    found = _criteria(root, "churn")["model-card"]
    assert not found.met
    assert found.change == "run `charter compile` and commit generated/docs/churn.md"


def test_a_stale_generated_file_counts_with_a_note(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    (root / "generated/argo/churn.yaml").write_text("# edited by hand\n", encoding="utf-8")
    found = _criteria(root, "churn")["pipeline"]
    assert found.met
    argo = next(e for e in found.evidence if e.file == "generated/argo/churn.yaml")
    assert "differs from what the specs render: run `charter compile`" in argo.detail


def test_a_lock_of_earlier_specs_is_metadata_with_a_note(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    _edit(root, "specs/churn/model.yaml", "max_depth: 4", "max_depth: 5")
    found = _criteria(root, "churn")["metadata"]
    assert found.met and "of earlier specs" in found.evidence[0].detail


def test_disabled_monitoring_is_not_monitoring(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    _edit(root, "specs/churn/model.yaml", 'schedule: "0 6 * * *"', 'schedule: "0 6 * * *"\n    enabled: false')
    found = _criteria(root, "churn")["monitoring"]
    assert not found.met
    assert found.change == "set `monitoring.enabled: true` in MetricSet churn-quality in specs/churn/model.yaml"


def test_a_suite_and_gates_meet_level_1_once_the_targets_and_a_run_exist(tiny):
    specs = TINY.replace("data: {source: rows, target: y}", "data: {source: rows, target: y, validation: rows-ok}")
    specs = specs.replace("covers: [rows, tiny]", "covers: [rows, tiny, rows-ok, tiny-quality]")
    (tiny / "specs/m.yaml").write_text(specs + """\
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: rows-ok}
spec:
  source: rows
  rules: [{rule: not_null, columns: [x]}, {rule: row_count, min: 1, severity: warn}]
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: tiny-quality}
spec:
  model: tiny
  gates: [{metric: accuracy, min: 0.5}]
""", encoding="utf-8")
    found = _criteria(tiny, "tiny")
    assert found["data-validation"].met
    assert found["data-validation"].evidence[0].detail == \
        "ValidationSuite rows-ok: 2 rule(s) (1 blocking) on DataSource rows"
    assert found["model-validation"].evidence[0].detail == "MetricSet tiny-quality: 1 gate(s)"
    # rendered but not compiled yet: the change says so
    _edit(tiny, "charter.yaml", "targets: []", "targets: [argo, github]")
    assert _criteria(tiny, "tiny")["pipeline"].change == "run `charter compile` and commit generated/argo/tiny.yaml"
    assert main(["compile", "--root", str(tiny)]) == 0
    found = _criteria(tiny, "tiny")
    assert found["pipeline"].met and found["trigger"].met and found["ci"].met
    assert not found["metadata"].met  # never run: nothing recorded


def _verdicts(*met_by_level: tuple[int, bool]) -> ModelMaturity:
    return ModelMaturity("m", tuple(Criterion(f"c{i}", level, "t", met) for i, (level, met) in enumerate(met_by_level)))


def test_a_level_needs_every_criterion_of_it_and_of_the_levels_below():
    assert _verdicts((1, True), (1, True), (2, True)).level == 2
    assert _verdicts((1, True), (1, True), (2, False)).level == 1
    assert _verdicts((1, False), (2, True), (2, True)).level == 0
    assert _verdicts((1, True), (2, False)).to_dict()["next"]["level"] == 2
    assert _verdicts((1, True), (2, True)).to_dict()["next"] is None


def test_level_changes_name_each_model_whose_level_moved():
    assert level_changes({"a": 1, "b": 0}, {"a": 1, "b": 1, "c": 0}) == [
        {"model": "b", "from": 0, "to": 1}, {"model": "c", "from": None, "to": 0}]
    assert level_changes(None, {"a": 1}) == [] and level_changes({"a": 1}, None) == []


def test_the_json_document_is_versioned_and_deterministic(example):
    doc = report(worktree(example))
    assert doc["format_version"] == FORMAT_VERSION == 1
    assert doc["levels"] == {str(k): v for k, v in LEVELS.items()}
    assert [m["model"] for m in doc["models"]] == ["churn", "delivery-time"]
    assert set(doc["models"][0]) == {"model", "level", "level_name", "criteria", "next"}
    assert set(doc["models"][0]["criteria"][0]) == {"id", "level", "title", "met", "evidence", "change"}
    assert report(worktree(example)) == doc


def test_a_scheduled_or_drift_retraining_rendered_by_github_is_retraining(tmp_path):
    root = copy_example(tmp_path / "repo", EXAMPLE + COMMITTED)
    _edit(root, "specs/churn/model.yaml", "  guardrails:\n", '  retrain: {schedule: "0 3 * * 1"}\n  guardrails:\n')
    found = _criteria(root, "churn")["retraining"]
    # the files that render it exist but are stale: met, with the drift said (not a lower level)
    stale = [e for e in found.evidence if "differs from what the specs render" in e.detail]
    assert found.met and {e.file for e in stale} == {"generated/gitlab/charter.gitlab-ci.yml",
                                                    "generated/argo/churn.yaml", "generated/airflow/charter_churn.py"}
    _edit(root, "specs/churn/model.yaml", '"0 3 * * 1"}', '"0 3 * * 1", on_drift: true}')
    assert main(["compile", "--root", str(root)]) == 0
    found, _ = maturity(worktree(root))
    churn = next(m for m in found if m.model == "churn")
    retraining = next(c for c in churn.criteria if c.id == "retraining")
    assert retraining.met and churn.level == 2
    assert [e.file for e in retraining.evidence] == [
        "specs/churn/model.yaml", ".github/workflows/charter-retrain.yml", "generated/argo/churn.yaml",
        ".github/workflows/charter-monitor.yml", "generated/gitlab/charter.gitlab-ci.yml",
        "generated/airflow/charter_churn.py"]
    assert not any("differs" in e.detail for e in retraining.evidence)
    assert retraining.evidence[0].detail == "Model churn: retrains on `0 3 * * 1` (UTC) and when its monitoring alerts"

"""Honest metrics on scikit-learn's wine data: no NaN anywhere, reasons instead of stderr noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")

from tests.conftest import run_charter  # noqa: E402
from tests.unit.execute import wine  # noqa: E402


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def winery(tmp_path_factory) -> tuple[Path, dict]:
    root = wine.project(tmp_path_factory.mktemp("wine") / "repo")
    runs = {m: run_charter("run", m, cwd=root) for m in ("cultivar", "class0")}
    return root, runs


def _package(root: Path, model: str) -> Path:
    entry = _strict((root / "charter.lock").read_text())["models"][model]
    return root / ".charter/artifacts/models" / model / entry["version"]


def test_a_slice_missing_a_class_is_null_with_a_reason(winery):
    root, runs = winery
    assert runs["cultivar"].returncode == 0, runs["cultivar"].stdout + runs["cultivar"].stderr
    lock = _strict((root / "charter.lock").read_text())["models"]["cultivar"]
    light = lock["metrics"]["slices"]["light"]
    assert light["metrics"]["roc_auc_ovr"] is None
    assert "missing from these rows" in light["not_computable"]["roc_auc_ovr"]
    none = lock["metrics"]["slices"]["none"]
    assert none["rows"] == 0 and set(none["not_computable"].values()) == {"no rows"}
    metrics = _strict((_package(root, "cultivar") / "metrics.json").read_text())
    for name in ("precision_weighted", "recall_weighted", "f1_micro", "roc_auc_ovo_weighted"):
        assert 0.8 < metrics["metrics"][name] <= 1.0, name
    card = (_package(root, "cultivar") / "model_card.md").read_text()
    assert "nan" not in card.lower() and "n/a (no rows)" in card


def test_slices_without_rows_warn_at_run_time(winery):
    _, runs = winery
    out = runs["cultivar"].stdout
    assert "warning: slice `none` has no test row(s)" in out
    assert "warning: slice `light` has only" in out


def test_library_warnings_become_reasons_not_stderr(winery):
    root, runs = winery
    assert runs["class0"].returncode == 0, runs["class0"].stdout + runs["class0"].stderr
    assert "Warning" not in runs["class0"].stderr and "zero_division" not in runs["class0"].stdout
    metrics = _strict((_package(root, "class0") / "metrics.json").read_text())
    assert metrics["metrics"]["precision"] is None
    assert metrics["not_computable"]["precision"] == "precision is undefined: no predicted samples"
    assert metrics["positive_label"] == 1
    card = (_package(root, "class0") / "model_card.md").read_text()
    assert "- Positive class: `1`" in card

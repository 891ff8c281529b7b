"""`charter monitor` on a penguins-like batch: it cannot pass by accident."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.driver import compile_tree  # noqa: E402
from compiler.execute.monitor import FORMAT_VERSION, batch_steps, monitor, promoted_package  # noqa: E402
from compiler.execute.runner import Runner  # noqa: E402
from tests.conftest import run_charter  # noqa: E402
from tests.unit.execute import penguins  # noqa: E402


def _trained(root: Path, **kw) -> tuple[Path, object]:
    penguins.project(root, **kw)
    _, graph = compile_tree(root)
    assert graph is not None
    result = Runner(graph, root).run("sex")
    assert result.exit_code == 0 and result.promoted
    return root, graph


def _batch(root: Path, name: str, data: list[dict], labelled: bool) -> str:
    cols = ("species", "bill_length_mm", "body_mass_g") + (("sex",) if labelled else ())
    penguins.write_csv(root / name, data, cols)
    return name


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("birds") / "repo")


def test_an_unlabelled_drifted_batch_alerts(trained):
    root, graph = trained
    data = penguins.rows(200, seed=1, mass_shift=900, bill_scale=1.25)
    report = monitor(graph, root, "sex", _batch(root, "drifted.csv", data, labelled=False))
    assert report["format_version"] == FORMAT_VERSION
    assert report["rows_read"] == 200 and report["rows"] == 200  # drop_null on the label did not empty it
    assert report["skipped_steps"] == [{"step": "drop_null", "reason": "needs the label `sex`, which the batch "
                                                                        "does not have"}]
    assert report["drift"]["body_mass_g"]["status"] == "alert"
    assert report["drift"]["bill_length_mm"]["status"] == "alert"
    assert report["alert"] and report["status"] == "alert"


def test_a_labelled_batch_reports_the_rows_dropped(trained):
    root, graph = trained
    report = monitor(graph, root, "sex", _batch(root, "same.csv", penguins.rows(300, seed=2), labelled=True))
    assert report["rows_read"] == 300
    assert report["rows_dropped"] == [{"step": "drop_null", "rows": 300 - report["rows"]}] and report["rows"] < 300
    assert report["status"] == "ok" and report["gates"] is not None
    json.dumps(report, allow_nan=False)


def test_a_tiny_batch_is_never_ok(trained):
    root, graph = trained
    report = monitor(graph, root, "sex", _batch(root, "tiny.csv", penguins.rows(5, seed=3), labelled=False))
    assert report["rows"] == 5
    assert {d["status"] for d in report["drift"].values()} == {"too_few_rows"}
    assert not report["alert"] and report["insufficient"] and report["status"] == "insufficient"
    result = run_charter("monitor", "sex", "--data", "tiny.csv", cwd=root)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "5 rows read, 5 compared" in result.stdout and "TOO_FEW_ROWS" in result.stdout
    # the latest report is kept in the store, stamped, for the site
    kept = json.loads((root / ".charter/artifacts/monitor/sex/latest.json").read_text(encoding="utf-8"))
    assert kept["report"]["rows"] == 5 and kept["report"]["status"] == "insufficient"
    assert kept["format_version"] == FORMAT_VERSION and kept["recorded"].endswith("Z")


def test_an_empty_batch_is_never_ok(trained):
    root, graph = trained
    report = monitor(graph, root, "sex", _batch(root, "empty.csv", [], labelled=False))
    assert report["rows"] == 0 and report["status"] == "insufficient"


def test_categorical_drift_under_ks_is_jensen_shannon(tmp_path):
    root, graph = _trained(tmp_path / "repo", method="ks")
    data = [dict(r, species="Gentoo") for r in penguins.rows(200, seed=4)]
    report = monitor(graph, root, "sex", _batch(root, "gentoo.csv", data, labelled=False))
    species = report["drift"]["species"]
    assert species["statistic"] == "jensen_shannon"
    # training shares (about a third each) against (0, 0, 1): the base-2 JS distance, by hand
    entry = json.loads((root / "charter.lock").read_text())["models"]["sex"]
    profile = json.loads((promoted_package(graph, root, "sex", entry, None) / "profile.json").read_text())
    p = profile["features"]["species"]["fractions"]
    q = {"Gentoo": 1.0}
    m = {k: (p.get(k, 0) + q.get(k, 0)) / 2 for k in p}
    kl = lambda a: sum(v * math.log2(v / m[k]) for k, v in a.items() if v)  # noqa: E731
    assert species["value"] == pytest.approx(math.sqrt((kl(p) + kl(q)) / 2), abs=1e-9)
    assert species["status"] == "alert"
    assert report["drift"]["body_mass_g"]["statistic"] == "ks"


def test_training_only_steps_never_touch_a_batch():
    steps = [{"drop_null": {"columns": ["body_mass_g"], "training_only": True}},
             {"drop_null": {"columns": ["sex", "species"]}}, {"standardize": {"column": "sex", "mapping": {}}}]
    kept, skipped = batch_steps(steps, "sex", labelled=False)
    assert kept == [{"drop_null": {"columns": ["species"]}}]
    assert [s["reason"].split()[0] for s in skipped] == ["training_only", "needs"]
    kept, skipped = batch_steps(steps, "sex", labelled=True)
    assert len(kept) == 2 and skipped[0]["reason"] == "training_only"

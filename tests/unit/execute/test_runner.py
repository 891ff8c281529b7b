"""The runner: interruption safety, --step, and the store layout."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.driver import compile_tree  # noqa: E402
from compiler.execute import steps  # noqa: E402
from compiler.execute.failure import RunError  # noqa: E402
from compiler.execute.runner import Runner  # noqa: E402
from tests.conftest import REPO  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "charter.yaml", root)
    shutil.copytree(REPO / "specs", root / "specs")
    return root


def _runner(root: Path, **kw) -> Runner:
    _, graph = compile_tree(root)
    assert graph is not None
    return Runner(graph, root, **kw)


def test_interrupted_package_leaves_no_partial_artifact_and_keeps_the_lock(repo, monkeypatch):
    first = _runner(repo).run("delivery-time")
    assert first.exit_code == 0 and first.promoted
    lock_before = (repo / "charter.lock").read_bytes()
    entry = json.loads(lock_before)["models"]["delivery-time"]
    promoted = repo / ".charter/artifacts/models/delivery-time" / entry["version"]
    assert "artifact_uri" not in entry  # no machine path in the lock
    model_before = (promoted / "model.skops").read_bytes()

    spec = repo / "specs/delivery/model.yaml"
    spec.write_text(spec.read_text().replace("max_depth: 12", "max_depth: 10"))

    def crash(runner, pipeline, step, inputs, out):
        (out / "model.skops").write_bytes(b"half")  # a partial write, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "run_package", crash)
    runner = _runner(repo)
    with pytest.raises(KeyboardInterrupt):
        runner.run("delivery-time")
    package_key = runner.keys["delivery-time/package"]
    assert not runner.store.step_dir(package_key).exists()
    assert not any(p.name.startswith(".") for p in runner.store.step_dir(package_key).parent.iterdir())
    assert (repo / "charter.lock").read_bytes() == lock_before
    assert (promoted / "model.skops").read_bytes() == model_before

    monkeypatch.undo()
    again = _runner(repo).run("delivery-time")  # the next run completes from the cached steps
    statuses = {o.id.split("/")[1]: o.status for o in again.outcomes}
    assert statuses["train"] == "cached" and statuses["package"] == "ran"
    assert again.promoted != first.promoted


def test_single_step_needs_its_inputs(repo):
    """No silent recompute: a step whose inputs the store lacks fails (exit 1) and says which."""
    missing = _runner(repo).run("churn", only="prepare")
    assert missing.exit_code == 1 and missing.outcomes == []
    assert "needs the outputs of `ingest`" in missing.failed and "--with-upstream" in missing.report
    train = _runner(repo).run("churn", only="train")
    assert "needs the outputs of `split`" in train.failed
    full = _runner(repo).run("churn", until="split")
    assert [o.status for o in full.outcomes] == ["ran"] * 4
    only = _runner(repo).run("churn", only="train")
    assert [(o.id, o.status) for o in only.outcomes] == [("churn/train", "ran")]


def test_with_upstream_computes_what_the_store_lacks(repo):
    result = _runner(repo).run("churn", only="split", with_upstream=True)
    assert [(o.id.split("/")[1], o.status) for o in result.outcomes] == [
        ("ingest", "ran"), ("prepare", "ran"), ("validate", "ran"), ("split", "ran")]
    again = _runner(repo).run("churn", only="split", with_upstream=True)
    assert [(o.id.split("/")[1], o.status) for o in again.outcomes] == [("split", "ran")]  # only the step asked for


def test_steps_as_separate_processes_share_only_the_store(repo, tmp_path):
    """Each step alone, in its own copy of the repository, as a cluster pipeline's pods run them.

    Sharing nothing but the store, the steps end with the version a whole run makes.
    """
    store = str(tmp_path / "shared-store")
    _, graph = compile_tree(repo)
    versions = []
    for step in [s.name for s in graph.model("churn").steps]:
        pod = tmp_path / f"pod-{step}"
        shutil.copytree(repo, pod)
        result = _runner(pod, store=store).run("churn", only=step)
        assert result.exit_code == 0, (step, result.failed)
        assert [(o.id, o.status) for o in result.outcomes] == [(f"churn/{step}", "ran")]
        versions.append(result.promoted)
    whole = _runner(repo, store=str(tmp_path / "other-store")).run("churn")
    assert versions[-1] == whole.promoted


def test_unknown_step_and_model(repo):
    with pytest.raises(RunError, match="no step `trian`"):
        _runner(repo).run("churn", only="trian")
    with pytest.raises(RunError, match="no model named"):
        _runner(repo).run("nope")


def test_remote_fsspec_store(repo):
    pytest.importorskip("fsspec")
    import fsspec

    uri = "memory://charter-test-store"
    first = _runner(repo, store=uri).run("churn")
    assert first.exit_code == 0 and first.promoted
    lock = json.loads((repo / "charter.lock").read_text())
    assert not any("charter-test-store" in str(v) for v in lock["models"]["churn"].values())
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"/charter-test-store/models/churn/{first.promoted}/model.skops")
    shutil.rmtree(repo / ".charter" / "store-cache")  # another machine: only the remote store is shared
    again = _runner(repo, store=uri).run("churn")
    assert {o.status for o in again.outcomes} == {"cached"}
    assert again.promoted == first.promoted
    # each whole run leaves its outcome in the shared store (what the site shows as the last run),
    # the gate verdict read back from the store when the gate step was reused
    record = json.loads(fs.cat_file("/charter-test-store/runs/churn/latest.json"))
    assert record["outcome"] == "passed" and record["version"] == first.promoted
    assert record["gates"] == {"passed": True, "failed": []} and set(record["steps"].values()) == {"cached"}

    from compiler.execute.monitor import monitor

    shutil.rmtree(repo / ".charter" / "store-cache")
    _, graph = compile_tree(repo)  # monitor downloads the promoted package from the remote store
    report = monitor(graph, repo, "churn", "specs/data/customers.csv", uri)
    assert report["version"] == first.promoted and not report["alert"]
    with pytest.raises(RunError, match="is not in the artifact store `.charter/artifacts`"):
        monitor(graph, repo, "churn", "specs/data/customers.csv", None)  # the local folder never had it


def test_a_failed_run_is_recorded_with_its_failing_gates(repo):
    specs = repo / "specs/churn/model.yaml"
    text = specs.read_text()
    assert "{metric: roc_auc, min: 0.70}" in text
    specs.write_text(text.replace("{metric: roc_auc, min: 0.70}", "{metric: roc_auc, min: 0.99}"))
    result = _runner(repo, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).run("churn")
    assert result.failed and result.exit_code == 1
    record = json.loads((repo / ".charter/artifacts/runs/churn/latest.json").read_text())
    assert record["outcome"] == "failed" and record["version"] is None and record["finished"] == "2026-01-02T03:04:05Z"
    assert record["gates"]["passed"] is False and record["gates"]["failed"] == ["churn-quality:roc_auc"]
    assert record["steps"]["gate"] == "failed" and "package" not in record["steps"]

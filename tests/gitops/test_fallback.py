"""`charter fallback` on a temporary repository: which version it goes back to, and when it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, example_version
from tests.gitops.conftest import charter, commit, git

LOCK = "charter.lock"
MANIFEST = "generated/kubernetes/production/churn.yaml"


def release(repo: Path, version: str, capsys) -> None:
    """Promote `version` of churn: the lock and the re-rendered manifests, committed."""
    lock = json.loads((repo / LOCK).read_text())
    lock["models"]["churn"]["version"] = version
    (repo / LOCK).write_text(json.dumps(lock, indent=2) + "\n")
    code, _, err = charter(repo, "compile", capsys=capsys)
    assert code == 0, err
    commit(repo, f"release {version}")


def stored(store: Path, *versions: str) -> None:
    for version in versions:
        folder = store / "models/churn" / version
        folder.mkdir(parents=True)
        (folder / "_SUCCESS").write_text("")


def report(tmp_path: Path, version: str, passed: bool | None, model: str = "churn") -> Path:
    gates = None if passed is None else {"passed": passed, "gates": [
        {"id": "churn-quality:roc_auc", "passed": passed, "value": 0.61234567, "threshold": ">= 0.7"}]}
    path = tmp_path / f"report-{version}.json"
    path.write_text(json.dumps({"format_version": 1, "model": model, "version": version, "rows": 90,
                                "drift": {"contract": {"alert": True}}, "gates": gates}))
    return path


@pytest.fixture
def released(example_repo: Path, tmp_path: Path, capsys) -> tuple[Path, Path]:
    """The example's version, then `aaaaaaaaaaaa` and `bbbbbbbbbbbb` released after it; a store."""
    for name in (LOCK, ".gitignore"):
        (example_repo / name).write_text((REPO / name).read_text())
    release(example_repo, example_version(), capsys)
    release(example_repo, "aaaaaaaaaaaa", capsys)
    release(example_repo, "bbbbbbbbbbbb", capsys)
    return example_repo, tmp_path / "store"


def test_failing_gates_roll_back_to_the_version_before(released, tmp_path, capsys):
    repo, store = released
    stored(store, example_version(), "aaaaaaaaaaaa", "bbbbbbbbbbbb")
    description = tmp_path / "fallback.md"
    code, out, err = charter(repo, "fallback", "churn", "--report", str(report(tmp_path, "bbbbbbbbbbbb", False)),
                             "--store", str(store), "--description", str(description), capsys=capsys)
    assert code == 0, err
    assert "version bbbbbbbbbbbb failed its gates on new data: serving version aaaaaaaaaaaa again" in out
    assert json.loads((repo / LOCK).read_text())["models"]["churn"]["version"] == "aaaaaaaaaaaa"
    assert "aaaaaaaaaaaa" in (repo / MANIFEST).read_text()
    text = description.read_text()
    assert "| `churn-quality:roc_auc` | 0.6123 | >= 0.7 |" in text and "@carol" in text and "release aaaa" in text
    assert json.loads((store / "fallbacks/churn/bbbbbbbbbbbb.json").read_text())["gates"]["passed"] is False
    # the rollback is a change like any other: committed, its own next failure skips the failed version
    commit(repo, "roll back churn")
    code, out, err = charter(repo, "fallback", "churn", "--report", str(report(tmp_path, "aaaaaaaaaaaa", False)),
                             "--store", str(store), capsys=capsys)
    assert code == 0, err
    assert json.loads((repo / LOCK).read_text())["models"]["churn"]["version"] == example_version()


def test_versions_the_store_lost_are_passed_over(released, tmp_path, capsys):
    repo, store = released
    stored(store, example_version(), "bbbbbbbbbbbb")  # aaaa's package is gone
    description = tmp_path / "fallback.md"
    code, out, err = charter(repo, "fallback", "churn", "--report", str(report(tmp_path, "bbbbbbbbbbbb", False)),
                             "--store", str(store), "--description", str(description), capsys=capsys)
    assert code == 0, err
    assert json.loads((repo / LOCK).read_text())["models"]["churn"]["version"] == example_version()
    assert "Passed over: `aaaaaaaaaaaa` (not in the artifact store)." in description.read_text()


def test_nothing_to_go_back_to_is_an_error_that_says_why(released, tmp_path, capsys):
    repo, store = released
    stored(store, "bbbbbbbbbbbb")
    before = git(repo, "status", "--porcelain")
    code, _, err = charter(repo, "fallback", "churn", "--report", str(report(tmp_path, "bbbbbbbbbbbb", False)),
                           "--store", str(store), capsys=capsys)
    assert code == 1
    assert "no earlier version can serve instead: aaaaaaaaaaaa (not in the artifact store)" in err
    assert git(repo, "status", "--porcelain") == before
    assert not (store / "fallbacks").exists()


@pytest.mark.parametrize("passed, said", [(True, "passed its gates"), (None, "was not judged by gates")])
def test_passing_or_unjudged_gates_change_nothing(released, tmp_path, capsys, passed, said):
    repo, store = released
    stored(store, example_version(), "aaaaaaaaaaaa", "bbbbbbbbbbbb")
    code, out, err = charter(repo, "fallback", "churn", "--report", str(report(tmp_path, "bbbbbbbbbbbb", passed)),
                             "--store", str(store), capsys=capsys)
    assert code == 0, err
    assert said in out and "nothing to roll back" in out
    assert git(repo, "status", "--porcelain") == ""


def test_bad_reports_are_clear_errors(released, tmp_path, capsys):
    repo, store = released
    stored(store, example_version(), "aaaaaaaaaaaa", "bbbbbbbbbbbb")
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    not_a_report = tmp_path / "list.json"
    not_a_report.write_text("[1, 2]")
    bad_gates = report(tmp_path, "bbbbbbbbbbbb", False)
    bad_gates.write_text(bad_gates.read_text().replace('"passed": false, "gates"', '"passed": "no", "gates"', 1))
    cases = [(not_json, "is not a JSON monitor report"), (not_a_report, "is not a monitor report"),
             (tmp_path / "missing.json", "cannot read the monitor report"),
             (report(tmp_path, "x", False, model="delivery-time"), "reports on `delivery-time`, not `churn`"),
             (report(tmp_path, "aaaaaaaaaaaa", False), "but charter.lock serves bbbbbbbbbbbb"),
             (bad_gates, "`gates` is not a gate verdict")]
    for path, message in cases:
        code, _, err = charter(repo, "fallback", "churn", "--report", str(path), "--store", str(store),
                               capsys=capsys)
        assert code == 1 and message in err and "Traceback" not in err, (path, err)
    assert git(repo, "status", "--porcelain") == ""

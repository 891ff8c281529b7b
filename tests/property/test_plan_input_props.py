"""Property tests of `charter plan`'s inputs: one random change, exactly one reported input.

For a random single change to the bytes of a committed data file, to a model's version in
`charter.lock` or to a committed generated file, the plan names that input (the data change
of that DataSource, the version change of that model, the drift of that file) and nothing
else. And plan(A, A) is empty, for revisions whose specs do not parse or validate too.

One temporary repository per module (the example with its lock and generated files committed
on `main`); each example resets a `prop` branch to `main`, commits its change there and plans.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from compiler.cli import main
from compiler.gitops.plan import make_plan
from tests.gitops.conftest import commit, git

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INPUTS = ("resource_changes", "unknown_resources", "data_changes", "lock_changes", "drift", "generated_changes")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from tests.conftest import EXAMPLE, copy_example

    dest = copy_example(tmp_path_factory.mktemp("plan-props") / "repo", (*EXAMPLE, "charter.lock"))
    git(dest, "init", "-q", "-b", "main")
    assert main(["compile", "--root", str(dest)]) == 0
    commit(dest, "example, lock and generated files")
    return dest


def fresh(repo: Path) -> Path:
    """The `prop` branch checked out at `main`, with nothing left of the last example."""
    git(repo, "checkout", "-q", "-f", "-B", "prop", "main")
    git(repo, "clean", "-q", "-fdx")
    return repo


def only(plan: dict, **expected) -> None:
    """The plan's inputs are exactly `expected` (each key of INPUTS not given is empty)."""
    for key in INPUTS:
        if key not in expected:
            assert plan[key] == [], key
    assert plan["problems"] == []


def _sources(repo: Path) -> dict[str, str]:
    """Committed data file -> its DataSource's name."""
    out = {}
    for file in sorted((repo / "specs").glob("*/*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            if doc and doc.get("kind") == "DataSource" and str(doc["spec"].get("path", "")).endswith(".csv"):
                out[doc["spec"]["path"]] = doc["metadata"]["name"]
    return out


def edited(data: bytes, op: str, at: float, byte: int) -> bytes:
    """`data` with one byte replaced (by another), inserted or deleted at relative position `at`."""
    i = min(int(at * len(data)), len(data) - 1)
    if op == "replace":
        return data[:i] + bytes([byte if byte != data[i] else (byte + 1) % 256]) + data[i + 1:]
    if op == "insert":
        return data[:i] + bytes([byte]) + data[i:]
    return data[:i] + data[i + 1:]


byte_edits = st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.floats(0, 1), st.integers(0, 255))


@SETTINGS
@given(st.data(), byte_edits)
def test_a_data_byte_change_is_that_data_source_and_nothing_else(base, data, edit):
    repo = fresh(base)
    sources = _sources(repo)
    path = data.draw(st.sampled_from(sorted(sources)))
    (repo / path).write_bytes(edited((repo / path).read_bytes(), *edit))
    commit(repo, "edit data")
    plan = make_plan(repo, "main", "prop")
    (d,) = plan["data_changes"]
    assert (d["source"], d["path"], d["rule"]) == (sources[path], path, "P207")
    assert d["before_blob"] != d["after_blob"]
    only(plan, data_changes=1)
    assert plan["impact"] and all(i["rerun"][0] == "ingest" for i in plan["impact"].values())
    assert set(plan["impact"]) == set(d["models"])


versions = st.text("0123456789abcdef", min_size=12, max_size=12)


@SETTINGS
@given(st.data(), versions, st.booleans())
def test_a_lock_version_change_is_that_model_and_nothing_else(base, data, version, recompile):
    repo = fresh(base)
    lock = json.loads((repo / "charter.lock").read_text())
    model = data.draw(st.sampled_from(sorted(lock["models"])))
    before = lock["models"][model]["version"]
    assume(version != before)
    lock["models"][model]["version"] = version
    (repo / "charter.lock").write_text(json.dumps(lock, indent=2) + "\n")
    if recompile:  # what `charter rollback` commits; without it the manifests are stale, which is drift
        assert main(["compile", "--root", str(repo)]) == 0
    commit(repo, "move a version")
    plan = make_plan(repo, "main", "prop")
    (v,) = plan["lock_changes"]
    assert (v["model"], v["from"], v["to"], v["action"], v["rule"]) == (model, before, version, "promotion", "P208")
    manifests = [g["path"] for g in plan["generated_changes"]]
    assert manifests and all(Path(p).stem == model for p in manifests)  # only that model's manifests
    if recompile:
        only(plan, lock_changes=1, generated_changes=1)
    else:
        assert sorted(d["path"] for d in plan["drift"]) == sorted(manifests)
        only(plan, lock_changes=1, generated_changes=1, drift=1)
    assert set(plan["impact"]) == {model} and plan["impact"][model]["rerun"] == []


@SETTINGS
@given(st.data(), byte_edits)
def test_a_hand_edited_generated_file_is_that_drift_and_nothing_else(base, data, edit):
    repo = fresh(base)
    files = sorted(str(p.relative_to(repo)) for p in (repo / "generated").rglob("*") if p.is_file())
    path = data.draw(st.sampled_from(files))
    (repo / path).write_bytes(edited((repo / path).read_bytes(), *edit))
    commit(repo, "edit a generated file by hand")
    plan = make_plan(repo, "main", "prop")
    assert [(d["path"], d["rule"]) for d in plan["drift"]] == [(path, "P110")]
    only(plan, drift=1)
    assert plan["summary"]["blocked"] and path in plan["summary"]["blocked_reason"]


def _spec_files(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in (repo / "specs").glob("*/*.yaml")) + ["charter.yaml"]


breakages = st.sampled_from(["garbage-line", "truncate", "delete", "bytes", "drop-line"])


@SETTINGS
@given(st.data(), breakages, st.floats(0, 1), st.binary(min_size=1, max_size=4))
def test_plan_of_a_revision_against_itself_is_empty_even_when_invalid(base, data, how, at, junk):
    repo = fresh(base)
    path = data.draw(st.sampled_from(_spec_files(repo)))
    file = repo / path
    raw = file.read_bytes()
    lines = raw.splitlines(keepends=True)
    i = min(int(at * len(lines)), len(lines) - 1)
    if how == "delete":
        file.unlink()
    elif how == "truncate":
        file.write_bytes(raw[: int(at * len(raw))])
    elif how == "bytes":
        j = int(at * len(raw))
        file.write_bytes(raw[:j] + junk + raw[j:])
    elif how == "garbage-line":
        file.write_bytes(b"".join(lines[:i] + [b"{{ not: [yaml\n"] + lines[i + 1:]))
    else:
        file.write_bytes(b"".join(lines[:i] + lines[i + 1:]))
    assume(not file.exists() or file.read_bytes() != raw)  # truncating at the end changes nothing to commit
    sha = commit(repo, "break a spec")
    plan = make_plan(repo, sha, sha)
    note(f"{how} {path}: problems {plan['problems']}")
    assume(plan["summary"]["invalid"] or plan["problems"])  # the property is about broken revisions
    for key in INPUTS:
        assert plan[key] == [], key
    assert plan["impact"] == {} and plan["approvals"] == []
    counts = {k: v for k, v in plan["summary"].items() if isinstance(v, int) and not isinstance(v, bool)}
    assert not any(counts.values()), counts

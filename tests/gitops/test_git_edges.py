"""Git edges: file names in any bytes, shallow clones, roots in sub-folders, usage errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from compiler.cli import main
from tests.gitops.conftest import GIT, charter, commit, edit, git

SUITE = """apiVersion: charter/v1
kind: ValidationSuite
metadata:
  name: extra-checks
spec:
  source: customers
  rules:
    - {rule: not_null, columns: [customer_id]}
"""
LATIN1 = os.fsdecode(b"caf\xe9.yaml")  # not UTF-8: a surrogate escape inside Charter


def _latin1_spec(repo) -> None:
    (repo / "specs" / "churn" / LATIN1).write_bytes(SUITE.encode())
    edit(repo, "specs/churn/rollout.yaml", "covers: [customers,", "covers: [extra-checks, customers,")


@pytest.mark.parametrize("command", [("plan", "--base", "main"), ("plan", "--base", "main", "--format", "json"),
                                     ("status",), ("diff", "main"), ("compile", "--check")])
def test_a_file_name_in_any_bytes_is_shown_escaped(repo, capsys, command):
    _latin1_spec(repo)
    code, out, err = charter(repo, *command, capsys=capsys)
    assert "internal error" not in err and "Traceback" not in err
    if "json" in command:
        doc = json.loads(out)
        assert "specs/churn/caf\\xe9.yaml" in [r["file"] for r in doc["resource_changes"]]
    assert code == {"compile": 1, "diff": 0}.get(command[0], 2), err  # compile --check: nothing compiled yet


def test_history_and_changelog_read_a_name_in_any_bytes(repo, capsys):
    _latin1_spec(repo)
    commit(repo, "a suite in a latin-1 file")
    for command in (("history", "extra-checks"), ("changelog", "--since", "main"),
                    ("plan", "--base", "main", "--head", "feature")):
        code, out, err = charter(repo, *command, capsys=capsys)
        assert "internal error" not in err and code in (0, 2), (command, err)
        assert "extra-checks" in out


def test_a_shallow_clone_without_the_merge_base_says_how_to_deepen(repo, tmp_path, capsys):
    edit(repo, "specs/churn/model.yaml", "Predicts which", "Guesses which")
    commit(repo, "on the branch")
    git(repo, "checkout", "-q", "main")
    edit(repo, "specs/churn/data.yaml", "tenure_months, min: 0,", "tenure_months, min: 1,")
    commit(repo, "on main, after the branch point")
    clone = tmp_path / "shallow"
    subprocess.run([*GIT, "clone", "-q", "--depth", "1", "--branch", "feature", repo.as_uri(), str(clone)], check=True)
    subprocess.run([*GIT, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main"], cwd=clone,
                   check=True)
    code, out, err = charter(clone, "plan", "--base", "origin/main", capsys=capsys)
    assert code == 1 and out == ""
    assert "`git fetch --deepen=100 origin`" in err and "`git fetch --unshallow origin`" in err
    subprocess.run([*GIT, "fetch", "-q", "--unshallow", "origin"], cwd=clone, check=True)
    code, out, err = charter(clone, "plan", "--base", "origin/main", capsys=capsys)
    assert code == 2 and "Guesses which" in out and "tenure_months" not in out  # main's change is not blamed on it


def test_planning_from_the_repository_root_finds_roots_in_sub_folders(tmp_path, capsys):
    from tests.conftest import REPO

    top = tmp_path / "mono"
    for name in ("ml", "other/ml2"):
        (top / name).mkdir(parents=True)
        shutil.copy(REPO / "charter.yaml", top / name / "charter.yaml")
        shutil.copytree(REPO / "specs", top / name / "specs")
    git(top.parent, "init", "-q", "-b", "main", str(top))
    commit(top, "two projects")
    git(top, "checkout", "-q", "-b", "feature")
    edit(top, "ml/specs/churn/model.yaml", "min: 0.70}", "min: 0.65}")
    code, out, err = charter(top, "plan", "--base", "main", capsys=capsys)
    assert code == 3 and "Charter root `ml`" in out and "Charter root `other/ml2`" in out and "P103" in out
    code, out, _ = charter(top, "plan", "--base", "main", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert code == 3 and sorted(doc["roots"]) == ["ml", "other/ml2"]
    assert doc["roots"]["other/ml2"]["resource_changes"] == []


def test_a_repository_without_a_charter_root_says_so(tmp_path, capsys):
    (tmp_path / "README.md").write_text("hello\n")
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "no specs")
    code, out, err = charter(tmp_path, "plan", "--base", "main", capsys=capsys)
    assert code == 1 and "no Charter root" in err


@pytest.mark.parametrize("args", [
    ["plan", "--bse", "main"], ["plan", "--format", "yaml"], ["plan", "--base", ""], ["plan", "--head", " "],
    ["diff"], ["history"], ["changelog", "--format", "text"], ["status", "--format", "yaml"],
    ["rollback", "churn"], ["status", "--nope"],
])
def test_usage_errors_of_git_commands_exit_1_not_2(repo, capsys, args):
    code = main([*args, "--root", str(repo)])
    assert code == 1, capsys.readouterr().err


def test_other_commands_keep_exit_2_for_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["validate", "--nope"])
    assert exc.value.code == 2


def test_prefetched_objects_read_as_one_by_one(repo):
    """`Git.prefetch` (one cat-file --batch for many objects) hands out what `read` and `read_rev` would."""
    from compiler.gitops.git import Git

    _latin1_spec(repo)
    head = commit(repo, "a spec whose name is not UTF-8")
    files = Git(repo).tree(head, ["specs"])
    one_by_one = Git(repo)
    expected = {p: one_by_one.read(b) for p, b in files.items()}
    expected_lock = one_by_one.read_rev(head, "charter.lock")
    batched = Git(repo)
    batched.prefetch(blobs=files.values(), revs=[(head, "charter.lock"), (head, "no/such/file.yaml"),
                                                 (head, "specs/churn/" + LATIN1)])
    assert {p: batched.read(b) for p, b in files.items()} == expected
    assert batched.read_rev(head, "charter.lock") == expected_lock
    assert batched.read_rev(head, "no/such/file.yaml") is None
    assert batched.read_rev(head, "specs/churn/" + LATIN1) == SUITE.encode()
    assert batched._read == {}  # each handed out once, nothing kept

"""A temporary git repository holding the example, and helpers to commit edits to it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compiler.cli import main

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def edit(repo: Path, path: str, old: str, new: str, count: int = 1) -> None:
    file = repo / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new, count), encoding="utf-8")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def charter(repo: Path, *args: str, capsys) -> tuple[int, str, str]:
    code = main([*args, "--root", str(repo)])
    out = capsys.readouterr()
    return code, out.out, out.err


def plan_json(repo: Path, capsys, *args: str, codes: tuple[int, ...] = (0, 2, 3)) -> tuple[int, dict]:
    code, out, err = charter(repo, "plan", "--format", "json", *args, capsys=capsys)
    assert code in codes, err
    assert "Traceback" not in err
    return code, json.loads(out)


@pytest.fixture
def repo(example_repo: Path) -> Path:
    """The example on `main`, with a `feature` branch checked out."""
    git(example_repo, "checkout", "-q", "-b", "feature")
    return example_repo

"""Shared fixtures and the `--update-golden` flag."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite expected outputs of golden tests")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def need_shared() -> Path:
    """The shared folder beside the repo; a test skips without it, but fails under CI."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing and CI is set")
        pytest.skip(f"{SHARED} is missing")
    return SHARED


def run_charter(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess, as a user would."""
    full_env = {**os.environ}
    full_env.pop("GITHUB_ACTIONS", None)  # the tests choose the format, not the CI they run in
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


# The worked example's parts: its specs and settings, and what compile and run committed.
EXAMPLE = ("charter.yaml", "specs", "schemas")
COMMITTED = ("charter.lock", ".gitignore", "generated", ".github", "requirements")


def example_version(model: str = "churn") -> str:
    """The version of `model` that the committed charter.lock promotes (what a run of the example gives)."""
    import json

    return json.loads((REPO / "charter.lock").read_text(encoding="utf-8"))["models"][model]["version"]


def copy_example(dest: Path, parts: tuple[str, ...] = EXAMPLE) -> Path:
    """Copy parts of this repository's example (files or folders) into `dest`, created here."""
    dest.mkdir(parents=True)
    for name in parts:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, dest / name)
    return dest


def give_pods(repo: Path, variable: str, secret: str = "app-db") -> None:
    """Give the orchestrators' pods of the example's copy `variable` from a Secret (a database URL: X323)."""
    config = repo / "charter.yaml"
    anchor = "      AWS_SECRET_ACCESS_KEY: {name: charter-store, key: secret-access-key}\n"
    text = config.read_text(encoding="utf-8")
    assert anchor in text, "the example's charter.yaml no longer gives its pods the store's Secret"
    if f"      {variable}: " in text:
        return
    config.write_text(text.replace(anchor, anchor + f"      {variable}: {{name: {secret}, key: url}}\n"),
                      encoding="utf-8")


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A temporary git repository holding a copy of the worked example."""
    dest = copy_example(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], cwd=dest, check=True)
    return dest

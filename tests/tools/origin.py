"""A test tool: the example as a developer's clone of a bare `origin`, for the CI playback tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import COMMITTED, EXAMPLE, copy_example

GIT = ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def example_origin(tmp: Path) -> tuple[Path, Path]:
    """(developer's clone, bare origin), both holding the example with its generated files and lock."""
    dev = copy_example(tmp / "dev", (*EXAMPLE, *COMMITTED))
    git("init", "-q", "-b", "main", cwd=dev)
    git("add", "-A", cwd=dev)
    git("commit", "-qm", "the example", cwd=dev)
    origin = tmp / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(dev), str(origin)], check=True)
    git("config", "receive.advertisePushOptions", "true", cwd=origin)  # GitLab's merge request options
    git("remote", "add", "origin", str(origin), cwd=dev)
    git("fetch", "-q", "origin", cwd=dev)
    return dev, origin


def merge(dev: Path, branch: str) -> tuple[str, str]:
    """Merge origin's `branch` into main as a reviewer would; (main before, main after)."""
    git("fetch", "-q", "origin", cwd=dev)
    git("switch", "-q", "main", cwd=dev)
    git("reset", "-q", "--hard", "origin/main", cwd=dev)
    before = git("rev-parse", "HEAD", cwd=dev)
    git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}", cwd=dev)
    git("push", "-q", "origin", "main", cwd=dev)
    return before, git("rev-parse", "HEAD", cwd=dev)


def drift_customers(dev: Path) -> None:
    """Commit a month of customers whose contracts all drifted to `monthly`, and push it."""
    data = dev / "specs/data/customers.csv"
    rows = data.read_text().splitlines()
    contract = rows[0].split(",").index("contract")
    data.write_text("\n".join([rows[0]] + [",".join("monthly" if i == contract else v
                                                    for i, v in enumerate(r.split(","))) for r in rows[1:]]) + "\n")
    git("commit", "-qam", "the latest month of customers", cwd=dev)
    git("push", "-q", "origin", "main", cwd=dev)

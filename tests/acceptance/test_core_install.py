"""The core install (`pip install charter`, no `[run]` extra): every command but the runtime.

The runtime libraries are made unimportable in the charter process (as if never installed),
then each core command runs on a repository holding the example with its committed
generated files; `run`, `check-data` and `monitor` must say what to install and exit 2.
.ci/run also does this with a real core-only virtual environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli import RUN_EXTRA
from tests.conftest import EXAMPLE, REPO, copy_example

# The `run` extra's import names, with what they pull in.
ABSENT = ("polars", "pyarrow", "pandas", "numpy", "sklearn", "skops", "scipy", "joblib")
LAUNCH = ("import sys\n"
          f"for name in {ABSENT!r}: sys.modules[name] = None\n"
          "from compiler.cli import main\n"
          "code = main(sys.argv[1:])\n"
          f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {ABSENT!r} and sys.modules[m] is not None)\n"
          "assert not leaked, leaked\n"
          "sys.exit(code)\n")


def core(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", LAUNCH, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    dest = copy_example(tmp_path_factory.mktemp("core") / "repo", (*EXAMPLE, "charter.lock", "generated", ".github"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], cwd=dest, check=True)
    return dest


@pytest.mark.parametrize("args", [
    ("validate",), ("compile", "--check"), ("schema", "--check"), ("explain", "X301"),
    ("plan", "--base", "HEAD"), ("diff", "HEAD"), ("history", "churn"), ("changelog",), ("status",),
])  # fmt: skip
def test_core_commands_work_without_the_runtime(repo, args):
    result = core(*args, cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compile_writes_every_target_without_the_runtime(repo, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(repo, work)
    shutil.rmtree(work / "generated")
    result = core("compile", cwd=work)
    assert result.returncode == 0, result.stderr
    assert core("compile", "--check", cwd=work).returncode == 0
    names = [sorted(p.name for p in (tree / "generated").iterdir()) for tree in (work, repo)]
    assert names[0] == names[1]


@pytest.mark.parametrize("args", [("run", "churn"), ("check-data", "customers"),
                                  ("monitor", "churn", "--data", "customers")])
def test_runtime_commands_say_what_to_install(repo, args):
    result = core(*args, cwd=repo)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(RUN_EXTRA), result.stderr
    assert "Traceback" not in result.stderr
    assert f"`charter {args[0]}` runs pipelines" in result.stderr

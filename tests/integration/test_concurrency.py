"""Integration tier: two runs at once, and a kill at every point of packaging and lock writing.

- Two models run at the same time, twenty times over, in one repository: both lock entries
  survive every time (every read-modify-write of charter.lock holds a file lock).
- A run is killed (`os._exit`, no clean-up) at each file operation that publishes the
  package, promotes it or writes the lock, counted exactly, not by timing: afterwards the lock
  still parses and points only at complete packages, and the next run completes, removing the
  killed run's temp folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
pytest.importorskip("sklearn")

CHILD = """
import os, shutil, sys
from pathlib import Path
root, kill_at = Path(sys.argv[1]), int(sys.argv[2])
from compiler.driver import compile_tree
from compiler.execute import steps
from compiler.execute.runner import Runner

state = {"armed": False, "count": 0}
def counted(real):
    def op(*args, **kwargs):
        if state["armed"]:
            state["count"] += 1
            if state["count"] == kill_at:
                os._exit(137)  # a kill: no finally, no clean-up
        return real(*args, **kwargs)
    return op
os.replace = counted(os.replace)
shutil.copy2 = counted(shutil.copy2)
package = steps.run_package
def armed(*args, **kwargs):
    state["armed"] = True
    return package(*args, **kwargs)
steps.run_package = armed
_, graph = compile_tree(root)
result = Runner(graph, root).run("churn")
print("OPS", state["count"], result.promoted)
"""


def repo(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(REPO / "charter.yaml", dest)
    shutil.copytree(REPO / "specs", dest / "specs")
    return dest


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_two_models_at_once_keep_both_lock_entries(tmp_path):
    root = repo(tmp_path / "repo")
    charter = [sys.executable, "-m", "compiler", "run"]
    for model in ("churn", "delivery-time"):  # train once; the races below are promotions
        subprocess.run([*charter, model], cwd=root, env=env(), check=True, capture_output=True)
    for round_ in range(20):
        (root / "charter.lock").unlink()
        both = [subprocess.Popen([*charter, m], cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for m in ("churn", "delivery-time")]
        for proc in both:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()
        lock = json.loads((root / "charter.lock").read_text())
        assert sorted(lock["models"]) == ["churn", "delivery-time"], f"round {round_}: {sorted(lock['models'])}"


def complete(store: Path, model: str, version: str) -> bool:
    folder = store / "models" / model / version
    return all((folder / name).is_file() for name in ("_SUCCESS", "model.skops", "metrics.json", "run.json",
                                                        "model_card.md", "profile.json"))


def test_a_kill_at_each_point_leaves_a_lock_that_points_at_a_complete_package(tmp_path):
    base = repo(tmp_path / "base")
    from compiler.driver import compile_tree
    from compiler.execute.runner import Runner

    _, graph = compile_tree(base)
    Runner(graph, base).run("churn", until="gate")  # every step but the package is in the store
    dry = tmp_path / "dry"
    shutil.copytree(base, dry)
    counted = subprocess.run([sys.executable, "-c", CHILD, str(dry), "0"], env=env(), capture_output=True, text=True)
    assert counted.returncode == 0, counted.stderr
    _, ops, version = counted.stdout.split()
    assert int(ops) >= 4  # package files, the step's publication, the promotion, the lock
    for kill_at in range(1, int(ops) + 1):
        work = tmp_path / f"kill-{kill_at}"
        shutil.copytree(base, work)
        killed = subprocess.run([sys.executable, "-c", CHILD, str(work), str(kill_at)], env=env(),
                                capture_output=True, text=True)
        assert killed.returncode == 137, (kill_at, killed.stdout, killed.stderr)
        store = work / ".charter/artifacts"
        if (work / "charter.lock").exists():
            lock = json.loads((work / "charter.lock").read_text())  # never a partial file
            for model, entry in lock["models"].items():
                assert complete(store, model, entry["version"]), (kill_at, model)
        for folder in (store / "models/churn").glob("*") if (store / "models/churn").exists() else []:
            assert folder.name.startswith(".") or complete(store, "churn", folder.name), (kill_at, folder)
        again = subprocess.run([sys.executable, "-c", CHILD, str(work), "0"], env=env(), capture_output=True,
                               text=True)
        assert again.returncode == 0 and again.stdout.split()[-1] == version, (kill_at, again.stderr)
        assert complete(store, "churn", json.loads((work / "charter.lock").read_text())["models"]["churn"]["version"])
        leftovers = [p for p in store.rglob(".*") if p.is_dir() and p.name.split(".")[-2:-1] != []
                     and p.name.split(".")[-2].isdigit()]
        assert leftovers == [], (kill_at, leftovers)  # the killed run's temp folders are gone

"""charter.lock's read-modify-write under the inter-process lock: no update is ever lost."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from compiler.execute.lock import read_lock, update_lock


def _writer(root: str, model: str, rounds: int) -> None:
    for i in range(rounds):
        def change(lock: dict, i: int = i) -> bool:
            lock["models"][f"{model}-{i}"] = {"version": str(i)}
            return True

        update_lock(Path(root), change)


def test_two_processes_updating_the_lock_lose_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), m, 150)) for m in ("a", "b")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    models = read_lock(tmp_path)["models"]
    assert len(models) == 300, f"{300 - len(models)} updates lost"
    assert json.loads((tmp_path / "charter.lock").read_text())["lock_version"] == 2


def test_an_unchanged_lock_is_not_written(tmp_path):
    assert update_lock(tmp_path, lambda lock: False) is False
    assert not (tmp_path / "charter.lock").exists()

"""`charter.lock`: per model, what was last promoted, and never where.

Each entry holds the version (a hash of everything that made the model), the spec hash, the
data fingerprint and the metrics, never a path: every reader finds the package in its own
artifact store, under `models/<model>/<version>/`. It is committed, so git history holds
every promotion, and it is the baseline that `max_drop` gates and `charter plan` compare
against. Version 1 locks also held `artifact_uri` (a path on the machine that trained): it
is ignored, and dropped at the next promotion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from compiler.atomic import write_atomic

LOCK_FILE = "charter.lock"
# The inter-process lock that every read-modify-write of charter.lock holds (two models run at
# once would otherwise each write its own entry over the other's). Under `.charter/`: git ignores it.
MUTEX = Path(".charter") / "locks" / "charter.lock.lock"
LOCK_VERSION = 2


def read_lock(root: Path) -> dict:
    path = root / LOCK_FILE
    if not path.is_file():
        return {"lock_version": LOCK_VERSION, "models": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        from compiler.execute.failure import RunError

        raise RunError(f"{LOCK_FILE} is not valid JSON ({exc})",
                       hint=f"restore it from git: git checkout {LOCK_FILE}") from exc
    data.setdefault("models", {})
    return data


def write_lock(root: Path, lock: dict) -> None:
    lock["lock_version"] = LOCK_VERSION
    write_atomic(root / LOCK_FILE, json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def holding(root: Path, timeout: float = 300) -> Iterator[None]:
    """Hold the repository's charter.lock mutex (the `filelock` package: fcntl/msvcrt locks)."""
    from filelock import FileLock, Timeout

    path = root / MUTEX
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path), timeout=timeout):
            yield
    except Timeout:
        from compiler.execute.failure import RunError

        raise RunError(f"another charter process has held {MUTEX} for {timeout:.0f} s",
                       hint="wait for it to finish; if none is running, remove the file") from None


def update_lock(root: Path, change: Callable[[dict], bool]) -> bool:
    """Read charter.lock, let `change` edit it (returning whether it did), and write it back.

    All under the mutex, so concurrent updates of different models never lose one another.
    """
    with holding(root):
        lock = read_lock(root)
        if not change(lock):
            return False
        write_lock(root, lock)
        return True

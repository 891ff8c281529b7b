"""`charter.lock`: per model, what was last promoted (spec hash, data fingerprint, version, metrics, artifact URI).

It is committed, so git history holds every promotion, and it is the baseline that `max_drop` gates
and `charter plan` compare against.
"""

from __future__ import annotations

import json
from pathlib import Path

from compiler.atomic import write_atomic

LOCK_FILE = "charter.lock"
LOCK_VERSION = 1


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

"""The prediction log: what a predictor served, appended to the artifact store in batches.

Layout: `predictions/<model>/<environment>/<YYYY-MM-DD>/<HHMMSS>-<writer>-<seq>.jsonl`, one
JSON object per served row:

    {"time": "2026-12-02T14:51:42.123456Z", "request_id": "…", "row": 0, "model": "churn",
     "version": "66b12631da85", "environment": "production", "key": "C000123",
     "inputs": {...}, "prediction": false, "guardrail": null, "probabilities": {...}}

Files are written whole (an object in a bucket, or renamed into place in a folder), so a
reader never sees half a batch. The writer keeps a bounded buffer: when the store is slower
than the traffic, rows beyond `max_buffer_rows` are dropped and counted, never the request.
Columns a policy declares sensitive (`exclude`) are never written.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections import deque
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compiler.execute.durations import seconds

ROOT = "predictions"


def folder(model: str, environment: str) -> str:
    return f"{ROOT}/{model}/{environment}"


def sampled(request_id: str, rate: float) -> bool:
    """Whether a request is logged: a hash of its id, so a retried request is sampled alike."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v.item() if hasattr(v, "item") else v


class LogWriter:
    """A bounded buffer of served rows, flushed to the store by one background thread."""

    def __init__(self, store, model: str, environment: str, policy: dict, on_drop=None):
        self.store, self.model, self.environment = store, model, environment
        self.where = ""  # shown to the user: where the rows go
        self.rate = float(policy.get("sample", 1.0))
        self.exclude = set(policy.get("exclude") or [])
        self.key = policy.get("key")
        self.batch_rows = int(policy.get("batch_rows", 1000))
        self.flush_every = max(1, seconds(policy.get("flush_every") or "10s"))
        self.buffer: deque[dict] = deque()
        self.limit = int(policy.get("max_buffer_rows", 100_000))
        self.dropped = 0
        self.on_drop = on_drop
        self.failures = 0
        self._seq = 0
        self._writer = f"{socket.gethostname()[:40]}-{os.getpid()}"
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="charter-prediction-log", daemon=True)
        self._thread.start()

    def append(self, frame, served, request_id: str, version: str, keys: list | None = None) -> None:
        if not sampled(request_id, self.rate):
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        columns = [c for c in frame.columns if c not in self.exclude]
        rows = frame.select(columns).to_dicts()
        classes = [str(c).lower() if isinstance(_value(c), bool) else str(_value(c)) for c in served.classes or []]
        records = []
        for i, inputs in enumerate(rows):
            record = {"time": now, "request_id": request_id, "row": i, "model": self.model, "version": version,
                      "environment": self.environment, "key": _value(keys[i]) if keys else None,
                      "inputs": {k: _value(v) for k, v in inputs.items()}, "prediction": _value(served.labels[i]),
                      "guardrail": served.decided_by[i]}  # fmt: skip
            if served.proba is not None:
                record["probabilities"] = dict(zip(classes, map(float, served.proba[i]), strict=True))
            records.append(record)
        with self._lock:
            room = self.limit - len(self.buffer)
            if room < len(records):
                lost = len(records) - max(room, 0)
                self.dropped += lost
                if self.on_drop is not None:
                    self.on_drop(lost)
                records = records[:max(room, 0)]
            self.buffer.extend(records)
            full = len(self.buffer) >= self.batch_rows
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_every)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        while True:
            with self._lock:
                if not self.buffer:
                    return
                batch = [self.buffer.popleft() for _ in range(min(self.batch_rows, len(self.buffer)))]
                self._seq += 1
                seq = self._seq
            stamp = datetime.now(UTC)
            rel = (f"{folder(self.model, self.environment)}/{stamp:%Y-%m-%d}/"
                   f"{stamp:%H%M%S}-{self._writer}-{seq:06d}.jsonl")
            data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in batch).encode()
            try:
                self.store.put(rel, data)
            except Exception:  # noqa: BLE001 - a failing store loses log rows, never a request
                self.failures += 1
                with self._lock:
                    self.dropped += len(batch)
                if self.on_drop is not None:
                    self.on_drop(len(batch))
                return

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()


def read_log(store, model: str, environment: str, since: timedelta | None = None,
             version: str | None = None, now: datetime | None = None) -> list[dict]:
    """The logged rows of `model` in `environment`, oldest first; within `since` of now, of `version`."""
    now = now or datetime.now(UTC)
    start = now - since if since is not None else None
    first_day = start.strftime("%Y-%m-%d") if start is not None else ""
    rows: list[dict] = []
    for rel in store.listing(folder(model, environment)):
        if not rel.endswith(".jsonl"):
            continue
        day = rel.rsplit("/", 2)[-2]
        if day < first_day:
            continue
        for line in store.get(rel).decode("utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if version is not None and record.get("version") != version:
                continue
            if start is not None and _time(record["time"]) < start:
                continue
            rows.append(record)
    rows.sort(key=lambda r: (r["time"], r["request_id"], r["row"]))
    return rows


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

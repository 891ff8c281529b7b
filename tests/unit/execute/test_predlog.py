"""The prediction log: sampled, without sensitive columns, bounded, written whole, read back by time and version."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

pl = pytest.importorskip("polars")

from compiler.execute.predict import Prediction  # noqa: E402
from compiler.execute.predlog import LogWriter, read_log, sampled  # noqa: E402
from compiler.execute.store import open_store  # noqa: E402


def _served(n: int) -> tuple[pl.DataFrame, Prediction]:
    frame = pl.DataFrame({"age": list(range(n)), "email": [f"u{i}@x.org" for i in range(n)]})
    proba = np.column_stack([np.linspace(0, 1, n), 1 - np.linspace(0, 1, n)])
    return frame, Prediction(np.array([i % 2 == 0 for i in range(n)]), proba, [False, True],
                             ["young" if i < 2 else None for i in range(n)], {"young": min(n, 2)})


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    uri = str(tmp_path / "store") if request.param == "local" else f"memory://log-{tmp_path.name}"
    return open_store(uri, tmp_path)


def test_rows_are_written_in_batches_without_excluded_columns_and_read_back(store):
    writer = LogWriter(store, "m", "production", {"exclude": ["email"], "batch_rows": 4, "flush_every": "1h"})
    frame, served = _served(10)
    writer.append(frame, served, "req-1", "v1", keys=[f"k{i}" for i in range(10)])
    writer.close()
    files = store.listing("predictions/m/production")
    assert len(files) == 3 and all(f.endswith(".jsonl") for f in files)  # 4 + 4 + 2 rows
    rows = read_log(store, "m", "production")
    assert [r["row"] for r in rows] == list(range(10))
    first = rows[0]
    assert first["inputs"] == {"age": 0} and first["key"] == "k0" and first["guardrail"] == "young"
    assert first["prediction"] is True and first["probabilities"] == {"false": 0.0, "true": 1.0}
    assert (first["model"], first["version"], first["environment"]) == ("m", "v1", "production")
    assert all("email" not in json.dumps(r) for r in rows)


def test_reading_filters_by_version_and_time(store):
    writer = LogWriter(store, "m", "staging", {"batch_rows": 100})
    frame, served = _served(3)
    writer.append(frame, served, "a", "v1")
    writer.append(frame, served, "b", "v2")
    writer.close()
    assert len(read_log(store, "m", "staging")) == 6
    assert {r["version"] for r in read_log(store, "m", "staging", version="v2")} == {"v2"}
    later = datetime.now(UTC) + timedelta(hours=2)
    assert read_log(store, "m", "staging", since=timedelta(hours=1), now=later) == []
    assert len(read_log(store, "m", "staging", since=timedelta(hours=3), now=later)) == 6
    assert read_log(store, "m", "production") == []


def test_sampling_is_a_share_of_requests_decided_by_their_id():
    ids = [f"req-{i}" for i in range(4000)]
    share = sum(sampled(i, 0.25) for i in ids) / len(ids)
    assert 0.22 < share < 0.28
    assert [sampled(i, 0.25) for i in ids[:50]] == [sampled(i, 0.25) for i in ids[:50]]  # a retry: the same answer
    assert all(sampled(i, 1.0) for i in ids[:10])


def test_a_full_buffer_drops_rows_and_counts_them_never_blocks(tmp_path):
    class Slow:
        def put(self, rel, data):
            raise OSError("the bucket is unreachable")

    drops = []
    writer = LogWriter(Slow(), "m", "production", {"max_buffer_rows": 5, "batch_rows": 1000, "flush_every": "1h"},
                       on_drop=drops.append)
    frame, served = _served(4)
    writer.append(frame, served, "a", "v1")
    writer.append(frame, served, "b", "v1")  # 3 of these 4 do not fit
    assert writer.dropped == 3 and drops == [3] and len(writer.buffer) == 5
    writer.close()  # the store fails: the 5 buffered rows are lost and counted, nothing raises
    assert writer.dropped == 8 and writer.failures == 1

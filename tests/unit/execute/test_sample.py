"""The training sample: seeded, stratified, the same rows whether the file is read lazily or whole."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pl = pytest.importorskip("polars")

from compiler.execute.ingest import read_source, read_training  # noqa: E402
from compiler.execute.sample import positions, sample_size  # noqa: E402

SCHEMA = [{"name": "id", "type": "integer", "nullable": False}, {"name": "amount", "type": "float"},
          {"name": "label", "type": "string"}]


def _table(n: int = 5000) -> pl.DataFrame:
    rng = np.random.RandomState(0)
    labels = np.where(rng.random_sample(n) < 0.1, "yes", "no").astype(object)
    labels[::97] = None  # a missing target is a stratum of its own
    return pl.DataFrame({"id": np.arange(n), "amount": rng.random_sample(n).round(4),
                         "label": pl.Series(labels.tolist(), dtype=pl.String)})


def _params(fmt: str, path: str, **sample) -> dict:
    spec = {"above": 1000, "rows": 800, "fraction": None, "seed": 7, "stratify_by": "label", **sample}
    return {"source": "events", "format": fmt, "path": path, "schema": SCHEMA, "limits": {}, "sample": spec}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    df = _table()
    df.write_parquet(tmp_path / "events.parquet", row_group_size=700)
    df.write_csv(tmp_path / "events.csv")
    (tmp_path / "events.csv.gz").write_bytes(gzip.compress((tmp_path / "events.csv").read_bytes(), mtime=0))
    df.write_ndjson(tmp_path / "events.jsonl")
    return tmp_path


def test_every_reader_draws_the_same_rows(files: Path):
    drawn = {}
    for fmt, name in (("parquet", "events.parquet"), ("csv", "events.csv"), ("csv", "events.csv.gz"),
                      ("jsonl", "events.jsonl")):
        df, record = read_training(_params(fmt, name), files, "sha256:same-data")
        assert record is not None and record["rows"] == df.height == 800 and record["of"] == 5000
        drawn[name] = (df, record["fingerprint"])
    first, fingerprint = drawn["events.parquet"]
    for name, (df, fp) in drawn.items():
        assert fp == fingerprint, name
        assert df.equals(first), name  # lazily read (parquet, csv, jsonl) or whole (gzip): the same rows
    ids = first["id"].to_list()
    assert ids == sorted(ids)  # in the source's order, so a time split still splits by time


def test_the_sample_keeps_class_shares_and_depends_on_the_seed(files: Path):
    whole = read_source(_params("parquet", "events.parquet"), files)
    df, _ = read_training(_params("parquet", "events.parquet"), files, "fp")
    for label in ("yes", "no", None):
        share = (whole["label"] == label).sum() if label else whole["label"].null_count()
        got = (df["label"] == label).sum() if label else df["label"].null_count()
        assert abs(got - share * 800 / 5000) <= 1, label
    again, _ = read_training(_params("parquet", "events.parquet"), files, "fp")
    other, _ = read_training(_params("parquet", "events.parquet", seed=8), files, "fp")
    assert again.equals(df) and not other.equals(df)


def test_a_source_within_the_budget_is_read_whole(files: Path):
    df, record = read_training(_params("parquet", "events.parquet", above=5000, rows=800), files, "fp")
    assert record is None and df.height == 5000


def test_a_fraction_and_an_unstratified_draw(files: Path):
    df, record = read_training(_params("csv", "events.csv", rows=None, fraction=0.05, stratify_by=None), files, "x")
    assert record is not None and df.height == 250 and record["stratified_by"] is None


def test_max_rows_bounds_the_sample_not_the_source(files: Path):
    from compiler.execute.failure import RunError

    params = _params("parquet", "events.parquet")
    params["limits"] = {"max_rows": 900}
    df, _ = read_training(params, files, "fp")
    assert df.height == 800
    params["limits"] = {"max_rows": 500}
    with pytest.raises(RunError, match="max_rows: 500"):
        read_training(params, files, "fp")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=2, max_size=300), st.integers(0, 2**32 - 1),
       st.floats(0.01, 1.0))
def test_positions_are_a_proportional_draw_without_replacement(labels, seed, share):
    total = len(labels)
    k = max(1, min(total, int(share * total)))
    chosen = positions(total, pl.Series(labels, dtype=pl.String), k, seed)
    assert chosen.size == k and len(set(chosen.tolist())) == k
    assert chosen.tolist() == sorted(chosen.tolist()) and 0 <= chosen.min() and chosen.max() < total
    for value in ("a", "b", "c", None):
        n = sum(1 for v in labels if v == value)
        got = sum(1 for i in chosen if labels[i] == value)
        assert abs(got - n * k / total) < 1 + 1e-9  # largest remainder: within one row of the exact share
    assert positions(total, pl.Series(labels, dtype=pl.String), k, seed).tolist() == chosen.tolist()


def test_sample_size():
    assert sample_size({"rows": 10, "fraction": None}, 5) == 5
    assert sample_size({"rows": None, "fraction": 0.001}, 100) == 2
    assert sample_size({"rows": None, "fraction": 0.25}, 10) == 3

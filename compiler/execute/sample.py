"""Training on a sample: a seeded, stratified draw of a source's rows when it is larger than a budget.

Input: the ingest params of a model with `sample` (`{above, rows, fraction, seed, stratify_by}`).
Output: the sampled raw table (for `ingest.enforce_schema` like any read) and what the run
records of it: the rows drawn, of how many, the seed, the stratum column, and a fingerprint of
the drawn positions.

The draw is by row position. Each stratum (a class of the target, as the file spells it; a
missing target is a stratum of its own) gets its share of the sample by the largest-remainder
method, and its rows are chosen without replacement by NumPy's legacy `RandomState`, whose
stream is frozen: the same file and seed give the same rows on every machine and NumPy version.
The positions are sorted, so the sample keeps the source's order (a `time` split still splits
by time).

Parquet, uncompressed CSV (UTF-8) and JSON Lines are read lazily: the row count (from the footer
for Parquet), then the stratum column alone, then only the drawn rows, streamed. The table is
never held whole. Other sources (compressed files, JSON arrays, databases) are read whole and
then sampled, with the same positions, so the same data gives the same sample either way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from compiler.execute import bounded

ROW = "__charter_row"


def sample_size(spec: dict, total: int) -> int:
    """Rows to draw from a source of `total` rows (at least 2, so that the split has both sides)."""
    if spec.get("fraction") is not None:
        return min(total, max(2, int(spec["fraction"] * total + 0.5)))
    return min(total, int(spec["rows"]))


def positions(total: int, strata: pl.Series | None, k: int, seed: int) -> np.ndarray:
    """The sorted row positions of a sample of `k` of `total` rows, in proportion to `strata`."""
    rng = np.random.RandomState(seed)
    if strata is None:
        return np.sort(rng.choice(total, k, replace=False)).astype(np.int64)
    groups = (pl.DataFrame({"s": strata.cast(pl.String)}).with_row_index(ROW)
              .group_by("s").agg(pl.col(ROW)).sort("s", nulls_last=False))
    sizes = groups[ROW].list.len().to_numpy().astype(np.int64)
    exact = sizes * k / total
    shares = np.floor(exact).astype(np.int64)
    rest = k - int(shares.sum())
    if rest:  # the largest remainders get one more row each; ties in stratum order
        order = np.argsort(-(exact - shares), kind="stable")
        shares[order[:rest]] += 1
    picked = [np.asarray(rows.to_numpy(), dtype=np.int64)[rng.choice(len(rows), int(n), replace=False)]
              for rows, n in zip(groups[ROW], shares, strict=True) if n]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def record(spec: dict, chosen: np.ndarray, total: int, fingerprint: str) -> dict:
    """What the run, the lock and the card say of a sample."""
    digest = hashlib.sha256(fingerprint.encode() + b"\0" + chosen.astype("<i8").tobytes()).hexdigest()
    return {"rows": int(chosen.size), "of": total, "seed": spec["seed"], "stratified_by": spec.get("stratify_by"),
            "fingerprint": f"sha256:{digest}"}


def lazy_source(params: dict, path: Path) -> pl.LazyFrame | None:
    """The raw file as a LazyFrame with the reader's options, or None when it must be read whole."""
    from compiler.execute.ingest import compression, null_markers

    fmt = params["format"]
    if fmt == "parquet":
        lf = pl.scan_parquet(path)
    elif fmt == "csv":
        opts = params.get("csv") or {}
        if opts.get("encoding", "utf-8") != "utf-8" or compression(path) is not None or path.stat().st_size == 0:
            return None
        lf = pl.scan_csv(path, separator=opts.get("delimiter", ","), has_header=opts.get("header", True),
                         infer_schema=False, skip_rows=opts.get("skip_rows", 0),
                         comment_prefix=opts.get("comment_prefix"), quote_char=opts.get("quote_char", '"'),
                         raise_if_empty=False)
        if not opts.get("header", True):
            names = [c["name"] for c in params["schema"]]
            width = len(lf.collect_schema())
            if width != len(names):
                return None  # the whole read says what is wrong, with the file's own numbers
            lf = lf.rename(dict(zip(lf.collect_schema().names(), names, strict=True)))
    elif fmt == "jsonl":
        if compression(path) is not None:
            return None
        lf = pl.scan_ndjson(path, infer_schema_length=None)
    else:
        return None
    markers = null_markers(params)
    if markers:
        text = [n for n, t in lf.collect_schema().items() if t == pl.String]
        lf = lf.with_columns([pl.when(pl.col(n).str.strip_chars().is_in(markers)).then(None).otherwise(pl.col(n))
                              .alias(n) for n in text])
    return lf


def read_sample(params: dict, path: Path | None, whole, fingerprint: str) -> tuple[pl.DataFrame, dict | None]:
    """The source's raw rows, sampled when it holds more than the budget: (table, the sample's record or None).

    `whole()` reads the raw table whole, within the source's limits; it is called when the source
    is at most the budget, or cannot be read lazily.
    """
    spec = params["sample"]
    lf = lazy_source(params, path) if path is not None else None
    if lf is None:
        df = whole()
        return _draw(params, spec, df, fingerprint)
    try:
        total = lf.select(pl.len()).collect().item()
        if total <= spec["above"]:
            return whole(), None
        column = spec.get("stratify_by")
        if column is not None and column not in lf.collect_schema().names():
            return whole(), None  # enforce_schema names the missing declared column
        strata = lf.select(pl.col(column)).collect(engine="streaming").to_series() if column else None
        chosen = positions(total, strata, sample_size(spec, total), spec["seed"])
        del strata
        df = (lf.with_row_index(ROW).filter(pl.col(ROW).cast(pl.Int64).is_in(pl.Series(chosen).implode()))
              .drop(ROW).collect(engine="streaming"))
    except pl.exceptions.PolarsError:  # the whole read reports the file's problem, or draws the same rows
        return _draw(params, spec, whole(), fingerprint)
    bounded.check_rows(params, df.height, exact=True)
    return df, record(spec, chosen, total, fingerprint)


def _draw(params: dict, spec: dict, df: pl.DataFrame, fingerprint: str) -> tuple[pl.DataFrame, dict | None]:
    if df.height <= spec["above"]:
        return df, None
    column = spec.get("stratify_by")
    if column is not None and column not in df.columns:
        return df, None  # enforce_schema names the missing declared column
    chosen = positions(df.height, df[column] if column else None, sample_size(spec, df.height), spec["seed"])
    total = df.height
    df = df[pl.Series(chosen)]
    return df, record(spec, chosen, total, fingerprint)

"""Evaluation windows: the named sets a model is scored on besides its test set.

A `last` window keeps the labelled rows whose time column lies in `(end - last, end]`, the
closed-right convention of pandas' rolling windows: a row exactly `last` before the end is
out, a row at the end is in. The end is the newest value of the column in the model's
prepared data (training and test rows together, so the window is the same period whatever
the split), or with `relative_to: run` the end of the run's UTC day, so that every run of one
day scores the same rows and reuses one evaluation. Timestamps without a zone are UTC, as
ingest reads them.

A window over the model's own source selects from the held-out test rows only, never from
rows the model was trained on. A `source` window scores another DataSource, read as ingest
reads it and cleaned by the model's prepare steps (training-only ones skipped), narrowed by
`last` when it has one (then `newest` is that source's newest row).

An empty window fails no step by itself: its metrics are not computable ("no rows in the
window"), so a gate on it fails and says why, and evaluate warns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from compiler.execute.durations import seconds
from compiler.execute.failure import RunError

EMPTY = "no rows in the window"


@dataclass(frozen=True)
class WindowSet:
    """The rows of one window, and where it starts and ends (None for a whole source)."""

    name: str
    frame: pl.DataFrame
    start: datetime | None
    end: datetime | None


def run_end(now: datetime) -> datetime:
    """The end of the run's UTC day (naive, like the data's timestamps)."""
    day = (now.astimezone(UTC) if now.tzinfo else now).date()
    return datetime(day.year, day.month, day.day) + timedelta(days=1)


def _instants(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        expr = pl.col(column).cast(pl.Datetime("us"))
        # a zoned column compares in UTC, as a naive one is read
        return expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if getattr(dtype, "time_zone", None) \
            else expr
    raise RunError(f"window column `{column}` holds {dtype}, not dates or timestamps",
                   hint="declare it `type: date` or `type: datetime` in the DataSource's schema")


def newest(frames: list[pl.DataFrame], column: str) -> datetime | None:
    found = [f.select(_instants(f, column).max()).item() for f in frames if f.height]
    found = [v for v in found if v is not None]
    return max(found) if found else None


def bounds(window: dict, frames: list[pl.DataFrame], now: datetime) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a `last` window: end from `relative_to`, start `last` before it."""
    end = run_end(now) if window.get("relative_to") == "run" else newest(frames, window["column"])
    if end is None:  # no timestamps at all: the window is empty
        return None, None
    return end - timedelta(seconds=seconds(window["last"])), end


def select(frame: pl.DataFrame, column: str, start: datetime | None, end: datetime | None) -> pl.DataFrame:
    if start is None or end is None:
        return frame.clear()
    at = _instants(frame, column)
    return frame.filter((at > start) & (at <= end))


def window_sets(params: dict, prepare: dict, test: pl.DataFrame, train: pl.DataFrame, now: datetime,
                root: Path) -> list[WindowSet]:
    """Every declared window's rows, in declaration order (`params`: the evaluate step's; `prepare`: prepare's)."""
    out = []
    for w in params.get("windows", []):
        if isinstance(w.get("source"), dict):
            frame = load_source(w["source"], prepare, params["target"], root)
            pool = [frame]
        else:
            frame, pool = test, [train, test]
        start = end = None
        if w.get("last"):
            start, end = bounds(w, pool, now)
            frame = select(frame, w["column"], start, end)
        out.append(WindowSet(w["name"], frame, start, end))
    return out


def load_source(ingest: dict, prepare: dict, label: str, root: Path) -> pl.DataFrame:
    """A window's DataSource, read like ingest and prepared like the model's training data; labelled rows only."""
    from compiler.execute.ingest import read_source
    from compiler.execute.monitor import batch_steps
    from compiler.execute.prepare import apply_prepare, finalize_types

    steps, _ = batch_steps(prepare["steps"], label, labelled=True)
    df = finalize_types(apply_prepare(read_source(ingest, root), steps), prepare["schema"])
    return df.filter(pl.col(label).is_not_null())


def empty(params: dict, with_slices: bool) -> dict:
    """The document of a window without rows: every value not computable, for one stated reason."""
    names = params["metrics"]
    nothing = {"rows": 0, "metrics": dict.fromkeys(names), "not_computable": dict.fromkeys(names, EMPTY)}
    return {**nothing, "slices": {s["name"]: dict(nothing) for s in params["slices"]} if with_slices else {},
            "business": dict.fromkeys(b["name"] for b in params["business"]), "guardrails": {}}


def describe(window: dict, found: WindowSet) -> dict:
    """What the lock and the card show of a window besides its metrics: its definition and bounds."""
    out: dict = {"rows": found.frame.height}
    if window.get("last"):
        out.update(column=window["column"], last=window["last"], relative_to=window.get("relative_to", "newest"),
                   start=found.start.isoformat() if found.start else None,
                   end=found.end.isoformat() if found.end else None)
    if isinstance(window.get("source"), dict):
        out["source"] = window["source"]["source"]
    return out


def warnings(metrics: dict) -> list[str]:
    return [f"window `{name}` has no rows" + (f" between {w['start']} and {w['end']}" if w.get("start") else "")
            for name, w in sorted((metrics.get("windows") or {}).items()) if not w["rows"]]

"""A small, real Feast feature repository for the tests: definitions, Parquet data, `feast apply`.

`write_repo` lays out the repository (file offline store, SQLite or file registry) with daily
driver statistics, and `feast_apply` runs Feast's own CLI on it, which writes the registry.
Both need Feast's venv (.ci/feast.sh) for `feast apply`; writing the files needs polars only.

The committed registries that the reader's unit tests use were made by this module in the Feast
venv (`python -m tests.feastrepo`, with the Feast of requirements/feast.txt):
tests/fixtures/feast/registry.pb is the file registry, tests/fixtures/feast/registry.sql the
SQLite registry as `sqlite3`'s dump (text; the database file itself is 180 KB of empty pages).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "feast"
CASES = [Path(__file__).parent / "cases" / kind / "feast" for kind in ("negative", "positive")]
START = datetime(2026, 1, 1)
DRIVERS = 12
DAYS = 30

DEFINITIONS = '''\
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.types import Float32, Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])

stats = FileSource(name="driver_stats_source", path="data/driver_stats.parquet",
                   timestamp_field="event_timestamp", created_timestamp_column="created")

driver_stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(days=2), source=stats,
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
            Field(name="trips", dtype=Int64)])

driver_activity = FeatureService(name="driver_activity", features=[driver_stats[["conv_rate", "trips"]]])
'''

_SQL = "registry:\n  registry_type: sql\n  path: sqlite:///data/registry.db\n"
_FILE = "registry: data/registry.pb\n"


def config(registry: str = "sql") -> str:
    return (f"project: rides\nprovider: local\n{_SQL if registry == 'sql' else _FILE}"
            "offline_store:\n  type: file\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
            "entity_key_serialization_version: 3\n")


def conv_rate(driver: int, day: int) -> float:
    """Driver `driver`'s conversion rate on day `day`: a level per driver, moving day by day."""
    return round(0.15 + 0.7 * ((driver * 37 + day * 11) % 100) / 100, 3)


def stats_rows() -> list[dict]:
    """One row per driver and day at midnight UTC; driver 1 also gets a spike at noon of day 9."""
    rows = [{"driver_id": d, "event_timestamp": START + timedelta(days=day), "conv_rate": conv_rate(d, day),
             "acc_rate": round(0.5 + d / 100, 3), "trips": 10 * d + day}
            for d in range(1, DRIVERS + 1) for day in range(DAYS)]
    rows.append({"driver_id": 1, "event_timestamp": START + timedelta(days=9, hours=12), "conv_rate": 0.999,
                 "acc_rate": 0.0, "trips": 9999})
    return rows


def write_repo(folder: Path, registry: str = "sql") -> Path:
    import polars as pl

    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "feature_store.yaml").write_text(config(registry))
    (folder / "features.py").write_text(DEFINITIONS)
    rows = stats_rows()
    frame = pl.DataFrame(rows).with_columns(
        pl.col("event_timestamp").dt.replace_time_zone("UTC"),
        pl.col("event_timestamp").dt.replace_time_zone("UTC").alias("created"),
        pl.col("conv_rate").cast(pl.Float32))
    frame.write_parquet(folder / "data" / "driver_stats.parquet")
    return folder


def feast_apply(folder: Path) -> str:
    """Feast's own `feast apply` in the repository (the CLI beside this Python, as a user runs it)."""
    cli = Path(sys.executable).with_name("feast")
    done = subprocess.run([str(cli), "apply"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def main(work: Path) -> None:
    """Rewrite the committed registries from a fresh `feast apply` of both kinds."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for kind in ("sql", "file"):
        repo = write_repo(work / kind, kind)
        feast_apply(repo)
    shutil.copy(work / "file" / "data" / "registry.pb", FIXTURES / "registry.pb")
    with sqlite3.connect(work / "sql" / "data" / "registry.db") as db:
        (FIXTURES / "registry.sql").write_text("\n".join(db.iterdump()) + "\n")
    for case in CASES:  # the spec cases read a file registry where `charter validate` finds it
        shutil.copy(FIXTURES / "registry.pb", case / "feature_repo" / "data" / "registry.pb")


def sqlite_registry(folder: Path) -> Path:
    """The committed SQLite registry, as a database file in `folder/data/registry.db`."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "data" / "registry.db"
    with sqlite3.connect(path) as db:
        db.executescript((FIXTURES / "registry.sql").read_text())
    db.close()
    return path


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
    print(f"wrote {FIXTURES}")

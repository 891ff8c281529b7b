"""`charter check-data` (on polars and on `engine: duckdb`) on a generated table against pandera, DuckDB and polars.

All of them run the same 16 rules, in the same run, and the harness checks that all report the same
failing counts.

    pip install -e '.[dev,bench]' pandera
    python benchmarks/bench_check_data.py [--rows 5000000 50000000] [--runs 3] [--memory-limit 1GiB]
        [--keep-data DIR] [--json]

Each engine runs as a whole process (peak RSS from `os.wait4`), reads the same Parquet file
(written in row groups, never held whole in memory) and prints its failing count per rule as
JSON; the harness compares them. Rounds are interleaved (the order reverses every round) and
ratios are medians of per-round ratios. Hand-written DuckDB runs at the same `memory_limit` and
spill folder as `engine: duckdb`; hand-written polars is lazy (`scan_parquet`, streaming).
Above `--in-memory-rows` (default 20M) the engines that hold the table in memory (charter on
polars, pandera) are left out: at 50M rows they need 9-20 GiB. Targets: issue 3 (5M rows:
charter <= 0.5x pandera, <= 1.1x the faster hand-written engine) and issue 12 (`engine: duckdb`
on 50M rows: peak RSS <= 2 GiB, time within 1.3x of the same SQL by hand in DuckDB at the same
memory limit, near-linear from 5M to 50M).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COUNTRIES = ["se", "no", "dk", "fi", "de"]
ROW_RULES = ["not_null", "unique", "seats", "discount", "country", "email", "account_len", "compare", "future",
             "expression"]

SPEC = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: events}
spec:
  format: parquet
  path: events.parquet
  schema:
    - {name: id, type: string, nullable: false}
    - {name: account, type: string}
    - {name: country, type: category}
    - {name: plan, type: category}
    - {name: seats, type: integer}
    - {name: tenure, type: integer}
    - {name: spend, type: float}
    - {name: discount, type: float}
    - {name: sessions, type: integer}
    - {name: tickets, type: integer}
    - {name: score, type: float}
    - {name: created, type: datetime}
    - {name: email, type: string}
    - {name: label, type: boolean}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: events-quality}
spec:
  source: events
  rules:
    - {id: not-null, rule: not_null, columns: [id, account], severity: warn}
    - {id: unique, rule: unique, columns: [id], severity: warn}
    - {id: seats, rule: between, column: seats, min: 1, max: 100000, severity: warn}
    - {id: discount, rule: between, column: discount, min: 0, max: 1, severity: warn}
    - {id: country, rule: in_set, column: country, values: [se, "no", dk, fi, de], severity: warn}
    - {id: email, rule: regex, column: email, pattern: "[^@]+@[^@]+\\\\.[a-z]+", severity: warn}
    - {id: account-len, rule: length, column: account, min: 6, max: 12, severity: warn}
    - {id: compare, rule: compare, left: tenure, op: ">=", right: tickets, severity: warn}
    - {id: future, rule: not_in_future, column: created, severity: warn}
    - {id: expression, rule: expression, check: "spend >= 0 and sessions >= 0", severity: warn}
    - {id: spend-nulls, rule: null_fraction, column: spend, max: 0.05, severity: warn}
    - {id: rows, rule: row_count, min: 1000, severity: warn}
    - {id: plans, rule: distinct_count, column: plan, max: 10, severity: warn}
    - {id: spend-mean, rule: mean_between, column: spend, min: 0, max: 10000, severity: warn}
    - {id: tenure-stdev, rule: stdev_between, column: tenure, min: 0, max: 5000, severity: warn}
    - {id: seats-median, rule: quantile_between, column: seats, quantile: 0.5, min: 1, max: 500, severity: warn}
---
apiVersion: charter/v1
kind: Model
metadata: {name: events-model}
spec:
  task: binary_classification
  data: {source: events, validation: events-quality, target: label, exclude: [id, account, email, created]}
  estimator: {class: sklearn.linear_model.LogisticRegression}
"""

POLARS = """
import json, sys, polars as pl
from datetime import datetime
df = pl.scan_parquet(sys.argv[1])
c = pl.col
now = datetime.now()
masks = {
  "not_null": c("id").is_null() | c("account").is_null(),
  "unique": ~c("id").is_first_distinct(),
  "seats": c("seats").is_not_null() & ((c("seats") < 1) | (c("seats") > 100000)),
  "discount": c("discount").is_not_null() & ((c("discount") < 0) | (c("discount") > 1)),
  "country": c("country").is_not_null() & ~c("country").is_in(["se", "no", "dk", "fi", "de"]),
  "email": c("email").is_not_null() & ~c("email").str.contains(r"^(?:[^@]+@[^@]+\\.[a-z]+)$"),
  "account_len": c("account").is_not_null()
      & ((c("account").str.len_chars() < 6) | (c("account").str.len_chars() > 12)),
  "compare": ~(c("tenure") >= c("tickets")).fill_null(False),
  "future": c("created").is_not_null() & (c("created") > now),
  "expression": ~((c("spend") >= 0) & (c("sessions") >= 0)).fill_null(False),
}
out = df.select([m.sum().alias(k) for k, m in masks.items()] + [
  (c("spend").null_count() / pl.len()).alias("spend_nulls"), pl.len().alias("rows"),
  c("plan").drop_nulls().n_unique().alias("plans"), c("spend").mean().alias("spend_mean"),
  c("tenure").std().alias("tenure_stdev"), c("seats").quantile(0.5, interpolation="linear").alias("seats_median"),
]).collect(engine="streaming").row(0, named=True)
print(json.dumps({k: int(out[k]) for k in masks}))
"""

DUCKDB = """
import json, sys, duckdb
path, limit, spill = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(config={"memory_limit": limit, "temp_directory": spill})
row = con.execute(f'''
SELECT
  count(*) FILTER (WHERE id IS NULL OR account IS NULL),
  count(*) - count(DISTINCT id),
  count(*) FILTER (WHERE seats < 1 OR seats > 100000),
  count(*) FILTER (WHERE discount < 0 OR discount > 1),
  count(*) FILTER (WHERE country NOT IN ('se', 'no', 'dk', 'fi', 'de')),
  count(*) FILTER (WHERE NOT regexp_full_match(email, '[^@]+@[^@]+\\\\.[a-z]+')),
  count(*) FILTER (WHERE length(account) < 6 OR length(account) > 12),
  count(*) FILTER (WHERE NOT coalesce(tenure >= tickets, false)),
  count(*) FILTER (WHERE created > now()::TIMESTAMP),
  count(*) FILTER (WHERE NOT coalesce(spend >= 0 AND sessions >= 0, false)),
  count(*) FILTER (WHERE spend IS NULL) / count(*), count(*), count(DISTINCT plan), avg(spend),
  stddev_samp(tenure), quantile_cont(seats, 0.5)
FROM read_parquet('{path}')''').fetchone()
names = ["not_null", "unique", "seats", "discount", "country", "email", "account_len", "compare", "future",
         "expression"]
print(json.dumps({n: int(v) for n, v in zip(names, row)}))
"""

PANDERA = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd, pandera.pandas as pa
from datetime import datetime
df = pd.read_parquet(sys.argv[1])
now = datetime.now()
def rule(name, fn):
    return pa.Check(fn, name=name)
schema = pa.DataFrameSchema({
  "id": pa.Column(str, nullable=True, checks=[rule("unique", lambda s: ~s.duplicated(keep="first"))]),
  "account": pa.Column(str, nullable=True, checks=[rule("account_len", lambda s: s.str.len().between(6, 12))]),
  "country": pa.Column(str, nullable=True, checks=[rule("country", lambda s: s.isin(["se", "no", "dk", "fi", "de"]))]),
  "seats": pa.Column("Int64", nullable=True, checks=[rule("seats", lambda s: s.between(1, 100000)),
                                                  rule("seats_median", lambda s: 1 <= s.median() <= 500)]),
  "discount": pa.Column(float, nullable=True, checks=[rule("discount", lambda s: s.between(0, 1))]),
  "email": pa.Column(str, nullable=True, checks=[rule("email", lambda s: s.str.fullmatch(r"[^@]+@[^@]+\\.[a-z]+"))]),
  "created": pa.Column("datetime64[us]", nullable=True, checks=[rule("future", lambda s: s <= now)]),
  "spend": pa.Column(float, nullable=True, checks=[rule("spend_nulls", lambda s: s.isna().mean() <= 0.05),
                                                 rule("spend_mean", lambda s: 0 <= s.mean() <= 10000)]),
  "tenure": pa.Column("Int64", nullable=True, checks=[rule("tenure_stdev", lambda s: 0 <= s.std() <= 5000)]),
  "plan": pa.Column(str, nullable=True, checks=[rule("plans", lambda s: s.nunique() <= 10)]),
}, checks=[
  rule("not_null", lambda d: d["id"].notna() & d["account"].notna()),
  rule("compare", lambda d: (d["tenure"] >= d["tickets"]).fillna(False).astype(bool)),
  rule("expression", lambda d: ((d["spend"] >= 0) & (d["sessions"] >= 0)).fillna(False).astype(bool)),
  rule("rows", lambda d: len(d) >= 1000),
], strict=False, coerce=False)
counts = {}
try:
    schema.validate(df, lazy=True)
except pa.errors.SchemaErrors as exc:
    fc = exc.failure_cases
    for name, group in fc.groupby("check"):
        # dataframe-wide checks list a failure case per column of a failing row: count rows
        counts[str(name)] = int(group["index"].nunique())
names = ["not_null", "unique", "seats", "discount", "country", "email", "account_len", "compare", "future",
         "expression"]
print(json.dumps({n: counts.get(n, 0) for n in names}))
"""


CHUNK = 2_500_000


def generate(path: Path, rows: int) -> None:
    """A deterministic table with a few failures of every row rule, written a row group at a time."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for start in range(0, rows, CHUNK):
            table = _chunk(start, min(CHUNK, rows - start)).to_arrow()
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _chunk(start: int, rows: int):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(start)
    ids = np.char.add("e", np.arange(start, start + rows).astype(str))
    dup = rng.choice(rows, 2 * (rows // 20_000), replace=False)
    half = len(dup) // 2
    ids[dup[:half]] = ids[dup[half:]]
    accounts = np.char.add("acct", (rng.integers(1, 99_999_999, rows)).astype(str))
    at = pl.int_range(start, start + rows, eager=True)
    return pl.DataFrame({
        "id": ids,
        "account": accounts,
        "country": rng.choice(COUNTRIES + ["xx"], rows, p=[0.2, 0.2, 0.2, 0.2, 0.1999, 0.0001]),
        "plan": rng.choice(["free", "team", "business", "enterprise"], rows),
        "seats": rng.integers(0, 1000, rows),
        "tenure": rng.integers(0, 3000, rows),
        "spend": rng.gamma(2.0, 50.0, rows) * np.where(rng.random(rows) < 0.0001, -1, 1),
        "discount": rng.random(rows) * 1.00002,
        "sessions": rng.integers(0, 500, rows),
        "tickets": rng.integers(0, 20, rows),
        "score": rng.normal(0, 1, rows),
        "created": pl.datetime_range(pl.datetime(2020, 1, 1), pl.datetime(2024, 1, 1), interval="1m", eager=True)
        .sample(rows, with_replacement=True, seed=start + 1),
        "email": np.char.add(np.char.add("user", np.arange(start, start + rows).astype(str)), "@example.com"),
        "label": rng.random(rows) < 0.3,
    }).with_columns(
        pl.when(at % 50_000 == 7).then(None).otherwise(pl.col("account")).alias("account"),
        pl.when(at % 40 == 3).then(None).otherwise(pl.col("spend")).alias("spend"),
        pl.when(at % 100_000 == 11).then(pl.lit("broken")).otherwise(pl.col("email")).alias("email"),
        pl.when(at % 200_000 == 13).then(pl.datetime(2099, 1, 1)).otherwise(pl.col("created")).alias("created"),
    )


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KiB, stdout) of a whole process; its rusage from `os.wait4`."""
    import time

    out = cwd / ".bench-stdout"
    with out.open("w") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # charter exits 1 when an error-severity rule fails; the hand-written checks always exit 0
    if proc.returncode not in ((0, 1) if "check-data" in cmd else (0,)):
        if "check-data" not in cmd and "Out of Memory" in err:  # a result too: what the hand-written SQL needs
            raise OutOfMemory(next(line for line in err.splitlines() if "Out of Memory" in line).strip()[:200])
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{err[-2000:]}")
    return seconds, usage.ru_maxrss, out.read_text()


class OutOfMemory(Exception):
    """A hand-written check ran out of memory within the limit: reported, not a crash of the harness."""


def _duckdb_spec() -> str:
    """The same source and rules, checked by `engine: duckdb` (a second source over the same file)."""
    suite_end = SPEC.index("\n---\n", SPEC.index("kind: ValidationSuite"))
    return (SPEC[:suite_end + 1].replace("metadata: {name: events}", "metadata: {name: events-duck}")
            .replace("  path: events.parquet\n", "  path: events.parquet\n  engine: duckdb\n"
                     "  duckdb: {memory_limit: MEMORY_LIMIT}\n")
            .replace("metadata: {name: events-quality}", "metadata: {name: events-duck-quality}")
            .replace("  source: events\n", "  source: events-duck\n"))


def _charter_counts(cwd: Path, store: str) -> dict[str, int]:
    reports = sorted((cwd / store).rglob("data_report.json"))
    report = json.loads(reports[-1].read_text())
    by_id = {r["id"]: r["failing"] for r in report["rules"]}
    rename = {"account-len": "account_len", "not-null": "not_null"}
    return {rename.get(k, k): v for k, v in by_id.items() if rename.get(k, k) in ROW_RULES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default="1GiB", help="DuckDB's memory_limit, for charter and by hand")
    parser.add_argument("--in-memory-rows", type=int, default=20_000_000,
                        help="above this, leave out the engines that hold the table in memory")
    parser.add_argument("--keep-data", metavar="DIR",
                        help="keep the generated tables in DIR (the temporary folder's file system) and reuse them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(rows, args) for rows in args.rows]
    if len(results) > 1:
        first, last = results[0], results[-1]
        for name in first["median_s"]:
            if name in last["median_s"]:
                per_row = (last["median_s"][name] / last["rows"]) / (first["median_s"][name] / first["rows"])
                last.setdefault("time_per_row_vs_smallest", {})[name] = per_row
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for summary in results:
        report(summary)
    return 0


def measure(rows: int, args) -> dict:
    charter = Path(sys.executable).with_name("charter")
    charter_cmd = [str(charter)] if charter.exists() else [sys.executable, "-m", "compiler"]
    limit = args.memory_limit.replace("GiB", "GB").replace("MiB", "MB")  # DuckDB's own units
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # In a process of its own: a child's peak RSS starts at its parent's (Linux copies the
        # high-water mark across fork and exec), so the harness stays small.
        kept = Path(args.keep_data) / f"events-{rows}.parquet" if args.keep_data else None
        if kept is None or not kept.exists():
            target = kept or root / "events.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, __file__, "--generate", str(target), str(rows)], check=True)
        if kept is not None:  # a hard link: the repository's path check refuses a symlink out of it
            os.link(kept, root / "events.parquet")
        (root / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: bench}\n"
                                           "spec: {specs: [specs], default_ownership: owners}\n")
        (root / "specs").mkdir()
        (root / "specs" / "duck.yaml").write_text(_duckdb_spec().replace("MEMORY_LIMIT", args.memory_limit))
        (root / "specs" / "events.yaml").write_text(SPEC + "---\napiVersion: charter/v1\nkind: Ownership\n"
                                                    "metadata: {name: owners}\nspec:\n  covers: [events]\n  raci:\n"
                                                    "    data: {responsible: ['@a'], accountable: '@b'}\n")
        for name, code in (("polars", POLARS), ("duckdb", DUCKDB), ("pandera", PANDERA)):
            (root / f"run_{name}.py").write_text(textwrap.dedent(code))
        (root / ".charter" / "hand-duckdb").mkdir(parents=True)
        engines = {
            "charter check-data": [*charter_cmd, "check-data", "events", "--force", "--store", ".charter/polars"],
            "charter (engine duckdb)": [*charter_cmd, "check-data", "events-duck", "--force", "--store",
                                        ".charter/duckdb-store"],
            "polars lazy (hand-written)": [sys.executable, "run_polars.py", "events.parquet"],
            "duckdb (hand-written SQL)": [sys.executable, "run_duckdb.py", "events.parquet", limit,
                                          ".charter/hand-duckdb"],
            "pandera": [sys.executable, "run_pandera.py", "events.parquet"],
        }
        skipped = {}
        if importlib.util.find_spec("pandera") is None:  # not in any extra: installed by hand for the comparison
            skipped["pandera"] = "not installed"
        if rows > args.in_memory_rows:
            for name in ("charter check-data", "pandera"):
                skipped.setdefault(name, "holds the whole table in memory "
                                         f"(above --in-memory-rows {args.in_memory_rows:,})")
        for name in skipped:
            engines.pop(name, None)
        timings: dict[str, list[tuple[float, int]]] = {k: [] for k in engines}
        counts: dict[str, dict] = {}
        for round_ in range(args.runs):
            order = list(engines) if round_ % 2 == 0 else list(reversed(engines))
            for name in order:
                if name in skipped:
                    continue
                try:
                    seconds, kb, out = _run(engines[name], root)
                except OutOfMemory as exc:
                    skipped[name] = f"out of memory at memory_limit {args.memory_limit} ({exc})"
                    timings.pop(name)
                    continue
                timings[name].append((seconds, kb))
                store = ".charter/duckdb-store" if "duckdb" in name else ".charter/polars"
                counts[name] = _charter_counts(root, store) if name.startswith("charter") else json.loads(out)
    median = {k: statistics.median(t for t, _ in v) for k, v in timings.items()}
    peak = {k: max(m for _, m in v) / 1024 for k, v in timings.items()}

    def ratio(a: str, b: str) -> float:
        if a not in timings or b not in timings:
            return math.nan
        return statistics.median(x / y for (x, _), (y, _) in zip(timings[a], timings[b], strict=True))

    agree = all(c == counts["polars lazy (hand-written)"] for c in counts.values())
    fastest = min(median.get("polars lazy (hand-written)", math.nan), median.get("duckdb (hand-written SQL)", math.inf))
    charter_s = median.get("charter check-data", math.nan)
    pandera, pandera_peak = median.get("pandera", math.nan), peak.get("pandera", math.nan)
    duck = ratio("charter (engine duckdb)", "duckdb (hand-written SQL)")
    return {
        "rows": rows, "runs": args.runs, "memory_limit": args.memory_limit, "median_s": median, "peak_mib": peak,
        "skipped": skipped, "failing_counts": counts, "counts_agree": agree,
        "ratio_vs_pandera": ratio("charter check-data", "pandera"), "ratio_vs_fastest": charter_s / fastest,
        "duckdb_engine_vs_hand_sql": duck,
        "targets": {"<= 0.5x pandera": charter_s <= 0.5 * pandera, "<= 1.1x fastest of duckdb/polars":
                    charter_s <= 1.1 * fastest, "peak memory <= pandera":
                    peak.get("charter check-data", math.nan) <= pandera_peak,
                    "engine duckdb within 1.3x of hand-written DuckDB": duck <= 1.3,
                    "engine duckdb peak <= 2 GiB": peak["charter (engine duckdb)"] <= 2048},
    }  # fmt: skip


def report(summary: dict) -> None:
    print(f"{summary['rows']:,} rows x 14 columns, 16 rules; median of {summary['runs']} interleaved rounds, "
          f"whole processes, DuckDB memory_limit {summary['memory_limit']}")
    for name, seconds in summary["median_s"].items():
        print(f"  {name:<28} {seconds:7.2f} s   peak {summary['peak_mib'][name]:7.0f} MiB")
    for name, why in summary["skipped"].items():
        print(f"  {name:<28} left out: {why}")
    print(f"  failing counts agree across engines: {summary['counts_agree']}")
    if not summary["counts_agree"]:
        for name, c in summary["failing_counts"].items():
            print(f"    {name}: {c}")
    print(f"  charter (engine duckdb) / hand-written DuckDB SQL = {summary['duckdb_engine_vs_hand_sql']:.2f} "
          "(median of per-round ratios)")
    print(f"  charter / pandera = {summary['ratio_vs_pandera']:.2f}, "
          f"charter / fastest = {summary['ratio_vs_fastest']:.2f}")
    for name, per_row in (summary.get("time_per_row_vs_smallest") or {}).items():
        print(f"  time per row vs the smallest size: {name} {per_row:.2f}x")
    for target, met in summary["targets"].items():
        print(f"  target {target:<50} {'met' if met else 'MISSED or not measured'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--generate"]:
        generate(Path(sys.argv[2]), int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())

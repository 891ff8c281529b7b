"""`charter run` end to end against a plain scikit-learn script doing the same work, and the cached re-run.

    python benchmarks/bench_run.py [--rows 300000 1000000] [--runs 5] [--json]

Both read the same CSV, clean it (standardise a yes/no label, drop duplicate ids, fill
missing values with the median), check two rules, split 80/20 with a seed, train the same
ColumnTransformer + HistGradientBoostingClassifier, compute ROC AUC, and save the model with
skops. Whole processes, wall clock and peak RSS, in interleaved rounds (the order alternates),
medians of the per-round ratios. Targets (issue 13): Charter at most 1.10x the script on 300k
and 1M rows, the cached re-run at most 0.3 s. Charter's own report of the last round (its
`--format json`) shows where its time went: the libraries' import once, then each step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: accounts}
spec:
  format: csv
  path: accounts.csv
  schema:
    - {name: id, type: string}
    - {name: seats, type: integer}
    - {name: tenure, type: integer}
    - {name: spend, type: float}
    - {name: plan, type: category}
    - {name: region, type: category}
    - {name: upgraded, type: boolean}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: accounts-quality}
spec:
  source: accounts
  prepare:
    - standardize: {column: upgraded, true: ["yes"], false: ["no"]}
    - deduplicate: {keys: [id], keep: last}
    - fill_null: {columns: [spend], strategy: median}
  rules:
    - {rule: not_null, columns: [id]}
    - {rule: between, column: seats, min: 0, max: 100000}
---
apiVersion: charter/v1
kind: Model
metadata: {name: upgrade}
spec:
  task: binary_classification
  data: {source: accounts, validation: accounts-quality, target: upgraded, exclude: [id]}
  split: {method: random, test_size: 0.2, seed: 42}
  preprocessing:
    numeric: {impute: median, scale: none}
    categorical: {impute: most_frequent, encode: onehot}
  estimator:
    class: sklearn.ensemble.HistGradientBoostingClassifier
    params: {max_iter: 100, random_state: 0}
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: upgrade-quality}
spec:
  model: upgrade
  gates: [{metric: roc_auc, min: 0.5}]
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: owners}
spec:
  covers: [accounts, accounts-quality, upgrade, upgrade-quality]
  raci:
    model: {responsible: ["@ds"], accountable: "@lead"}
"""

PLAIN = """
import sys
import numpy as np, pandas as pd, skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
df = pd.read_csv("accounts.csv", dtype={"id": str})
df["upgraded"] = df["upgraded"].str.strip().str.lower().map({"yes": True, "no": False})
df = df.drop_duplicates("id", keep="last")
df["spend"] = df["spend"].fillna(df["spend"].median())
assert df["id"].notna().all() and df["seats"].between(0, 100000).all()
df = df[df["upgraded"].notna()]
X, y = df.drop(columns=["id", "upgraded"]), df["upgraded"].astype(bool).to_numpy()
train_idx, test_idx = train_test_split(np.arange(len(df)), test_size=0.2, random_state=42)
num, cat = ["seats", "tenure", "spend"], ["plan", "region"]
model = Pipeline([("prepare", ColumnTransformer([
    ("numeric", Pipeline([("impute", SimpleImputer(strategy="median"))]), num),
    ("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                              ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                       sparse_output=False))]), cat),
])), ("model", HistGradientBoostingClassifier(max_iter=100, random_state=0))])
model.fit(X.iloc[np.sort(train_idx)], y[np.sort(train_idx)])
p = model.predict_proba(X.iloc[np.sort(test_idx)])[:, 1]
print(roc_auc_score(y[np.sort(test_idx)], p))
sio.dump(model, "plain.skops")
"""


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    seats = rng.integers(1, 500, rows)
    tenure = rng.integers(0, 2000, rows)
    spend = rng.gamma(2, 40, rows)
    plan = rng.choice(["free", "team", "business"], rows)
    score = 0.004 * seats - 0.0005 * tenure + 0.01 * spend + np.where(plan == "team", 0.8, 0) + rng.normal(0, 1, rows)
    df = pl.DataFrame({"id": np.char.add("a", np.arange(rows).astype(str)), "seats": seats, "tenure": tenure,
                       "spend": np.where(rng.random(rows) < 0.02, np.nan, spend), "plan": plan,
                       "region": rng.choice(["eu", "us", "apac"], rows),
                       "upgraded": np.where(score > 1.2, "yes", "no")})
    df.with_columns(pl.col("spend").fill_nan(None)).write_csv(path)


def _time(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB (os.wait4 on this very child), and stdout of one whole process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{(stdout + stderr)[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[300_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("charter")
    charter = [str(exe)] if exe.exists() else [sys.executable, "-m", "compiler"]
    results = []
    for rows in args.rows:
        results.append(_bench(rows, args.runs, charter))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        print(f"{result['rows']:,} rows; median of {args.runs} interleaved rounds, whole processes")
        print(f"  plain scikit-learn script   {result['plain_s']:6.2f} s   peak {result['plain_mib']:5.0f} MiB")
        print(f"  charter run --force         {result['charter_s']:6.2f} s   peak {result['charter_mib']:5.0f} MiB"
              f"   ratio {result['ratio']:.3f} (per round: {', '.join(f'{r:.2f}' for r in result['ratios'])})")
        print(f"  charter run (cached)        {result['cached_s']:6.2f} s")
        steps = ", ".join(f"{k} {v:.2f}" for k, v in result["steps"].items())
        print(f"  charter's own report (last round): libraries {result['import_s']:.2f} s; {steps}")
        for target, met in result["targets"].items():
            print(f"  target {target:<26} {'met' if met else 'MISSED'}")
    return 0


def _bench(rows: int, runs: int, charter: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "accounts.csv", rows)
        (root / "specs").mkdir()
        (root / "specs" / "upgrade.yaml").write_text(SPEC)
        (root / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: bench}\n")
        (root / "plain.py").write_text(PLAIN)
        _time([*charter, "run", "upgrade"], root)  # warm-up: .pyc files, the disk cache
        plain, full, cached, ratios, plain_mib, charter_mib = [], [], [], [], [], []
        report: dict = {}
        for i in range(runs):
            # alternate which goes first, so that a drift of the machine's load falls on both
            order = ["plain", "charter"] if i % 2 == 0 else ["charter", "plain"]
            times = {}
            for which in order:
                if which == "plain":
                    times["plain"], peak, _ = _time([sys.executable, "plain.py"], root)
                    plain_mib.append(peak)
                else:
                    times["charter"], peak, out = _time([*charter, "run", "upgrade", "--force", "--format", "json"],
                                                        root)
                    charter_mib.append(peak)
                    report = json.loads(out)
            plain.append(times["plain"])
            full.append(times["charter"])
            ratios.append(times["charter"] / times["plain"])
            cached.append(_time([*charter, "run", "upgrade"], root)[0])
    result = {"rows": rows, "runs": runs, "plain_s": statistics.median(plain), "charter_s": statistics.median(full),
              "ratio": statistics.median(ratios), "ratios": ratios, "cached_s": statistics.median(cached),
              "plain_mib": max(plain_mib), "charter_mib": max(charter_mib),
              "import_s": report.get("import_seconds", 0.0),
              "steps": {s["id"].split("/", 1)[1]: s["seconds"] for s in report.get("steps", [])}}
    result["targets"] = {"charter / plain <= 1.10": result["ratio"] <= 1.10,
                         "cached re-run <= 0.3 s": result["cached_s"] <= 0.3}
    return result


if __name__ == "__main__":
    raise SystemExit(main())

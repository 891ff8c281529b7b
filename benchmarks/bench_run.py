"""`charter run` end to end against a plain scikit-learn script doing the same work, and the cached re-run.

    python benchmarks/bench_run.py [--rows 300000] [--runs 3] [--json]

Both read the same CSV, clean it (standardise a yes/no label, drop duplicate ids, fill
missing values with the median), check two rules, split 80/20 with a seed, train the same
ColumnTransformer + HistGradientBoostingClassifier, compute ROC AUC, and save the model with
skops. Whole processes, wall clock, medians. Targets (issue 3): overhead under 10%, the
cached re-run under 1 s.
"""

from __future__ import annotations

import argparse
import json
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


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("charter")
    charter = [str(exe)] if exe.exists() else [sys.executable, "-m", "compiler"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "accounts.csv", args.rows)
        (root / "specs").mkdir()
        (root / "specs" / "upgrade.yaml").write_text(SPEC)
        (root / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: bench}\n")
        (root / "plain.py").write_text(PLAIN)
        plain, full, cached = [], [], []
        for _ in range(args.runs):
            plain.append(_time([sys.executable, "plain.py"], root))
            full.append(_time([*charter, "run", "upgrade", "--force"], root))
            cached.append(_time([*charter, "run", "upgrade"], root))
    result = {"rows": args.rows, "runs": args.runs, "plain_s": statistics.median(plain),
              "charter_s": statistics.median(full), "cached_s": statistics.median(cached)}
    result["overhead"] = result["charter_s"] / result["plain_s"] - 1
    result["targets"] = {"overhead < 10%": result["overhead"] < 0.10, "cached re-run < 1 s": result["cached_s"] < 1.0}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.rows:,} rows; median of {args.runs} runs, whole processes")
    print(f"  plain scikit-learn script   {result['plain_s']:6.2f} s")
    print(f"  charter run --force         {result['charter_s']:6.2f} s   overhead {result['overhead']:+.1%}")
    print(f"  charter run (cached)        {result['cached_s']:6.2f} s")
    for target, met in result["targets"].items():
        print(f"  target {target:<24} {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

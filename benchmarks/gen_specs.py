"""Generate a synthetic Charter repository: N specs of all six kinds, cross-referenced.

    python benchmarks/gen_specs.py OUT_DIR --count 1000 [--seed 0]

Specs come in products of six (DataSource, ValidationSuite, Model, MetricSet, RolloutPolicy,
Ownership), one document per file so that tools validating one document per file get the
same input. Each spec is about 60 lines, valid, and deterministic for a seed.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

ESTIMATORS = {
    "binary_classification": [
        ("sklearn.linear_model.LogisticRegression", "C: {c}\n      max_iter: 500\n      solver: lbfgs"),
        ("sklearn.ensemble.RandomForestClassifier", "n_estimators: {n}\n      max_depth: {d}\n      min_samples_leaf: 2"),
        ("sklearn.ensemble.HistGradientBoostingClassifier", "max_iter: {n}\n      learning_rate: 0.1\n      max_depth: {d}"),
    ],
    "regression": [
        ("sklearn.linear_model.Ridge", "alpha: {c}"),
        ("sklearn.ensemble.RandomForestRegressor", "n_estimators: {n}\n      max_depth: {d}"),
        ("sklearn.ensemble.HistGradientBoostingRegressor", "max_iter: {n}\n      learning_rate: 0.05"),
    ],
}


def product(i: int, rnd: random.Random) -> dict[str, str]:
    p = f"p{i:04d}"
    task = rnd.choice(["binary_classification", "regression"])
    target, ttype = ("label", "boolean") if task == "binary_classification" else ("amount", "float")
    cls, params = rnd.choice(ESTIMATORS[task])
    params = params.format(c=rnd.choice([0.1, 0.5, 1.0, 2.0]), n=rnd.choice([50, 100, 200]), d=rnd.randint(3, 12))
    metric, bound = ("roc_auc", "min: 0.7") if task == "binary_classification" else ("mae", "max: 12.5")
    extra = [f"f{k:02d}" for k in range(1, 41)]
    extra_columns = "\n".join(f"    - {{name: {c}, type: float, description: Feature {c} of the product}}" for c in extra)
    extra_rules = "\n".join(f"    - {{rule: between, column: {c}, min: -1000, max: 1000}}" for c in extra[:34])
    features = "\n".join(f"      - {c}" for c in ["seats", "tenure_days", "spend", "discount", "country", "plan",
                                                   *extra[:30]])
    specs = {}
    specs["datasource"] = f"""apiVersion: charter/v1
kind: DataSource
metadata:
  name: {p}-events
  description: Synthetic events table number {i} for the benchmark.
  labels: {{team: team-{i % 17}, tier: gold}}
spec:
  format: csv
  path: data/{p}/events.csv
  primary_key: [event_id]
  schema:
    - {{name: event_id, type: string, nullable: false, description: Unique id of the event}}
    - {{name: created_at, type: datetime, nullable: false}}
    - {{name: account_id, type: string, nullable: false}}
    - {{name: country, type: category, values: [se, no, dk, fi, de]}}
    - {{name: channel, type: category}}
    - {{name: plan, type: category}}
    - {{name: seats, type: integer}}
    - {{name: tenure_days, type: integer}}
    - {{name: spend, type: float}}
    - {{name: discount, type: float}}
    - {{name: sessions, type: integer}}
    - {{name: tickets, type: integer}}
    - {{name: email, type: string}}
    - {{name: {target}, type: {ttype}}}
{extra_columns}
  freshness: {{column: created_at, max_age: 36h}}
"""
    specs["suite"] = f"""apiVersion: charter/v1
kind: ValidationSuite
metadata:
  name: {p}-events-quality
  description: Cleaning and checks of {p}-events.
spec:
  source: {p}-events
  prepare:
    - deduplicate: {{keys: [event_id], keep: last}}
    - fill_null: {{columns: [discount], value: 0}}
    - clip: {{column: spend, quantiles: [0.01, 0.99]}}
    - rename: {{mapping: {{sessions: session_count}}}}
  rules:
    - {{rule: not_null, columns: [event_id, account_id]}}
    - {{rule: unique, columns: [event_id]}}
    - {{rule: between, column: seats, min: 1, max: 100000}}
    - {{rule: between, column: discount, min: 0, max: 1}}
    - {{rule: in_set, column: country, values: [se, no, dk, fi, de]}}
    - {{rule: regex, column: email, pattern: "[^@]+@[^@]+", severity: warn}}
    - {{rule: length, column: account_id, min: 6, max: 12}}
    - {{rule: null_fraction, column: spend, max: 0.05, severity: warn}}
    - {{rule: row_count, min: 1000}}
    - {{rule: distinct_count, column: plan, max: 10}}
    - {{rule: mean_between, column: spend, min: 0, max: 10000}}
    - {{rule: stdev_between, column: tenure_days, min: 0, max: 5000}}
    - {{rule: quantile_between, column: seats, quantile: 0.5, min: 1, max: 500}}
    - {{rule: compare, left: tenure_days, op: ">=", right: tickets}}
    - {{rule: not_in_future, column: created_at, tolerance: 5m}}
    - {{rule: freshness, column: created_at, max_age: 2d, severity: warn}}
    - {{rule: expression, check: "spend >= 0 and session_count >= 0"}}
{extra_rules}
"""
    specs["model"] = f"""apiVersion: charter/v1
kind: Model
metadata:
  name: {p}
  description: Synthetic model {i}.
spec:
  task: {task}
  data:
    source: {p}-events
    validation: {p}-events-quality
    target: {target}
    features:
{features}
  split:
    method: random
    test_size: 0.2
    seed: {rnd.randint(0, 1000)}
  preprocessing:
    numeric: {{impute: median, scale: standard}}
    categorical: {{impute: most_frequent, encode: onehot, max_categories: 20}}
  estimator:
    class: {cls}
    params:
      {params}
  slices:
    - {{name: new-accounts, where: "tenure_days < 30"}}
    - {{name: big-accounts, where: "seats >= 100 and plan != 'free'"}}
    - {{name: nordics, where: "country in ['se', 'no', 'dk', 'fi']"}}
    - {{name: germany, where: "country == 'de'"}}
    - {{name: discounted, where: "discount > 0.2"}}
    - {{name: heavy-users, where: "session_count > 100"}}
    - {{name: support-heavy, where: "tickets >= 5"}}
    - {{name: long-tenure, where: "tenure_days > 365 * 2"}}
    - {{name: free-plan, where: "plan == 'free' and seats < 3"}}
  guardrails:
    - {{name: tiny-spend, when: "spend < 1", predict: {"false" if task != "regression" else 0}}}
    - {{name: no-seats, when: "seats == 0", predict: {"false" if task != "regression" else 0}}}
    - {{name: blocked, when: "tickets > 50 and f01 < -900", predict: {"true" if task != "regression" else 1}}}
"""
    specs["metricset"] = f"""apiVersion: charter/v1
kind: MetricSet
metadata:
  name: {p}-quality
  description: Gates of {p}.
spec:
  model: {p}
  metrics: [{"accuracy, f1, average_precision" if task != "regression" else "rmse, r2"}]
  gates:
    - {{metric: {metric}, {bound}}}
    - {{metric: {metric}, slice: new-accounts, {bound}}}
    - {{metric: {metric}, slice: big-accounts, {bound}}}
    - {{metric: {metric}, slice: nordics, {bound}}}
    - {{metric: {metric}, max_drop: 0.02, versus: production}}
    - {{metric: {metric}, slice: new-accounts, max_drop: 0.05, versus: production}}
    - {{metric: {metric}, slice: nordics, max_drop: 0.05, versus: previous}}
  business:
    - {{name: cost, expression: "{'5 * fn + fp' if task != 'regression' else 'sum_abs_error / n'}", max: 1000}}
  monitoring:
    drift:
      method: psi
      alert_above: 0.2
      features:
        - spend
        - seats
        - country
        - tenure_days
        - f01
        - f02
        - f03
        - f04
    schedule: "{rnd.randint(0, 59)} {rnd.randint(0, 23)} * * *"
"""
    specs["rollout"] = f"""apiVersion: charter/v1
kind: RolloutPolicy
metadata:
  name: {p}-rollout
  description: How {p} reaches production.
spec:
  model: {p}
  serving:
    runtime: kserve-sklearn
    replicas: {{min: 1, max: {rnd.randint(2, 10)}}}
    resources:
      requests: {{cpu: 250m, memory: 256Mi}}
      limits: {{cpu: "1", memory: 1Gi}}
  environments:
    - name: dev
      namespace: ml-dev
      strategy:
        type: direct
    - name: staging
      namespace: ml-staging
      approval: responsible
      strategy:
        type: shadow
        duration: 12h
    - name: production
      approval: accountable
      strategy:
        type: canary
        steps:
          - {{traffic: 5, pause: 30m}}
          - {{traffic: 25, pause: 1h}}
          - {{traffic: 50, pause: 2h}}
          - {{traffic: 100}}
        analysis: {{gates: {p}-quality, on_failure: rollback, interval: 5m}}
"""
    specs["ownership"] = f"""apiVersion: charter/v1
kind: Ownership
metadata:
  name: {p}-owners
  description: Owners of {p}.
spec:
  covers: [{p}-events, {p}-events-quality, {p}, {p}-quality, {p}-rollout]
  raci:
    data:
      responsible: ["@acme/data-{i % 5}"]
      accountable: "@lead-{i % 7}"
      informed: ["@acme/analytics"]
    validation:
      responsible: ["@acme/data-{i % 5}"]
      accountable: "@lead-{i % 7}"
      consulted: ["@acme/ds-{i % 3}"]
    model:
      responsible: ["@acme/ds-{i % 3}"]
      accountable: "@scientist-{i % 11}"
      consulted: ["@acme/risk"]
    evaluation:
      responsible: ["@acme/ds-{i % 3}"]
      accountable: "@scientist-{i % 11}"
      consulted: ["@acme/risk"]
    deployment:
      responsible: ["@acme/mlops"]
      accountable: "@sre-{i % 4}"
      informed: ["@acme/support"]
    monitoring:
      responsible: ["@acme/mlops"]
      accountable: "@sre-{i % 4}"
      informed: ["@acme/support"]
"""
    return specs


def generate(out: Path, count: int, seed: int = 0) -> list[Path]:
    rnd = random.Random(seed)
    (out / "specs").mkdir(parents=True, exist_ok=True)
    # The default covers the specs of a last, partial product (when count is not a multiple of 6).
    (out / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: bench}\n"
                                      "spec:\n  specs: [specs]\n  default_ownership: p0000-owners\n")
    files = []
    i = 0
    while len(files) < count:
        for kind, text in product(i, rnd).items():
            if len(files) == count:
                break
            path = out / "specs" / f"p{i:04d}" / f"{kind}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            files.append(path)
        i += 1
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = generate(args.out, args.count, args.seed)
    lines = sum(len(f.read_text().splitlines()) for f in files)
    print(f"wrote {len(files)} specs ({lines / len(files):.0f} lines each on average) to {args.out}")


if __name__ == "__main__":
    main()

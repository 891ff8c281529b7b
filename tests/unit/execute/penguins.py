"""A penguins-like project (the shape of palmerpenguins, generated: no download at test time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PROJECT = """\
apiVersion: charter/v1
kind: Project
metadata: {name: birds}
spec: {specs: [specs], output: generated, default_ownership: owners}
"""

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: penguins}
spec:
  format: csv
  path: data/penguins.csv
CSV_OPTIONS  schema:
    - {name: species, type: category, values: [Adelie, Chinstrap, Gentoo]}
    - {name: bill_length_mm, type: float}
    - {name: body_mass_g, type: float}
    - {name: sex, type: category, values: [female, male]}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: penguins-quality}
spec:
  source: penguins
  prepare:
    - drop_null: {columns: [sex]}
  rules:
    - {rule: row_count, min: 10}
---
apiVersion: charter/v1
kind: Model
metadata: {name: sex}
spec:
  task: binary_classification
  data: {source: penguins, validation: penguins-quality, target: sex}
  estimator: {class: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}}
  MODEL_EXTRA
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: sex-quality}
spec:
  model: sex
  metrics: [accuracy]
  gates: [{metric: roc_auc, min: 0.5}]
  monitoring: {schedule: "0 6 * * *", drift: {method: METHOD, alert_above: 0.2}}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: owners}
spec:
  covers: [penguins, penguins-quality, sex, sex-quality]
  raci:
    data: {responsible: ["@a"], accountable: "@b"}
    model: {responsible: ["@a"], accountable: "@b"}
"""


def rows(n: int, seed: int = 0, mass_shift: float = 0.0, bill_scale: float = 1.0, na: str = "") -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        species = ("Adelie", "Chinstrap", "Gentoo")[i % 3]
        sex = ("female", "male")[rng.integers(2)]
        mass = 3700 + (500 if sex == "male" else 0) + (1000 if species == "Gentoo" else 0) + rng.normal(0, 300)
        bill = (39 if species == "Adelie" else 48) * bill_scale + rng.normal(0, 2)
        out.append({"species": species, "bill_length_mm": f"{bill:.1f}", "body_mass_g": f"{mass + mass_shift:.0f}",
                    "sex": sex if i % 17 else na})
    return out


def write_csv(path: Path, data: list[dict], columns=("species", "bill_length_mm", "body_mass_g", "sex")) -> Path:
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in data]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def project(root: Path, *, method: str = "psi", csv: str = "", model_extra: str = "", n: int = 300,
            na: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "charter.yaml").write_text(PROJECT)
    (root / "specs").mkdir(exist_ok=True)
    text = (SPECS.replace("METHOD", method).replace("CSV_OPTIONS", f"  csv: {csv}\n" if csv else "")
            .replace("MODEL_EXTRA", model_extra))
    (root / "specs/penguins.yaml").write_text(text)
    write_csv(root / "data/penguins.csv", rows(n, na=na))
    return root

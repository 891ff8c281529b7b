"""Vega's cars data set as it ships: one JSON array of objects, nulls, `Year` as a date string.

The file is generated in that shape (no download at test time); the specs use only what the
docs say (`format: json`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")

from tests.conftest import run_charter  # noqa: E402

PROJECT = """\
apiVersion: charter/v1
kind: Project
metadata: {name: cars}
spec: {specs: [specs], output: generated, default_ownership: owners, targets: [docs]}
"""

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: cars}
spec:
  format: json
  path: data/cars.json
  schema:
    - {name: Name, type: string}
    - {name: Miles_per_Gallon, type: float}
    - {name: Cylinders, type: integer}
    - {name: Displacement, type: float}
    - {name: Horsepower, type: float}
    - {name: Weight_in_lbs, type: integer}
    - {name: Acceleration, type: float}
    - {name: Year, type: date}
    - {name: Origin, type: category, values: [USA, Europe, Japan]}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: cars-quality}
spec:
  source: cars
  rules:
    - {rule: row_count, min: 100}
    - {rule: between, column: Cylinders, min: 3, max: 12}
---
apiVersion: charter/v1
kind: Model
metadata: {name: mpg}
spec:
  task: regression
  data: {source: cars, validation: cars-quality, target: Miles_per_Gallon, exclude: [Name]}
  split: {method: time, time_column: Year, test_size: 0.2}
  preprocessing:
    numeric: {impute: median, scale: standard}
    categorical: {impute: most_frequent, encode: onehot}
  estimator: {class: sklearn.linear_model.Ridge, params: {alpha: 1.0}}
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: mpg-quality}
spec:
  model: mpg
  metrics: [mae, r2]
  gates: [{metric: r2, min: 0.5}]
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: owners}
spec:
  covers: [cars, cars-quality, mpg, mpg-quality]
  raci:
    data: {responsible: ["@a"], accountable: "@a"}
    model: {responsible: ["@a"], accountable: "@a"}
"""


def _cars(n: int = 406, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        cylinders = int(rng.choice([4, 6, 8], p=[0.5, 0.25, 0.25]))
        weight = int(1600 + 450 * cylinders + rng.normal(0, 250))
        horsepower = None if i % 60 == 7 else round(20 + 14 * cylinders + rng.normal(0, 10))
        mpg = None if i % 50 == 3 else round(55 - weight / 130 + rng.normal(0, 2.0), 1)
        rows.append({"Name": f"car {i}", "Miles_per_Gallon": mpg, "Cylinders": cylinders,
                     "Displacement": 40 * cylinders + int(rng.integers(-20, 20)), "Horsepower": horsepower,
                     "Weight_in_lbs": weight, "Acceleration": round(float(rng.uniform(8, 24)), 1),
                     "Year": f"{1970 + i * 12 // n}-01-01", "Origin": str(rng.choice(["USA", "Europe", "Japan"]))})
    return rows


def _project(root: Path, text: str) -> Path:
    (root / "specs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "charter.yaml").write_text(PROJECT)
    (root / "specs" / "cars.yaml").write_text(SPECS)
    (root / "data" / "cars.json").write_text(text)
    return root


def test_the_cars_json_array_trains_as_shipped(tmp_path):
    root = _project(tmp_path / "repo", json.dumps(_cars(), indent=1))
    assert run_charter("validate", cwd=root).returncode == 0
    result = run_charter("run", "mpg", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "406 rows, 9 columns" in result.stdout  # nulls read as nulls, `Year` as a date
    lock = json.loads((root / "charter.lock").read_text())["models"]["mpg"]["metrics"]
    assert lock["rows"]["train"] + lock["rows"]["test"] == 406 - 9  # rows without the target are not trained on
    assert lock["metrics"]["r2"] > 0.5


def test_json_lines_given_as_a_json_array_is_named_as_such(tmp_path):
    lines = "".join(json.dumps(r) + "\n" for r in _cars(120))
    root = _project(tmp_path / "repo", lines)
    result = run_charter("check-data", "cars", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr  # the data does not match its spec
    out = result.stdout + result.stderr
    assert "is not a JSON array of objects (it starts with an object: JSON Lines?)" in out
    assert "format: jsonl" in out and "Traceback" not in out

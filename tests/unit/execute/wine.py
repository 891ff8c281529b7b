"""scikit-learn's wine data set (shipped with scikit-learn) as a Charter project."""

from __future__ import annotations

from pathlib import Path

PROJECT = """\
apiVersion: charter/v1
kind: Project
metadata: {name: winery}
spec: {specs: [specs], output: generated, default_ownership: owners}
"""

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: wine}
spec:
  format: csv
  path: data/wine.csv
  schema:
SCHEMA
---
apiVersion: charter/v1
kind: Model
metadata: {name: cultivar}
spec:
  task: multiclass_classification
  data: {source: wine, target: target, exclude: [class0]}
  split: {stratify: true}
  estimator: {class: sklearn.linear_model.LogisticRegression, params: {max_iter: 2000}}
  preprocessing: {numeric: {scale: standard}}
  slices:
    - {name: light, where: "alcohol < 12.2"}
    - {name: none, where: "alcohol > 99"}
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: cultivar-quality}
spec:
  model: cultivar
  metrics: [accuracy, roc_auc_ovr, precision_weighted, recall_weighted, f1_micro, roc_auc_ovo_weighted]
  gates: [{metric: accuracy, min: 0.8}]
---
apiVersion: charter/v1
kind: Model
metadata: {name: class0}
spec:
  task: binary_classification
  data: {source: wine, target: class0, exclude: [target]}
  estimator: {class: sklearn.linear_model.LogisticRegression, params: {max_iter: 2000}}
  preprocessing: {numeric: {scale: standard}}
  positive_label: 1
  guardrails: [{name: never, when: "alcohol > 0", predict: 0}]
---
apiVersion: charter/v1
kind: MetricSet
metadata: {name: class0-quality}
spec:
  model: class0
  metrics: [precision, f1, recall]
  gates: [{metric: accuracy, min: 0.1}]
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: owners}
spec:
  covers: [wine, cultivar, cultivar-quality, class0, class0-quality]
  raci:
    data: {responsible: ["@a"], accountable: "@b"}
    model: {responsible: ["@a"], accountable: "@b"}
"""


def columns() -> list[str]:
    from sklearn.datasets import load_wine

    names = [n.replace("od280/od315_of_diluted_wines", "od280_od315") for n in load_wine().feature_names]
    return [*names, "target", "class0"]


def project(root: Path) -> Path:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame.columns = columns()[:-1]
    frame["class0"] = (frame["target"] == 0).astype(int)
    (root / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "data/wine.csv", index=False)
    (root / "charter.yaml").write_text(PROJECT)
    (root / "specs").mkdir(exist_ok=True)
    schema = "\n".join(f"    - {{name: {c}, type: {'integer' if c in ('target', 'class0') else 'float'}}}"
                       for c in columns())
    (root / "specs/wine.yaml").write_text(SPECS.replace("SCHEMA", schema))
    return root

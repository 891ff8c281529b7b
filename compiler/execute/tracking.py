"""MLflow tracking (`tracking: mlflow` in charter.yaml; `pip install 'charter[mlflow]'`).

Every run that trained or evaluated something logs its parameters, metrics overall and per
slice, business metrics, the model card and the model to MLflow; a promoted version is also
registered in the model registry under the model's name, so teams keep the UI they know.
The tracking URI comes from `MLFLOW_TRACKING_URI`, else a local `sqlite:///` store in
`.charter/mlflow.db`; with a local store, artifacts go to `.charter/mlartifacts/` (MLflow's
default, `./mlruns`, would leave an untracked folder in the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

from compiler.execute.failure import RunError
from compiler.execute.store import read_json

_LOGGED_STEPS = {"train", "evaluate", "gate", "package"}


_SERVERS = ("http://", "https://", "databricks")


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / '.charter' / 'mlflow.db').as_posix()}"


def artifact_root(root: Path) -> str:
    """Where a local store keeps run artifacts: under `.charter/`, which git ignores."""
    return (root / ".charter" / "mlartifacts").resolve().as_uri()


def _flat_metrics(metrics: dict) -> dict[str, float]:
    out = {k: v for k, v in metrics["metrics"].items() if v is not None}
    for name, s in metrics["slices"].items():
        out.update({f"slice.{name}.{k}": v for k, v in s["metrics"].items() if v is not None})
        out[f"slice.{name}.rows"] = s["rows"]
    out.update({f"business.{k}": v for k, v in metrics["business"].items() if v is not None})
    return out


def log_run(runner, pipeline, result) -> str | None:
    """Log the run to MLflow; returns the MLflow run id, or None when nothing new ran."""
    ran = {o.id.split("/", 1)[1] for o in result.outcomes if o.status in ("ran", "failed")}
    if not ran & _LOGGED_STEPS:
        return None
    evaluate_dir = runner.store.step_dir(runner.keys[f"{pipeline.name}/evaluate"])
    if not (evaluate_dir / "metrics.json").is_file():
        return None  # the run stopped before evaluation: nothing to compare in MLflow
    try:
        import logging

        import mlflow
    except ImportError:
        raise RunError("`tracking: mlflow` needs MLflow", hint="pip install 'charter[mlflow]'") from None
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(runner.root)
    mlflow.set_tracking_uri(uri)
    experiment = f"charter-{pipeline.name}"
    if not uri.startswith(_SERVERS) and mlflow.get_experiment_by_name(experiment) is None:
        # MLflow's default artifact root for a local store is ./mlruns in the working folder:
        # an untracked folder in the repository. A tracking server chooses its own.
        mlflow.create_experiment(experiment, artifact_location=artifact_root(runner.root))
    mlflow.set_experiment(experiment)
    train = pipeline.step("train").params
    split = pipeline.step("split").params
    metrics = read_json(evaluate_dir / "metrics.json")
    params = {f"estimator.{k}": v for k, v in train["estimator"]["params"].items()}
    params.update({"estimator.class": train["estimator"]["class"], "split.method": split["method"],
                   "split.test_size": split["test_size"], "split.seed": split["seed"],
                   "features": ",".join(train["features"])})  # fmt: skip
    package_dir = runner.store.step_dir(runner.keys[f"{pipeline.name}/package"])
    with mlflow.start_run(run_name=f"{pipeline.name}-{runner.keys[pipeline.name + '/train'][:12]}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(_flat_metrics(metrics))
        mlflow.set_tags({"charter.model": pipeline.name, "charter.spec_hash": pipeline.step("package").hash,
                         "charter.data_fingerprint": runner.fingerprints.get(pipeline.name, ""),
                         "charter.promoted": str(result.promoted or ""), "charter.failed": result.failed or ""})
        mlflow.log_dict(metrics, "metrics.json")
        if (package_dir / "model_card.md").is_file():
            mlflow.log_text((package_dir / "model_card.md").read_text(encoding="utf-8"), "model_card.md")
        train_dir = runner.store.step_dir(runner.keys[f"{pipeline.name}/train"])
        model = runner.memory.get("model")
        if model is None:
            from compiler.execute.package import load_model

            model = load_model(train_dir)
        import mlflow.sklearn

        from compiler.execute.package import trusted_types

        # Same format and the same trust policy as Charter's own package: skops, trusting
        # scikit-learn's, numpy's and scipy's types only.
        mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                                 skops_trusted_types=trusted_types(train_dir / "model.skops"),
                                 registered_model_name=pipeline.name if result.promoted else None)
        return run.info.run_id

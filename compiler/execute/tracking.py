"""MLflow tracking (`tracking: mlflow` in charter.yaml; `pip install 'charter[mlflow]'`).

Every run that trained or evaluated something logs its parameters, metrics overall, per
slice and per evaluation window, business metrics, the model card, the training data as an
MLflow dataset input and the model, with a signature inferred from the training frame and an
input example. Runs are tagged with the git commit (`mlflow.source.git.commit`), the Charter
version and the step hashes. A promoted Charter version is registered once in the model
registry under the model's name (a re-run of the same version finds it by its
`charter.model_version` tag), and the registered-model aliases named after the model's
rollout environments (`staging`, `production`) move to it; `charter rollback` moves them back.
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


def _flat_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    out = {prefix + k: v for k, v in metrics["metrics"].items() if v is not None}
    for name, s in metrics["slices"].items():
        out.update({f"{prefix}slice.{name}.{k}": v for k, v in s["metrics"].items() if v is not None})
        out[f"{prefix}slice.{name}.rows"] = s["rows"]
    out.update({f"{prefix}business.{k}": v for k, v in metrics["business"].items() if v is not None})
    for name, w in (metrics.get("windows") or {}).items():
        out.update(_flat_metrics(w, f"window.{name}."))
        out[f"window.{name}.rows"] = w["rows"]
    return out


def _git(root: Path, *args: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def git_tags(root: Path) -> dict[str, str]:
    """The repository's commit and branch, as MLflow's own source tags name them.

    MLflow guesses them from the file that started Python, which is Charter's installation,
    not the repository of the specs: these replace that guess.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None or len(commit) not in (40, 64):
        return {}
    tags = {"mlflow.source.git.commit": commit, "charter.git_commit": commit}
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    tags["mlflow.source.git.branch"] = branch if branch and branch != "HEAD" else ""
    return tags


def environments(pipeline) -> list[str]:
    """The registered-model aliases of a model: its rollout environments' names, in rollout order."""
    names: list[str] = []
    for rollout in pipeline.rollouts:
        names += [e["name"] for e in rollout["environments"] if e["name"] not in names]
    return names


def _connect(root: Path):
    try:
        import logging

        import mlflow
    except ImportError:
        raise RunError("`tracking: mlflow` needs MLflow", hint="pip install 'charter[mlflow]'") from None
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    return mlflow, uri


def registered(client, model: str, version: str):
    """The registered version of Charter version `version` of `model`, or None."""
    found = client.search_model_versions(f"name='{model}' and tags.`charter.model_version`='{version}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def move_aliases(client, model: str, registered_version: str, aliases: list[str]) -> list[str]:
    """Point each alias at `registered_version`; returns the aliases that moved."""
    moved = []
    for alias in aliases:
        try:
            current = client.get_model_version_by_alias(model, alias).version
        except Exception:  # MLflow raises its own RestException when the alias is not set yet
            current = None
        if str(current) != str(registered_version):
            client.set_registered_model_alias(model, alias, str(registered_version))
            moved.append(alias)
    return moved


def follow_rollback(root: Path, pipeline, version: str) -> str:
    """After `charter rollback`: the environments' aliases point at the registered `version` again."""
    mlflow, uri = _connect(root)
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        found = registered(client, pipeline.name, version)
        if found is None:
            return f"mlflow: version {version} of {pipeline.name} is not registered; aliases left as they are"
        moved = move_aliases(client, pipeline.name, found.version, environments(pipeline))
    except MlflowException as exc:
        raise RunError(f"the MLflow registry at {uri} refused: {str(exc).splitlines()[0][:200]}") from None
    return (f"mlflow: moved {', '.join(moved)} of {pipeline.name} to registered version {found.version}"
            if moved else f"mlflow: aliases of {pipeline.name} already at registered version {found.version}")


def log_run(runner, pipeline, result) -> str | None:
    """Log the run to MLflow; returns the MLflow run id, or None when nothing new ran."""
    ran = {o.id.split("/", 1)[1] for o in result.outcomes if o.status in ("ran", "failed")}
    if not ran & _LOGGED_STEPS:
        return None
    evaluate_dir = runner.store.step_dir(runner.keys[f"{pipeline.name}/evaluate"])
    if not (evaluate_dir / "metrics.json").is_file():
        return None  # the run stopped before evaluation: nothing to compare in MLflow
    mlflow, uri = _connect(runner.root)
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
    version = runner.keys[f"{pipeline.name}/package"][:12]
    with mlflow.start_run(run_name=f"{pipeline.name}-{runner.keys[pipeline.name + '/train'][:12]}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(_flat_metrics(metrics))
        tags = _tags(runner, pipeline, result, version)
        mlflow.set_tags(tags)
        if "charter.git_commit" not in tags:  # not a git checkout: drop MLflow's guess (Charter's own)
            for guess in ("mlflow.source.git.commit", "mlflow.source.git.branch", "mlflow.source.git.repoURL"):
                if guess in mlflow.get_run(run.info.run_id).data.tags:
                    mlflow.MlflowClient().delete_tag(run.info.run_id, guess)
        mlflow.log_dict(metrics, "metrics.json")
        if (package_dir / "model_card.md").is_file():
            mlflow.log_text((package_dir / "model_card.md").read_text(encoding="utf-8"), "model_card.md")
        train_dir = runner.store.step_dir(runner.keys[f"{pipeline.name}/train"])
        model = runner.memory.get("model")
        if model is None:
            from compiler.execute.package import load_model

            model = load_model(train_dir)
        frame = _training_frame(runner, pipeline)
        _log_dataset(mlflow, pipeline, frame)
        info = _log_model(mlflow, model, train, frame, train_dir)
        if result.promoted:
            _register(mlflow, pipeline, info.model_uri, run.info.run_id, result.promoted)
        return run.info.run_id


def _tags(runner, pipeline, result, version: str) -> dict[str, str]:
    from compiler import __version__

    tags = {"charter.model": pipeline.name, "charter.model_version": version, "charter.version": __version__,
            "charter.spec_hash": pipeline.step("package").hash,
            "charter.data_fingerprint": runner.fingerprints.get(pipeline.name, ""),
            "charter.promoted": str(result.promoted or ""), "charter.failed": result.failed or ""}
    tags.update({f"charter.step_hash.{s.name}": s.hash for s in pipeline.steps})
    tags["mlflow.source.name"] = f"charter run {pipeline.name}"
    tags.update(git_tags(runner.root))
    return tags


def _training_frame(runner, pipeline):
    import polars as pl

    cached = runner.memory.get("train_set")
    if cached is not None:
        return cached
    return pl.read_parquet(runner.store.step_dir(runner.keys[f"{pipeline.name}/split"]) / "train_set.parquet")


def _log_dataset(mlflow, pipeline, frame) -> None:
    """The training rows as an MLflow dataset input: digest, schema, profile (the rows stay in the store)."""
    ingest = pipeline.step("ingest").params
    train = pipeline.step("train").params
    data = frame.select([*train["features"], train["target"]]).to_pandas()
    dataset = mlflow.data.from_pandas(data, source=ingest.get("path") or ingest["source"],
                                      name=f"{ingest['source']}-train", targets=train["target"])
    mlflow.log_input(dataset, context="training")


def _log_model(mlflow, model, train: dict, frame, train_dir: Path):
    """The model, in skops as Charter's own package, with a signature and an input example of its frame."""
    from mlflow import sklearn as mlflow_sklearn
    from mlflow.models import infer_signature

    from compiler.execute.package import trusted_types
    from compiler.execute.train import to_pandas

    # What the pipeline takes: the feature frame of compiler.execute.train (numbers as float,
    # dates as epoch seconds); the example is the first training rows.
    X = to_pandas(frame, train)
    example = X.head(5)
    signature = infer_signature(X, model.predict(example))
    # Same trust policy as Charter's package: scikit-learn's, numpy's and scipy's types only.
    return mlflow_sklearn.log_model(model, name="model", serialization_format="skops",
                                    skops_trusted_types=trusted_types(train_dir / "model.skops"),
                                    signature=signature, input_example=example)


def _register(mlflow, pipeline, model_uri: str, run_id: str, version: str) -> None:
    """One registered version per Charter version; the environments' aliases follow the promotion."""
    client = mlflow.MlflowClient()
    found = registered(client, pipeline.name, version)
    if found is None:
        found = mlflow.register_model(model_uri, pipeline.name, tags={"charter.model_version": version,
                                                                      "charter.run_id": run_id})
    move_aliases(client, pipeline.name, found.version, environments(pipeline))

"""Which package `charter serve` serves: the promoted version of charter.lock, a named version, or a folder."""

from __future__ import annotations

from pathlib import Path

from compiler.execute.failure import RunError
from compiler.execute.lock import read_lock
from compiler.execute.monitor import promoted_package
from compiler.execute.predict import CONTRACT_FILE
from compiler.execute.store import open_store, read_json, store_uri


def package_folder(graph, root: Path, model: str, version: str | None, store: str | None) -> Path:
    """The package folder of `model`: the version charter.lock promotes, or `version` from the store.

    The store is the one every command resolves (`--store`, `$CHARTER_STORE`, charter.yaml).
    """
    if graph.model(model) is None:
        raise RunError(f"no model named `{model}`", hint="the models: " + ", ".join(m.name for m in graph.models))
    entry = read_lock(root)["models"].get(model)
    if version is None or (entry is not None and entry["version"] == version):
        if entry is None:
            raise RunError(f"`{model}` has no promoted version in charter.lock",
                           hint=f"run `charter run {model}` first, or name a version with --version")
        return checked(promoted_package(graph, root, model, entry, store), model)
    uri = store_uri(store, graph.project)
    folder = open_store(uri, root).model_dir(model, version)
    if folder is None:
        raise RunError(f"version {version} of `{model}` is not in the artifact store `{uri}`",
                       hint="`charter history` lists the versions that were promoted")
    return checked(folder, model, version)


def checked(folder: Path, model: str, version: str | None = None) -> Path:
    """`folder` when it holds a servable package of `model` (at `version`), else a RunError saying what is missing."""
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder")
    missing = [f for f in ("model.skops", CONTRACT_FILE, "run.json") if not (folder / f).is_file()]
    if missing:
        raise RunError(f"{folder} is not a servable Charter package: {', '.join(missing)} missing",
                       hint=f"packages from before `charter serve` lack {CONTRACT_FILE}: run `charter run {model} "
                            "--force` to package the model again")
    record = read_json(folder / "run.json")
    if record.get("model") != model:
        raise RunError(f"{folder} holds the package of `{record.get('model')}`, not of `{model}`")
    if version is not None and record.get("version") != version:
        raise RunError(f"{folder} holds version {record.get('version')} of `{model}`, not {version}")
    return folder


def prediction_log(graph, root: Path, model: str, environment: str, store: str | None):
    """The prediction log writer the model's RolloutPolicy declares, into the store; None without one."""
    from compiler.execute.predlog import LogWriter, folder

    pipeline = graph.model(model)
    policy = next((r["prediction_log"] for r in pipeline.rollouts if r.get("prediction_log")), None) \
        if pipeline is not None else None
    if policy is None:
        return None
    uri = store_uri(store, graph.project)
    writer = LogWriter(open_store(uri, root), model, environment, policy)
    writer.where = f"{uri.rstrip('/')}/{folder(model, environment)}/"
    return writer

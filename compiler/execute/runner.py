"""Runs a model pipeline of the IR step by step, reusing every step whose run key is unchanged.

A step's run key hashes its IR content hash, the run keys of the steps it needs, the input
data's fingerprint (for ingest) and the versions of Charter and the libraries that compute
it. Unchanged key, existing artifacts: the step is skipped (like `dvc repro`). Heavy
libraries are imported only when a step really runs, so a fully cached re-run stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from compiler.atomic import os_problem, write_atomic
from compiler.execute.failure import RunError
from compiler.execute.lock import read_lock, update_lock
from compiler.execute.store import json_text, open_store, read_json, store_uri
from compiler.ir.graph import ModelPipeline, PipelineGraph, Step, content_hash

_LIBRARIES = ("polars", "pandas", "scikit-learn", "skops", "numpy")
# Steps recomputed in memory when needed instead of stored: re-reading the source costs about
# what reading a stored copy would, and writing a copy of every table on every run does not pay.
EPHEMERAL = frozenset({"ingest", "prepare"})
# What each step kind writes, versioned: a Charter whose step writes something new (evaluate's
# predictions.parquet, the package's predictor.json) never reuses what an older one stored.
OUTPUT_FORMAT = {"evaluate": 2, "package": 2}
RUN_RECORD_VERSION = 1  # `runs/<model>/latest.json`, documented in docs/runtime.md
# What each step kind imports before its clock starts: libraries load once per run, and a
# step's time is then its own work. The imports are reported once per run (`import_seconds`),
# so a split is not shown as slow because pandas and scikit-learn loaded during it.
STEP_IMPORTS = {
    "ingest": ("polars", "compiler.execute.ingest"),
    "prepare": ("compiler.execute.prepare",),
    "validate": ("compiler.execute.rules",),
    "split": ("compiler.execute.train", "sklearn.model_selection"),
    "train": ("compiler.execute.train", "compiler.execute.package", "skops.io", "sklearn.compose", "sklearn.impute",
              "sklearn.pipeline", "sklearn.preprocessing"),
    "evaluate": ("compiler.execute.evaluate", "compiler.execute.predict", "sklearn.metrics"),
    "gate": ("compiler.execute.gate",),
    "package": ("compiler.execute.package", "skops.io"),
}


def versions() -> dict[str, str]:
    from compiler import __version__

    found = {"charter": __version__}
    for lib in _LIBRARIES:
        try:
            found[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            found[lib] = "missing"
    return found


@dataclass
class StepOutcome:
    id: str
    status: str  # "ran" | "cached" | "failed"
    seconds: float
    run_key: str
    detail: str = ""


@dataclass
class RunResult:
    model: str
    outcomes: list[StepOutcome] = field(default_factory=list)
    promoted: str | None = None
    failed: str | None = None  # why the run stopped, when it did
    report: str = ""  # rule or gate table of a failure
    exit_code: int = 0
    import_seconds: float = 0.0  # loading libraries, once per run; not in any step's seconds
    data: dict | None = None  # the data report of the validate step (compiler.execute.report), once it ran
    gates: dict | None = None  # the gate step's verdict, passed or not, once it ran

    def to_dict(self) -> dict:
        out: dict[str, object] = {"model": self.model, "promoted": self.promoted, "failed": self.failed,
                                  "exit_code": self.exit_code, "import_seconds": round(self.import_seconds, 3),
                                  "steps": [o.__dict__ for o in self.outcomes]}
        if self.data is not None:
            out["data_check"] = self.data
        return out


class Runner:
    """Runs pipelines of one graph against one store; `echo` receives progress lines."""

    def __init__(self, graph: PipelineGraph, root: Path, *, store: str | None = None, force: bool = False,
                 echo: Callable[[str], None] = lambda line: None, now=None,
                 progress: Callable[[str], None] = lambda step_id: None):
        self.graph, self.root, self.force, self.echo, self.progress = graph, root, force, echo, progress
        self.store = open_store(store_uri(store, graph.project), root)
        self.versions = versions()
        self.now = now
        self.fingerprints: dict[str, str] = {}

    def run_keys(self, pipeline: ModelPipeline) -> dict[str, str]:
        from compiler.execute.fingerprint import fingerprint

        cache_path = self.store.base / "fingerprints.json"
        try:
            cache = read_json(cache_path) if cache_path.is_file() else {}
        except ValueError:
            cache = {}  # a damaged cache only costs a re-hash
        before = dict(cache)
        keys: dict[str, str] = {}
        for step in pipeline.steps:
            extra: dict[str, object] = {}
            if step.name == "ingest":
                extra["data"] = self.fingerprints[pipeline.name] = fingerprint(step.params, self.root, cache)
            if step.name == "evaluate" and step.params.get("windows"):
                extra["windows"] = self._window_inputs(step.params["windows"], cache)
            if step.name == "validate" and (refs := [r for r in step.params.get("rules", [])
                                                     if r["rule"] == "foreign_key"]):
                # a foreign key's referenced data: new keys there re-run the check (and what follows it)
                extra["references"] = {r["references"]["ingest"]["source"]: fingerprint(r["references"]["ingest"],
                                                                                         self.root, cache)
                                       for r in refs}
            keys[step.id] = content_hash({"hash": step.hash, "needs": [keys[n] for n in step.needs],
                                          "versions": self.versions, "format": OUTPUT_FORMAT.get(step.name, 1),
                                          **extra})  # fmt: skip
        if cache != before:  # unique temp names: two runs may write it at once (the last one wins)
            try:
                write_atomic(cache_path, json_text(cache), durable=False)
            except OSError:
                pass  # a cache: without it the next run hashes the file again; a step reports a full disk
        return keys

    def _window_inputs(self, windows: list[dict], cache: dict) -> dict:
        """What evaluate reads besides its IR inputs: the windows' own data, and the run's day.

        A window's source changed, or a new day for a `relative_to: run` window, re-runs evaluate
        and the steps after it; train's key does not change.
        """
        from compiler.execute.fingerprint import fingerprint

        out: dict = {"data": {w["name"]: fingerprint(w["source"], self.root, cache)
                              for w in windows if isinstance(w.get("source"), dict)}}
        if any(w.get("relative_to") == "run" for w in windows):
            from compiler.execute.windows import run_end

            out["run_day"] = run_end(self.now or datetime.now(UTC)).date().isoformat()
        return out

    def run(self, model: str, *, only: str | None = None, until: str | None = None,
            with_upstream: bool = False) -> RunResult:
        """Run `model`'s pipeline; `only` runs one step (as each pod of a cluster pipeline does).

        With `only`, the step's inputs must be in the store; a missing one fails the run (exit 1)
        and says which, unless `with_upstream` asks to compute the missing steps first. Every
        step that runs then stores its outputs, ingest and prepare included, so that the next
        step, in another process or pod, finds them.
        """
        pipeline = self.graph.pipeline(model)
        if pipeline is None:
            names = ", ".join(f"`{m.name}`" for m in self.graph.models) or "none"
            raise RunError(f"no model named `{model}`", hint=f"models in this repository: {names}")
        if only is not None and pipeline.step(only) is None:
            raise RunError(f"model `{model}` has no step `{only}`",
                           hint="steps: " + ", ".join(s.name for s in pipeline.steps))
        steps = list(pipeline.steps)
        if until is not None:
            steps = steps[: [s.name for s in steps].index(until) + 1]
        keys = self.keys = self.run_keys(pipeline)
        self.memory: dict[str, object] = {}  # tables of ephemeral steps, by output name
        self.persist_all = only is not None
        result = self.result = RunResult(model)  # the package step records the timings so far
        missing = self._missing_inputs(pipeline, only, keys) if only is not None else []
        if only is not None and missing and not with_upstream:
            names = ", ".join(f"`{n}`" for n in missing)
            result.failed = (f"step `{only}` needs the outputs of {names}, which the artifact store "
                             f"`{self.store.uri}` does not hold for these inputs")
            result.report = (f"run those steps first (in a pipeline: as earlier tasks, sharing this store), or "
                             f"`charter run {model} --step {only} --with-upstream` to compute them here")
            result.exit_code = 1
            self.echo(f"{pipeline.name + '/' + only:<28} {'failed':<7} {0:6.2f}s  inputs missing from the store")
            return result
        must = self._must_run(pipeline, steps, keys, only)
        for step in steps:
            if only is not None and step.id not in must:
                continue
            if step.id in must:
                self.progress(step.id)
                outcome = self._step(pipeline, step, keys, result)
            elif step.name in EPHEMERAL:
                outcome = StepOutcome(step.id, "cached", 0.0, keys[step.id], "not needed")
            else:
                started = time.perf_counter()
                try:
                    detail = self._after(pipeline, step, keys[step.id], result)
                    outcome = StepOutcome(step.id, "cached", time.perf_counter() - started, keys[step.id], detail)
                except Exception as exc:
                    outcome = self._failed(step, keys[step.id], started, exc, result)
            result.outcomes.append(outcome)
            self.echo(f"{step.id:<28} {outcome.status:<7} {outcome.seconds:6.2f}s  {outcome.detail}".rstrip())
            if outcome.status == "failed":
                break
        if result.import_seconds >= 0.005:
            self.echo(f"{'(libraries)':<28} {'loaded':<7} {result.import_seconds:6.2f}s  "
                      "once per run, not counted in the step times")
        if only is None and until is None and pipeline.step("package") is not None:
            self._record(pipeline, keys, result)
        return result

    def _record(self, pipeline: ModelPipeline, keys: dict[str, str], result: RunResult) -> None:
        """The outcome of a whole run in the store, `runs/<model>/latest.json`: what the site shows as the last run.

        Written through the store (a shared one too, where CI and the pipeline pods run), after
        the run; a store that cannot take it costs only that line of the site.
        """
        gate = pipeline.step("gate")
        verdict = result.gates
        if verdict is None and gate is not None and self.store.has(keys[gate.id]):
            found = self.store.step_dir(keys[gate.id]) / "verdict.json"
            verdict = read_json(found) if found.is_file() else None
        finished = (self.now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"format_version": RUN_RECORD_VERSION, "model": pipeline.name, "finished": finished,
                  "outcome": "failed" if result.failed else "passed", "failed": result.failed,
                  "version": result.promoted,
                  "steps": {o.id.split("/", 1)[1]: o.status for o in result.outcomes},
                  "gates": None if verdict is None else {
                      "passed": verdict["passed"], "failed": [g["id"] for g in verdict["gates"] if not g["passed"]]}}
        try:
            self.store.put(f"runs/{pipeline.name}/latest.json", json_text(record).encode("utf-8"))
        except OSError:
            pass

    def _must_run(self, pipeline: ModelPipeline, steps: list[Step], keys: dict[str, str], only: str | None) -> set[str]:
        """Steps to execute: stale persisted steps, plus the ephemeral steps they need; or `only`."""
        by_id = {s.id: s for s in pipeline.steps}
        if only is not None:
            # the step, and (with --with-upstream) every step before it whose outputs are missing
            target = pipeline.step(only)
            assert target is not None  # run() refused an unknown `only`
            must, todo = set(), [target.id]
            while todo:
                step_id = todo.pop()
                must.add(step_id)
                todo += [n for n in by_id[step_id].needs if n not in must and not self.store.has(keys[n])]
            return must
        must = {s.id for s in steps if s.name not in EPHEMERAL and (self.force or not self.store.has(keys[s.id]))}
        # Ephemeral steps (ingest, prepare) are recomputed in memory whenever a step that runs needs them.
        for step in reversed(pipeline.steps):
            if step.id in must:
                for need in step.needs:
                    if by_id[need].name in EPHEMERAL:
                        must.add(need)
        return must

    def _missing_inputs(self, pipeline: ModelPipeline, only: str, keys: dict[str, str]) -> list[str]:
        """The steps `only` needs whose outputs the store does not hold, in pipeline order."""
        target = pipeline.step(only)
        assert target is not None  # run() refused an unknown `only`
        needs = set(target.needs)
        return [s.name for s in pipeline.steps if s.id in needs and not self.store.has(keys[s.id])]

    def _inputs(self, pipeline: ModelPipeline, step: Step, keys: dict[str, str]) -> dict[str, Path]:
        folders = {}
        for need in step.needs:
            folder = self.store.step_dir(keys[need])
            for output in next(s for s in pipeline.steps if s.id == need).outputs:
                folders[output] = folder
        return folders

    def _step(self, pipeline: ModelPipeline, step: Step, keys: dict[str, str], result: RunResult) -> StepOutcome:
        key = keys[step.id]
        loading = time.perf_counter()
        _warm(step)
        started = time.perf_counter()
        result.import_seconds += started - loading
        from compiler.execute import steps as impl
        from compiler.execute.errors import DataError

        inputs = self._inputs(pipeline, step, keys)
        self.current_key = key
        try:
            if step.name in EPHEMERAL and not self.persist_all:
                detail = getattr(impl, f"run_{step.name}")(self, pipeline, step, inputs, None)
            else:
                with self.store.writing(key) as out:
                    detail = getattr(impl, f"run_{step.name}")(self, pipeline, step, inputs, out)
            detail = self._after(pipeline, step, key, result) or detail
        except impl.StepFailed as failed:
            result.failed, result.report, result.exit_code = failed.message, failed.report, 1
            return StepOutcome(step.id, "failed", time.perf_counter() - started, key, failed.message)
        except DataError as exc:
            result.failed, result.exit_code = str(exc), 1
            return StepOutcome(step.id, "failed", time.perf_counter() - started, key, str(exc))
        except Exception as exc:
            return self._failed(step, key, started, exc, result)
        return StepOutcome(step.id, "ran", time.perf_counter() - started, key, detail)

    def _failed(self, step: Step, key: str, started: float, exc: Exception, result: RunResult) -> StepOutcome:
        """A step stopped by a `RunError` (its own exit code) or by the machine (exit 2), else re-raise.

        The step folder under construction is already removed (`Store.writing`); the lock and the
        promoted packages were never touched, or written whole (`write_atomic`).
        """
        if isinstance(exc, RunError):
            message, hint, code = exc.message, exc.hint, exc.exit_code
        else:
            name = getattr(exc, "filename", None)
            inside = name is None or Path(name).is_relative_to(self.store.base)  # else a data file it reads
            problem = os_problem(exc, where=self._shown(self.store.base), doing="write" if inside else "access")
            if problem is None:
                raise exc
            (message, hint), code = problem, 2
            message = self._relative(message)
        result.failed, result.exit_code = message, code
        result.report = f"help: {hint}" if hint else ""
        return StepOutcome(step.id, "failed", time.perf_counter() - started, key, message)

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    def _relative(self, message: str) -> str:
        return message.replace(f"`{self.root}/", "`")

    def _after(self, pipeline: ModelPipeline, step: Step, key: str, result: RunResult) -> str:
        """Whether the package step ran or was reused, its version is promoted (idempotent).

        A reused validate step gives the run its stored data report.
        """
        if step.name == "validate" and result.data is None:
            from compiler.execute.report import stored_report

            result.data = stored_report(read_json(self.store.step_dir(key) / "data_report.json"),
                                        step.params.get("engine") or "polars")
        return self._promote(pipeline, key, result) if step.name == "package" else ""

    def _promote(self, pipeline: ModelPipeline, key: str, result: RunResult) -> str:
        """Copy the package to its model version folder and record it in charter.lock."""
        folder = self.store.step_dir(key)
        record = read_json(folder / "run.json")
        version = record["version"]
        self.store.promote(pipeline.name, version, folder)
        package = pipeline.step("package")
        assert package is not None  # every model pipeline ends with its package step
        # Versions and content hashes of the inputs only, never a machine's path: every reader
        # finds the package in its own store (`store_uri`) under models/<model>/<version>/.
        entry = {"version": version, "spec_hash": package.hash,
                 "data_fingerprint": record["data_fingerprint"], "metrics": read_json(folder / "metrics.json")}
        result.promoted = version

        def record_entry(lock: dict) -> bool:
            if lock["models"].get(pipeline.name) == entry:
                return False
            lock["models"][pipeline.name] = entry
            return True

        return f"promoted {version}" if update_lock(self.root, record_entry) else f"version {version}"

    def baselines(self, model: str) -> dict[str, dict | None]:
        production = read_lock(self.root)["models"].get(model, {}).get("metrics")
        previous_path = self.store.base / "runs" / model / "last.json"
        previous = read_json(previous_path) if previous_path.is_file() else None
        return {"production": production, "previous": previous}

    def remember(self, model: str, metrics: dict) -> None:
        write_atomic(self.store.base / "runs" / model / "last.json", json_text(metrics))


def _warm(step: Step) -> None:
    """Import what `step` will use (and resolve its estimator), so that its clock measures its work.

    A failure here is left to the step itself, which reports it as it always does.
    """
    import importlib

    for name in STEP_IMPORTS.get(step.name, ()):
        try:
            importlib.import_module(name)
        except ImportError:
            return
    if step.name == "train":
        from compiler.execute.train import estimator_class

        try:
            estimator_class(step.params["estimator"]["class"])
        except (RunError, KeyError, TypeError):
            return

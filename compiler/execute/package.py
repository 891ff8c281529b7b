"""Package: the model, its metrics, a model card and the run record.

The model is saved with skops, plus joblib where a serving runtime demands it; the model card
follows Google's Model Card sections.
"""

from __future__ import annotations

import math
from pathlib import Path

from compiler.execute.store import write_json

# KServe's sklearn server loads `model.joblib`; MLServer's sklearn runtime does too.
_JOBLIB_RUNTIMES = {"kserve-sklearn", "kserve-mlserver"}


def save_model(pipeline, folder: Path, runtimes: list[str]) -> list[str]:
    import skops.io as sio

    files = ["model.skops"]
    sio.dump(pipeline, folder / "model.skops")
    if _JOBLIB_RUNTIMES & set(runtimes):
        import joblib

        joblib.dump(pipeline, folder / "model.joblib")
        files.append("model.joblib")
    return files


# Types skops does not trust by default that Charter's pipelines hold: tree structures, the
# histogram-GBM predictors and binners, losses, neighbour trees, numpy's dtype and RNG state.
# An exact list (not prefixes such as `builtins.` or `numpy.`, which would admit `builtins.eval`
# or `numpy.testing` helpers); scikit-learn's public estimator classes are added by name.
_TRUSTED = frozenset({
    "numpy.dtype", "numpy.random._mt19937.MT19937", "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator", "numpy.random._pcg64.PCG64", "collections.OrderedDict",
    "sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.utils._bunch.Bunch", "scipy.sparse._csr.csr_matrix", "scipy.sparse._csc.csc_matrix",
})  # fmt: skip


def _trusted_names() -> frozenset[str]:
    import inspect

    from sklearn._loss import link, loss
    from sklearn.utils import all_estimators

    names = {f"{c.__module__}.{c.__qualname__}" for _, c in all_estimators()}
    for module in (loss, link):
        names |= {f"{c.__module__}.{c.__qualname__}" for _, c in inspect.getmembers(module, inspect.isclass)
                  if c.__module__ == module.__name__}
    return _TRUSTED | names


def trusted_types(path: Path) -> list[str]:
    """The types a skops file needs, when every one is on Charter's exact list.

    Anything else means the file was not written by Charter, and loading it is refused.
    """
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    allowed = _trusted_names()
    unexpected = [t for t in untrusted if t not in allowed]
    if unexpected:
        raise ValueError(f"refusing to load {path}: unexpected types {', '.join(unexpected[:5])}")
    return untrusted


def load_model(folder: Path):
    """Load a model saved by `save_model`, trusting only the exact types of `trusted_types`."""
    import skops.io as sio

    path = folder / "model.skops"
    return sio.load(path, trusted=trusted_types(path))


def _fmt(value, why: str | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"n/a ({why})" if why else "n/a"
    return f"{value:.4f}"


def model_card(model: str, description: str, task: str, train: dict, metrics: dict, verdict: dict,
               owners: dict, ingest: dict, version: str) -> str:
    """Markdown, Google Model Card sections; a pure function of its inputs (no timestamps)."""
    lines = [f"# Model card: {model}", "", "## Model details", ""]
    lines += [f"- Version: `{version}`", f"- Task: {task.replace('_', ' ')}",
              f"- Estimator: `{train['estimator']['class']}`",
              "- Parameters: "
              + (", ".join(f"`{k}={v}`" for k, v in sorted(train["estimator"]["params"].items())) or "defaults"),
              f"- Features ({len(train['features'])}): {', '.join(f'`{f}`' for f in train['features'])}",
              f"- Target: `{train['target']}`"]  # fmt: skip
    if metrics.get("positive_label") is not None:
        lines.append(f"- Positive class: `{metrics['positive_label']}` (precision, recall, f1, roc_auc and the "
                     "confusion counts are about this label)")
    lines += ["", "## Intended use", "", description or "_No description given in the Model spec._"]
    lines += ["", "## Training data", "",
              f"- Source: `{ingest['source']}` "
              f"({ingest['format']}{', ' + ingest['path'] if ingest.get('path') else ''})",
              f"- Rows: {metrics['rows']['train']} for training, {metrics['rows']['test']} held out for evaluation"]
    if metrics.get("sample"):
        s = metrics["sample"]
        lines.append(f"- Sample: {s['rows']} of the source's {s['of']} rows, drawn with seed {s['seed']}"
                     + (f", stratified by `{s['stratified_by']}`" if s["stratified_by"] else "")
                     + f" (`{s['fingerprint'][:19]}`); the split divides the sample, so the held-out rows are a "
                     "separate sample the model never trained on")
    lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
    why = metrics.get("not_computable") or {}
    lines += [f"| {k} | {_fmt(v, why.get(k))} |" for k, v in sorted(metrics["metrics"].items())]
    if metrics["business"]:
        lines += ["", "| business metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics["business"].items())]
    if metrics["slices"]:
        lines += ["", "## Metrics per slice", "", "| slice | rows | " + " | ".join(sorted(metrics["metrics"])) + " |",
                  "| --- | --- |" + " --- |" * len(metrics["metrics"])]
        for name, s in sorted(metrics["slices"].items()):
            reasons = s.get("not_computable") or {}
            cells = " | ".join(_fmt(s["metrics"][m], reasons.get(m)) for m in sorted(s["metrics"]))
            lines.append(f"| {name} | {s['rows']} | " + cells + " |")
    lines += _windows(metrics)
    lines += ["", "## Gates", "", "| gate | value | threshold | result |", "| --- | --- | --- | --- |"]
    lines += [f"| {g['id']} | {_fmt(g['value'])} | {g['threshold']} | {'pass' if g['passed'] else 'FAIL'}"
              + (f" ({g['note']})" if g.get("note") else "") + " |" for g in verdict["gates"]]
    lines += ["", "## Owners", "", "| stage | responsible | accountable | consulted | informed |",
              "| --- | --- | --- | --- | --- |"]
    for stage, r in owners.items():
        lines.append(f"| {stage} | {', '.join(r['responsible'])} | {r['accountable']} | "
                     f"{', '.join(r.get('consulted') or []) or '-'} | {', '.join(r.get('informed') or []) or '-'} |")
    lines += ["", "## Caveats and recommendations", ""]
    caveats = [f"- Guardrail `{k}` overrode {v} test predictions." for k, v in sorted(metrics["guardrails"].items())]
    caveats += [f"- Slice `{k}` has no test rows; its metrics could not be computed." if not s["rows"] else
                f"- Slice `{k}` has only {s['rows']} test rows; its metrics are noisy."
                for k, s in sorted(metrics["slices"].items()) if s["rows"] < 30]
    caveats += [f"- Window `{k}` has no rows; its metrics could not be computed."
                for k, w in sorted((metrics.get("windows") or {}).items()) if not w["rows"]]
    lines += caveats or ["- None recorded."]
    return "\n".join(lines) + "\n"


def _windows(metrics: dict) -> list[str]:
    """The card's table of evaluation windows: rows, bounds and the same metrics as the test set's."""
    windows = metrics.get("windows") or {}
    if not windows:
        return []
    names = sorted(metrics["metrics"])
    lines = ["", "## Metrics per evaluation window", "",
             "| window | rows | from (exclusive) | to | " + " | ".join(names) + " |",
             "| --- | --- | --- | --- |" + " --- |" * len(names)]
    for name, w in sorted(windows.items()):
        span = (w.get("start") or "-", w.get("end") or "-") if w.get("last") else ("-", "-")
        label = f"{name} (`{w['source']}`)" if w.get("source") else name
        reasons = w.get("not_computable") or {}
        cells = " | ".join(_fmt(w["metrics"].get(m), reasons.get(m)) for m in names)
        lines.append(f"| {label} | {w['rows']} | {span[0]} | {span[1]} | {cells} |")
    return lines


def write_package(folder: Path, files: dict[str, object]) -> None:
    for name, value in files.items():
        if isinstance(value, str):
            (folder / name).write_text(value, encoding="utf-8")
        else:
            write_json(folder / name, value)

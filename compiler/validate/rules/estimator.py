"""Estimator class and parameters (S213, S214, S215, S216).

## What it does
Checks a Model's `estimator` against the scikit-learn catalog: `class` must be the public
import path of a scikit-learn estimator (S213), every key of `params` must be one of its
constructor parameters (S214) and satisfy scikit-learn's own constraints on it (S215), and the
estimator must fit the task: a classifier for classification, a regressor for regression (S216).

## Why is this bad?
scikit-learn reports a misspelt class, an unknown parameter or an out-of-range value only when
the pipeline runs, possibly hours later on a training machine, and a regressor trained on
class labels fails or, worse, quietly predicts numbers between the labels. Checking against the
catalog catches these in the pull request, without importing scikit-learn.

## Example
```yaml
kind: Model
spec:
  task: binary_classification
  estimator:
    class: sklearn.ensemble.RandomForestRegressor
    params: {n_estimator: 200, criterion: gini, max_depth: 0}
```

## Use instead
```yaml
kind: Model
spec:
  task: binary_classification
  estimator:
    class: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 200, criterion: gini, max_depth: 8}
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from compiler import catalog
from compiler.diagnostics import Diagnostic, Label, make
from compiler.diagnostics.suggest import did_you_mean
from compiler.load.document import escape_token
from compiler.spec import Spec
from compiler.validate.context import Context
from compiler.validate.schema import describe

CODES = ("S213", "S214", "S215", "S216")

_CLASS = "/spec/estimator/class"
_WANTED = {"binary_classification": "classifier", "multiclass_classification": "classifier",
           "regression": "regressor"}  # fmt: skip
_NOUN = {"classifier": "a classifier", "regressor": "a regressor", "transformer": "a transformer",
         "cluster": "a clusterer", "other": "neither a classifier nor a regressor"}  # fmt: skip
_DEFAULT = {"classifier": "sklearn.ensemble.HistGradientBoostingClassifier",
            "regressor": "sklearn.ensemble.HistGradientBoostingRegressor"}  # fmt: skip
# (classifier, regressor) name parts of sibling estimators: `RandomForestClassifier` and
# `RandomForestRegressor`, `SVC` and `SVR`, `RidgeClassifierCV` and `RidgeCV`.
_SIBLINGS = (("Classifier", "Regressor"), ("SVC", "SVR"), ("RidgeClassifier", "Ridge"))


SUBJECT = "Model"  # checked one at a time, by `check_one` (memoised: compiler/validate/memo.py)


def check(ctx: Context) -> Iterator[Diagnostic]:
    for spec in ctx.specset.of_kind(SUBJECT):
        yield from check_one(ctx, spec)


def check_one(ctx: Context, spec: Spec) -> Iterator[Diagnostic]:
    est = spec.model.spec.estimator
    entry = catalog.estimator(est.class_)
    if entry is None:
        yield make("S213", f"unknown estimator `{est.class_[:80]}`", ctx.span(spec, _CLASS), pointer=_CLASS,
                   help=_class_help(est.class_))
        return
    yield from _task(ctx, spec, entry)
    yield from _params(ctx, spec, entry, est.params)


def _class_help(path: str) -> str:
    paths = catalog.names()
    by_name: dict[str, list[str]] = {}
    for p in paths:
        by_name.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    module, _, bare = path.rpartition(".")
    if bare in by_name:
        # A bare or private path to a real class (`HistGradientBoostingClassifier`,
        # `sklearn.ensemble._forest.RandomForestClassifier`): name its public path.
        close = by_name[bare]
    elif module and module.split(".")[0] != "sklearn":
        # `xgboost.XGBRegressor` is no misspelt `SGDRegressor`: say what Charter supports.
        return "Charter supports scikit-learn estimators only, by public path such as `sklearn.svm.SVC`"
    else:
        close = did_you_mean(path, paths) if module else []
        close += [p for name in did_you_mean(bare, by_name) for p in by_name[name]]
    close = list(dict.fromkeys(close))[:3]
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"use a public import path of scikit-learn {catalog.sklearn_version()}, such as `sklearn.svm.SVC`"


def _task(ctx: Context, spec: Spec, entry: catalog.Estimator) -> Iterator[Diagnostic]:
    task = spec.model.spec.task
    wanted = _WANTED[task]
    if entry.type == wanted and not (task == "multiclass_classification" and entry.multiclass is False):
        return  # the common case: no span looked up
    labels = (Label(ctx.span(spec, "/spec/task"), "the task is set here"),)
    if entry.type != wanted:
        instead = _sibling(entry, wanted) or _DEFAULT[wanted]
        yield make("S216", f"`{entry.path}` is {_NOUN[entry.type]}, but the task is `{task}`",
                   ctx.span(spec, _CLASS), pointer=_CLASS, labels=labels,
                   help=f"use {_NOUN[wanted]} such as `{instead}`")
    elif task == "multiclass_classification" and entry.multiclass is False:
        yield make("S216", f"`{entry.path}` handles two classes only, but the task is `{task}`",
                   ctx.span(spec, _CLASS), pointer=_CLASS, labels=labels,
                   help=f"use a multiclass classifier such as `{_DEFAULT['classifier']}`")


def _sibling(entry: catalog.Estimator, wanted: str) -> str | None:
    """The same method for the other task, when the name says so (`SGDRegressor` -> `SGDClassifier`)."""
    module = entry.path.rsplit(".", 1)[0]
    for classifier, regressor in _SIBLINGS:
        old, new = (regressor, classifier) if wanted == "classifier" else (classifier, regressor)
        if old in entry.name:
            other = catalog.estimator(f"{module}.{entry.name.replace(old, new, 1)}")
            if other is not None and other.type == wanted:
                return other.path
    return None


def _params(ctx: Context, spec: Spec, entry: catalog.Estimator, params: dict) -> Iterator[Diagnostic]:
    base = "/spec/estimator/params"
    for name, value in params.items():
        pointer = f"{base}/{escape_token(name)}"
        param = entry.params.get(name)
        if param is None:
            yield make("S214", f"`{entry.name}` has no parameter `{str(name)[:60]}`",
                       ctx.span(spec, pointer, key=True), pointer=pointer, help=_param_help(str(name), entry))
            continue
        reason = catalog.check_value(param.constraints, value)
        if reason is None:
            continue
        if not catalog.settable(param.constraints):
            yield make("S215", f"`{name}` of `{entry.name}` {reason}", ctx.span(spec, pointer, key=True),
                       pointer=pointer, help=f"remove `{name}` to use its default")
            continue
        close = did_you_mean(value, catalog.options(param.constraints)) if isinstance(value, str) else []
        yield make("S215", f"invalid `{name}` for `{entry.name}`: {reason}, got {_shown(value)}",
                   ctx.span(spec, pointer), pointer=pointer,
                   help=f"did you mean `{close[0]}`?" if close else None)
    for name, param in sorted(entry.params.items()):
        if param.required and name not in params:
            why = "" if catalog.settable(param.constraints) else ", which cannot be set from a spec"
            yield make("S215", f"`{entry.name}` needs the parameter `{name}`{why}", ctx.span(spec, _CLASS),
                       pointer=_CLASS, help=None if why else f"add `{name}` to `params`")


def _param_help(name: str, entry: catalog.Estimator) -> str:
    close = did_you_mean(name, entry.params)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    known = sorted(entry.params)
    if not known:
        return f"`{entry.name}` takes no parameters"
    more = f" and {len(known) - 12} more" if len(known) > 12 else ""
    return "parameters: " + ", ".join(f"`{k}`" for k in known[:12]) + more


def _shown(value: object) -> str:
    """Numbers are shown, everything else described: a string may be a pasted secret."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return describe(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "`.nan`" if math.isnan(value) else ("`.inf`" if value > 0 else "`-.inf`")
    text = repr(value)
    return text if len(text) <= 40 else describe(value)

"""Generate `compiler/catalog/sklearn.json` from the installed scikit-learn.

Usage: `python -m compiler.catalog.generate [--check]`. The catalog is committed so that
`charter validate` can check estimators without importing scikit-learn; this module is the
only part of the catalog that imports it, and nothing on the validate path imports this
module. `--check` exits 1 when the committed file differs from what would be generated.

Each estimator of `sklearn.utils.discovery.all_estimators()` is keyed by its shortest public
import path and records its type, its constructor parameters with their defaults, and its
`_parameter_constraints` in the JSON vocabulary that `compiler.catalog` documents.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping, MutableMapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).with_name("sklearn.json")
COMMAND = "python -m compiler.catalog.generate"
FORMAT_VERSION = 1
# Dicts are expanded one key per line down to this depth (top, estimators, entry, params), so
# that a changed parameter shows up in a diff as one changed line; deeper values are compact.
_EXPAND_DEPTH = 4


def build() -> dict:
    """The catalog as plain JSON data, from the scikit-learn installed in this interpreter."""
    import sklearn
    from sklearn.utils.discovery import all_estimators

    estimators = {}
    with warnings.catch_warnings():
        # Instantiating estimators to read their tags may emit deprecation warnings.
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            kind, multiclass = _kind(cls)
            entry: dict = {"type": kind, "params": _params(cls)}
            if multiclass is not None:
                entry["multiclass"] = multiclass
            estimators[_public_path(name, cls)] = entry
    return {
        "estimators": estimators,
        "format_version": FORMAT_VERSION,
        "generated_by": f"`{COMMAND}`; do not edit by hand",
        "sklearn_version": sklearn.__version__,
    }


def render(catalog: dict) -> str:
    """Serialise deterministically: sorted keys, ASCII, no NaN, one parameter per line."""
    return _dump(catalog, 0) + "\n"


def _dump(obj: object, depth: int) -> str:
    if isinstance(obj, dict) and obj and depth < _EXPAND_DEPTH:
        pad = "  " * (depth + 1)
        items = [f"{pad}{json.dumps(k)}: {_dump(obj[k], depth + 1)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    return json.dumps(obj, sort_keys=True, allow_nan=False, separators=(", ", ": "))


def _public_path(name: str, cls: type) -> str:
    """The shortest public module that exports `cls`, checked by importing it."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        if parts[end - 1].startswith("_"):
            break
        module = ".".join(parts[:end])
        if getattr(importlib.import_module(module), name, None) is cls:
            return f"{module}.{name}"
    raise RuntimeError(f"no public module exports {cls.__module__}.{name}")


def _kind(cls: type) -> tuple[str, bool | None]:
    """The estimator type from scikit-learn's own tags, and multiclass support when known."""
    from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin
    from sklearn.utils import get_tags

    try:
        tags = get_tags(cls())
    except Exception:  # meta-estimators cannot be built without an `estimator` argument
        tags = None
    if tags is None:
        # Without an instance there are no tags; the mixins are what `all_estimators` filters on.
        for mixin, kind in ((ClassifierMixin, "classifier"), (RegressorMixin, "regressor"),
                            (ClusterMixin, "cluster"), (TransformerMixin, "transformer")):  # fmt: skip
            if issubclass(cls, mixin):
                return kind, None
        return "other", None
    kind = {"classifier": "classifier", "regressor": "regressor", "clusterer": "cluster"}.get(
        tags.estimator_type or "", "transformer" if tags.transformer_tags is not None else "other"
    )
    multiclass = tags.classifier_tags.multi_class if kind == "classifier" and tags.classifier_tags else None
    return kind, multiclass


def _params(cls: type[Any]) -> dict:
    declared = getattr(cls, "_parameter_constraints", None) or {}
    params = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        entry: dict = {"required": True} if p.default is p.empty else {"default": _value(p.default)}
        constraints = declared.get(p.name)
        # "no_validation" is scikit-learn's way of saying any value goes; like a missing
        # entry, it leaves `constraints` out, which the checker reads as "accept anything".
        if constraints is not None and constraints != "no_validation":
            entry["constraints"] = [_constraint(c) for c in constraints]
        params[p.name] = entry
    return params


def _constraint(raw: object) -> dict:
    """One scikit-learn constraint as JSON; normalised by scikit-learn's own `make_constraint`."""
    from sklearn.utils import _param_validation as pv

    c = pv.make_constraint(raw)
    out = _convert(c, pv)
    if getattr(c, "hidden", False):
        out["hidden"] = True
    return out


def _convert(c: object, pv) -> dict:
    if isinstance(c, pv.Interval):
        kind = {Integral: "integral", Real: "real", pv.RealNotInt: "real_not_int"}[c.type]
        return {"interval": kind, "left": _value(c.left), "right": _value(c.right), "closed": c.closed}
    if isinstance(c, pv.Options):
        if c.type is type:
            return {"opaque": "one of the types " + ", ".join(sorted(f"`{t.__name__}`" for t in c.options))}
        out = {"options": _sorted(c.options)}
        if c.deprecated:
            out["deprecated"] = _sorted(c.deprecated)
        return out
    if isinstance(c, pv._InstancesOf):
        plain = _PLAIN_TYPES.get(c.type)
        return {"type": plain} if plain else {"opaque": f"an instance of `{c.type.__name__}`"}
    if isinstance(c, pv._NoneConstraint):
        return {"type": "null"}
    if isinstance(c, pv.MissingValues):
        return {"named": "missing_values_numeric" if c.numeric_only else "missing_values"}
    named = {pv._Booleans: "boolean", pv._RandomStates: "random_state", pv._VerboseHelper: "verbose",
             pv._CVObjects: "cv_object", pv._ArrayLikes: "array-like", pv._NanConstraint: "nan"}  # fmt: skip
    if type(c) in named:
        return {"named": named[type(c)]}
    if isinstance(c, pv.HasMethods):
        return {"opaque": "an object with methods " + ", ".join(f"`{m}`" for m in c.methods)}
    if isinstance(c, pv._Callables):
        return {"opaque": "a callable"}
    if isinstance(c, pv._SparseMatrices):
        return {"opaque": "a sparse matrix"}
    # A new constraint class in a newer scikit-learn: fail loudly rather than guess.
    raise RuntimeError(f"unknown scikit-learn constraint {type(c).__name__}")


# Python types a YAML value can be; YAML has no tuples, so the checker lets a list stand for one.
_PLAIN_TYPES = {int: "int", Integral: "int", float: "float", Real: "real", bool: "bool", str: "str",
                dict: "dict", Mapping: "dict", MutableMapping: "dict", list: "list", tuple: "tuple"}  # fmt: skip


def _value(v: object) -> object:
    """A default, bound or option as JSON; non-finite floats and objects become markers."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, Real):
        f = float(v)
        return f if math.isfinite(f) else {"float": "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _value(x) for k, x in v.items()}
    if callable(v) and hasattr(v, "__qualname__"):
        # The qualified name, not repr(): a function's repr holds its memory address.
        return {"repr": f"{getattr(v, '__module__', None) or ''}.{v.__qualname__}".lstrip(".")}
    text = repr(v)
    return {"repr": text if " at 0x" not in text else type(v).__name__}


def _sorted(values) -> list:
    return sorted((_value(v) for v in values), key=lambda v: json.dumps(v, sort_keys=True))


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; the catalog is an ordinary source file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed catalog is stale")
    args = parser.parse_args(argv)
    catalog = build()
    text = render(catalog)
    if args.check:
        current = CATALOG.read_text("utf-8") if CATALOG.exists() else ""
        if current != text:
            print(f"{CATALOG} is stale: run `{COMMAND}` with the scikit-learn pinned in pyproject.toml "
                  f"(installed: {catalog['sklearn_version']}) and commit the result", file=sys.stderr)
            return 1
        print(f"{CATALOG.name} is up to date")
        return 0
    _write_atomic(CATALOG, text)
    print(f"wrote {CATALOG.name}: {len(catalog['estimators'])} estimators from scikit-learn "
          f"{catalog['sklearn_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

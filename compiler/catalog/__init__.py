"""The scikit-learn estimator catalog: what `charter validate` knows about estimators.

Stage: none (read by `validate`). Input: `sklearn.json`, committed and generated from the pinned
scikit-learn by `python -m compiler.catalog.generate`. Output: `Estimator` entries and a check
of one YAML value against a parameter's constraints. Importing scikit-learn takes over a second
and pulls in numpy and scipy, so this package reads only the JSON and must never import them.

Each parameter's `constraints` is a list of JSON objects; a value is valid when it satisfies
any of them (scikit-learn's semantics), and a parameter without the list accepts any value:

- `{"interval": "integral"|"real"|"real_not_int", "left", "right", "closed"}` (a null bound is
  infinite; `closed` is `left`, `right`, `both` or `neither`);
- `{"options": [...], "deprecated": [...]}`: one of a fixed set of values;
- `{"type": "int"|"real"|"float"|"bool"|"str"|"dict"|"list"|"tuple"|"null"}`;
- `{"named": ...}`: scikit-learn's named constraints `boolean`, `random_state`, `verbose`,
  `cv_object`, `array-like`, `missing_values`, `missing_values_numeric` and `nan`;
- `{"opaque": "<what>"}`: something no YAML value can be (callables, estimators, matrices).

Any of them may carry `"hidden": true`: scikit-learn accepts it but does not advertise it.
Non-finite floats are written `{"float": "inf"}` and other non-JSON values `{"repr": "..."}`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import cast

__all__ = ["Estimator", "Param", "check_value", "estimator", "names", "options", "settable", "sklearn_version"]


@dataclass(frozen=True, slots=True)
class Param:
    """One constructor parameter; `constraints` is None when scikit-learn does not check it."""

    name: str
    constraints: tuple[dict, ...] | None
    default: object = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Estimator:
    """One estimator: its public path, type (classifier, regressor, transformer, cluster, other)."""

    path: str
    type: str
    multiclass: bool | None
    params: dict[str, Param]

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@functools.cache
def _catalog() -> dict:
    return json.loads(resources.files(__name__).joinpath("sklearn.json").read_text("utf-8"))


@functools.cache
def estimator(path: str) -> Estimator | None:
    """The catalog entry of a public import path such as `sklearn.svm.SVC`, or None."""
    raw = _catalog()["estimators"].get(path)
    if raw is None:
        return None
    params = {
        name: Param(name, tuple(p["constraints"]) if "constraints" in p else None,
                    _decode(p.get("default")), bool(p.get("required")))
        for name, p in raw["params"].items()
    }  # fmt: skip
    return Estimator(path, raw["type"], raw.get("multiclass"), params)


@functools.cache
def names() -> tuple[str, ...]:
    """Every public estimator path in the catalog, sorted."""
    return tuple(sorted(_catalog()["estimators"]))


def sklearn_version() -> str:
    """The scikit-learn version the catalog was generated from."""
    return _catalog()["sklearn_version"]


def settable(constraints: Sequence[dict] | None) -> bool:
    """Whether some YAML value can satisfy the constraints (False when all are opaque)."""
    return constraints is None or not constraints or any("opaque" not in c for c in constraints)


def check_value(constraints: Sequence[dict] | None, value: object) -> str | None:
    """None when `value` satisfies any of `constraints`, else a short reason for a message."""
    if not constraints:
        return None
    if not settable(constraints):
        takes = _join([c["opaque"] for c in constraints if not c.get("hidden")] or [constraints[0]["opaque"]])
        return f"cannot be set from a spec: it takes {takes}"
    if any(_satisfies(c, value) for c in constraints):
        return None
    usable = [c for c in constraints if "opaque" not in c]
    # Hidden constraints are accepted but, as in scikit-learn's own messages, not advertised.
    shown = [c for c in usable if not c.get("hidden")] or usable
    return "expected " + _join(list(dict.fromkeys(_describe(c) for c in shown)))


def options(constraints: Sequence[dict] | None) -> list[str]:
    """The string options among `constraints`, for "did you mean" on a misspelt option."""
    return [o for c in constraints or () for o in c.get("options", ()) if isinstance(o, str)]


def _is_int(v: object) -> bool:
    # bool is an int subclass in Python, and scikit-learn's isinstance checks let `True` pass
    # for a count; a YAML `true` where a number belongs is a mistake, so Charter says so.
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return _is_int(v) or isinstance(v, float)


_TYPES = {
    "int": _is_int, "real": _is_number, "float": lambda v: isinstance(v, float),
    "bool": lambda v: isinstance(v, bool), "str": lambda v: isinstance(v, str),
    "dict": lambda v: isinstance(v, dict), "list": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, list),  # YAML has no tuples; training converts the list
    "null": lambda v: v is None,
}  # fmt: skip

_NAMED = {
    "boolean": lambda v: isinstance(v, bool),
    "random_state": lambda v: v is None or (_is_int(v) and 0 <= v <= 2**32 - 1),
    "verbose": lambda v: isinstance(v, bool) or (_is_int(v) and v >= 0),
    # scikit-learn also takes splitter objects and any iterable of splits: from YAML, a list.
    "cv_object": lambda v: v is None or isinstance(v, list) or (_is_int(v) and v >= 2),
    "array-like": lambda v: isinstance(v, list),
    "missing_values": lambda v: v is None or isinstance(v, str) or _is_number(v),
    "missing_values_numeric": _is_number,
    "nan": lambda v: isinstance(v, float) and math.isnan(v),
}


def _satisfies(c: dict, v: object) -> bool:
    if "interval" in c:
        return _in_interval(c, v)
    if "options" in c:
        return any(_same(v, _decode(o)) for o in c["options"])
    if "type" in c:
        return _TYPES[c["type"]](v)
    if "named" in c:
        return _NAMED[c["named"]](v)
    return False  # opaque


def _in_interval(c: dict, v: object) -> bool:
    kind = c["interval"]
    ok = {"integral": _is_int, "real": _is_number, "real_not_int": lambda x: isinstance(x, float)}[kind](v)
    if not ok or (isinstance(v, float) and math.isnan(v)):
        return False
    x = cast(float, v)  # `ok`: an int or a float
    low, high = _decode(c["left"]), _decode(c["right"])
    left = -math.inf if low is None else cast(float, low)  # a catalog bound is a number or null (infinite)
    right = math.inf if high is None else cast(float, high)
    closed = c["closed"]
    above = x >= left if closed in ("left", "both") else x > left
    below = x <= right if closed in ("right", "both") else x < right
    return above and below


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b  # `1 == True` in Python, but not in a spec
    return (type(a) is type(b) or (_is_number(a) and _is_number(b))) and a == b


def _describe(c: dict) -> str:
    if "interval" in c:
        noun = {"integral": "an integer", "real": "a number", "real_not_int": "a float"}[c["interval"]]
        left, right = c["left"], c["right"]
        if left is None and right is None:
            return noun
        lb = "[" if c["closed"] in ("left", "both") and left is not None else "("
        rb = "]" if c["closed"] in ("right", "both") and right is not None else ")"
        return f"{noun} in {lb}{_show(left, '-inf')}, {_show(right, 'inf')}{rb}"
    if "options" in c:
        current = [o for o in c["options"] if o not in c.get("deprecated", ())] or c["options"]
        shown = ", ".join(f"`{_show(o, '')}`" for o in current[:8])
        more = f" and {len(current) - 8} more" if len(current) > 8 else ""
        return f"`{_show(current[0], '')}`" if len(current) == 1 else f"one of {shown}{more}"
    if "type" in c:
        return {"int": "an integer", "real": "a number", "float": "a float", "bool": "a boolean", "str": "a string",
                "dict": "a mapping", "list": "a list", "tuple": "a list", "null": "null"}[c["type"]]  # fmt: skip
    return {"boolean": "a boolean", "random_state": "an integer in [0, 4294967295] or null",
            "verbose": "a boolean or an integer in [0, inf)", "cv_object": "an integer in [2, inf), a list or null",
            "array-like": "a list", "missing_values": "a number, a string or null",
            "missing_values_numeric": "a number", "nan": "`.nan`"}[c["named"]]  # fmt: skip


def _show(value: object, none: str) -> str:
    value = _decode(value)
    if value is None:
        return none
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _decode(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"float"}:
        return float(value["float"])
    return value

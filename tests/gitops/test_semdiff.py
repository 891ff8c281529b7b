"""Property tests of the semantic diff: A to A is empty; one change applied is found exactly."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.gitops.semdiff import apply, diff_resources, diff_values
from compiler.gitops.snapshot import Resource

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=32),
                    st.text(max_size=6))
keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=4)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(keys, inner, max_size=4),
    st.lists(st.fixed_dictionaries({"name": st.text(alphabet="xyz", min_size=1, max_size=3)},
                                   optional={"min": inner}), max_size=4, unique_by=lambda d: d["name"]),
), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_diff_of_a_value_with_itself_is_empty(v):
    assert diff_values(v, v) == []


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_applying_the_diff_gives_the_new_value(a, b):
    out = a
    for change in diff_values(a, b):
        out = apply(out, change)
    assert _canon(out) == _canon(b)


def _canon(v):
    """Equality that ignores the order of keyed lists and of scalar lists (the diff does too)."""
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in v.items()}
    if isinstance(v, list):
        items = [_canon(x) for x in v]
        if all(isinstance(x, dict) and "name" in x for x in v) and len({x["name"] for x in v}) == len(v):
            return ("keyed", sorted(json.dumps(x, sort_keys=True, default=repr) for x in items))
        if all(not isinstance(x, (dict, list)) for x in v):
            return ("set", sorted(f"{type(x).__name__}:{x!r}" for x in items))
        return items
    if isinstance(v, float) and v == 0.0:
        return ("float", 0.0)  # -0.0 and 0.0 are one value in a spec, as the diff says
    return (type(v).__name__, v)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["min", "max", "metric", "slice"]), scalars, min_size=1), scalars)
def test_one_change_is_found_exactly(gate, new_min):
    # "metric" goes last: a drawn metric is overwritten, so the gate keeps one identity ("auc")
    before = {"spec": {"gates": [{**gate, "metric": "auc"}]}}
    after = {"spec": {"gates": [{**before["spec"]["gates"][0], "min": new_min}]}}
    found = diff_values(before, after)
    if "min" in gate and type(gate["min"]) is type(new_min) and gate["min"] == new_min:
        assert found == []
    else:
        assert len(found) == 1 and found[0].path.endswith(".min") and found[0].after == new_min


def _res(kind, name, file, spec):
    return Resource(kind, name, file, 0, {"kind": kind, "metadata": {"name": name}, "spec": spec})


def test_reordering_a_keyed_list_is_no_change():
    a = {"gates": [{"metric": "a", "min": 1}, {"metric": "b", "min": 2}]}
    b = {"gates": [{"metric": "b", "min": 2}, {"metric": "a", "min": 1}]}
    assert diff_values(a, b) == []


def test_resources_rename_move_create_delete():
    before = {"Model/a": _res("Model", "a", "x.yaml", {"k": 1}),
              "Model/gone": _res("Model", "gone", "x.yaml", {"z": 9}),
              "DataSource/d": _res("DataSource", "d", "x.yaml", {"p": 1})}
    after = {"Model/b": _res("Model", "b", "y.yaml", {"k": 1}), "Model/new": _res("Model", "new", "y.yaml", {"n": 2}),
             "DataSource/d": _res("DataSource", "d", "y.yaml", {"p": 1})}
    got = {c.address: (c.action, c.previous_name, c.previous_file) for c in diff_resources(before, after)}
    assert got == {"Model/b": ("rename", "a", "x.yaml"), "Model/new": ("create", None, None),
                   "Model/gone": ("delete", None, "x.yaml"), "DataSource/d": ("move", None, "x.yaml")}


def test_negative_zero_is_zero():
    # a YAML `-0.0` is the same threshold as `0.0`: no change, in a list or alone
    assert diff_values([0.0, 0.0], [0.0, -0.0]) == []
    assert diff_values({"min": 0.0}, {"min": -0.0}) == []

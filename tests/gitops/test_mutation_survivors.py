"""Tests for mutants of `risk.py`, `rules.py` and `semdiff.py` that the suite let survive.

Each test names the mutation of `benchmarks/mutate.py` it kills.
"""

from __future__ import annotations

from types import SimpleNamespace

from compiler.gitops.risk import Finding, classify, readers, worst
from compiler.gitops.rules import Example
from compiler.gitops.semdiff import diff_values


def _rule(ex: Example, renames: dict[str, str] | None = None) -> str:
    (found,) = classify(ex.resource_change(), lambda name: ex.read_by_model, renames)
    return found[0]


def test_the_worst_finding_wins_whatever_the_order():  # risk.py ORDER: breaking 2 -> 1
    breaking, risky, safe = Finding("P103", "p", "m"), Finding("P201", "p", "m"), Finding("P302", "p", "m")
    for found in ([risky, breaking], [breaking, risky], [safe, risky, breaking]):
        assert worst(found) == "breaking"
    assert worst([safe, risky]) == worst([risky, safe]) == "risky" and worst([]) == "safe"


def test_a_finding_without_waiver_has_no_waived_by_key():  # risk.py: `if self.waived_by:` deleted
    assert "waived_by" not in Finding("P103", "p", "m").to_dict()
    d = Finding("P103", "p", "m", "@carol").to_dict()
    assert d["waived_by"] == "@carol" and d["risk"] == "risky" and d["name"] == "gate-loosened"


def test_a_list_of_names_becoming_one_name_is_no_renamed_reference():  # risk.py `_renamed_ref`: and -> or
    ex = Example("Model", ("spec", "data", "source"), ["a"], "b")
    assert _rule(ex, {"a": "b"}) == "P201"
    assert _rule(Example("Model", ("spec", "data", "source"), "a", ["b"]), {"a": "b"}) == "P201"


def test_readers_of_models_metric_sets_and_rollouts():  # risk.py `readers`: the MetricSet/RolloutPolicy branch
    res = {f"{k}/{n}": SimpleNamespace(kind=k, name=n, data=d) for k, n, d in [
        ("Model", "churn", {"spec": {"data": {"source": "customers", "validation": "checks"}}}),
        ("MetricSet", "churn-metrics", {"spec": {"model": "churn"}}),
        ("RolloutPolicy", "churn-rollout", {"spec": {"model": "churn"}}),
        ("DataSource", "customers", {"spec": {"model": "not-a-reader"}}),
        ("Model", "broken", {"spec": ["not", "a", "mapping"]}),
        ("MetricSet", "odd", {"spec": {"model": 3}}),
    ]}
    assert readers(res) == {"customers": {"churn"}, "checks": {"churn"}, "churn-metrics": {"churn"},
                            "churn-rollout": {"churn"}}


def test_an_owner_added_is_safe_and_a_stage_removed_is_breaking():  # rules.py `_owner_removed`, `_added`
    assert _rule(Example("Ownership", ("spec", "raci", "monitoring"), after={"accountable": "@x"})) == "P303"
    assert _rule(Example("Ownership", ("spec", "covers"), ["a"], ["a", "b"])) == "P303"
    assert _rule(Example("Ownership", ("spec", "raci", "deployment"), before={"accountable": "@x"})) == "P106"


def test_approval_levels_are_ordered():  # rules.py `_APPROVAL` levels moved by one
    env = ("spec", "environments", None, "approval")
    assert _rule(Example("RolloutPolicy", env, "accountable", "responsible")) == "P109"
    assert _rule(Example("RolloutPolicy", env, "responsible", "none")) == "P109"
    assert _rule(Example("RolloutPolicy", env, "accountable", ["@a", "@b"])) != "P109"
    assert _rule(Example("RolloutPolicy", env, ["@a"], "accountable")) != "P109"


def test_monitoring_removed_whole_is_disabled_a_key_of_it_is_a_change():  # rules.py `_monitoring_off` len 2
    assert _rule(Example("MetricSet", ("spec", "monitoring"), before={"enabled": True})) == "P107"
    assert _rule(Example("MetricSet", ("spec", "monitoring", "schedule"), before="@daily")) == "P209"


def test_a_slice_added_to_a_model_is_safe_a_slice_edited_is_not():  # rules.py `_added`: Model op == add
    assert _rule(Example("Model", ("spec", "slices", None), after={"name": "s"})) == "P303"
    assert _rule(Example("Model", ("spec", "slices", None, "where"), "a", "b")) == "P201"


def test_list_diffs_by_identity_position_and_as_sets():  # semdiff.py `_keyed`, positional and scalar lists
    dup = [{"name": "a", "x": 1}, {"name": "a", "x": 2}]
    assert diff_values(dup, [{"name": "a", "x": 3}, {"name": "a", "x": 2}]) != []  # duplicates: by position
    steps = [{"rename": {"a": "b"}}]
    assert [c.path for c in diff_values(steps, [{"rename": {"a": "c"}}])] == ["[0].rename.a"]
    assert diff_values(["a", "b"], ["b", "a"]) == [] and diff_values(["a"], ["a", "b"]) != []
    gates = [{"metric": "roc_auc", "min": 0.7}, {"metric": "roc_auc", "slice": "new", "min": 0.6}]
    changed = [gates[0], {**gates[1], "min": 0.65}]
    assert [c.path for c in diff_values({"g": gates}, {"g": changed})] == ["g[roc_auc@new].min"]
    with_id = [{"id": "g1", "metric": "f1", "min": 0.5}, {"id": "g2", "metric": "f1", "min": 0.6}]
    assert [c.path for c in diff_values({"g": with_id}, {"g": [with_id[0], {**with_id[1], "min": 0.7}]})] == [
        "g[g2].min"]

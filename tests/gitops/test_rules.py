"""Every risk rule is a declared unit: its own fixture matches it, its near miss does not."""

from __future__ import annotations

import pytest

from compiler.gitops.risk import classify
from compiler.gitops.rules import BY_ID, RULES, Example, docs_table

STAGES = {None, "data", "validation", "model", "evaluation", "deployment", "monitoring", "project"}


def _rule_of(ex: Example) -> str:
    found = classify(ex.resource_change(), lambda name: ex.read_by_model,
                     {"a": "b"} if ex.keys == ("spec", "data", "source") else None)
    assert len(found) == 1, found
    return found[0][0]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_the_passing_fixture_matches_the_rule(rule):
    assert _rule_of(rule.passing) == rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_the_failing_fixture_does_not(rule):
    assert _rule_of(rule.failing) != rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_declared_whole(rule):
    assert rule.id[0] == "P" and rule.risk == {"1": "breaking", "2": "risky", "3": "safe"}[rule.id[1]]
    assert rule.name == rule.name.lower() and " " not in rule.name
    assert rule.summary and rule.matches and rule.stage in STAGES
    assert f"| `{rule.id}` | {rule.name} | {rule.risk} |" in docs_table()


def test_ids_and_names_are_unique():
    assert len(BY_ID) == len(RULES) == len({r.name for r in RULES})


def test_an_unknown_change_is_risky_never_safe():
    ex = Example("Whatever", ("spec", "x"), 1, 2)
    assert _rule_of(ex) == "P299"

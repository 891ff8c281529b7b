"""A failing gate with an active waiver passes and says why; an expired one does not."""

from __future__ import annotations

from compiler.execute.gate import check_gates

PARAMS = {"gates": [{"id": "q:roc_auc", "metric": "roc_auc", "slice": None, "min": 0.8, "max": None,
                     "max_drop": None, "versus": None, "higher_is_better": True}], "business": []}
METRICS = {"metrics": {"roc_auc": 0.75}, "slices": {}, "business": {}}
WAIVER = {"gate": "q:roc_auc", "reason": "noisy labels this quarter", "approver": "@risk", "expires": "2026-12-31",
          "spec": "MetricSet/q"}


def test_gate_fails_without_a_waiver():
    (result,) = check_gates(PARAMS, METRICS, {}, today="2026-11-22")
    assert not result.passed


def test_active_waiver_lets_the_gate_pass_and_says_who_and_why():
    (result,) = check_gates({**PARAMS, "waivers": [WAIVER]}, METRICS, {}, today="2026-12-31")
    assert result.passed and result.note == "waived by @risk until 2026-12-31: noisy labels this quarter"


def test_expired_waiver_is_ignored():
    (result,) = check_gates({**PARAMS, "waivers": [WAIVER]}, METRICS, {}, today="2027-01-01")
    assert not result.passed

"""Retraining and fallback triggers.

A valid `schedule` (S219), `on_drift` only where something monitors drift (X313), and a
RolloutPolicy's `fallback` only where a scheduled monitor checks gates (X316).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context
from compiler.validate.cron import cron_problem

CODES = ("S219", "X313", "X316")


def check(ctx: Context) -> Iterator[Diagnostic]:
    monitored = {ms.model.spec.model for ms in ctx.specset.of_kind("MetricSet")
                 if ms.model.spec.monitoring is not None and ms.model.spec.monitoring.enabled}
    gated = {ms.model.spec.model for ms in ctx.specset.of_kind("MetricSet") if ms.model.spec.gates}
    for policy in ctx.specset.of_kind("RolloutPolicy"):
        spec = policy.model.spec
        if spec.fallback is None:
            continue
        missing = [what for what, ok in (("an enabled `monitoring` schedule", spec.model in monitored),
                                         ("gates", spec.model in gated)) if not ok]
        if missing:
            yield make("X316", f"RolloutPolicy `{policy.name}` falls back when `{spec.model}` fails its gates on "
                               f"new data, but no MetricSet of `{spec.model}` has {' or '.join(missing)}",
                       ctx.span(policy, "/spec/fallback"), pointer="/spec/fallback",
                       help=f"give a MetricSet with `model: {spec.model}` gates and `monitoring: {{drift: "
                            f"{{method: psi, alert_above: 0.2}}, schedule: \"0 6 * * *\"}}`, or remove `fallback`")
    for model in ctx.specset.of_kind("Model"):
        retrain = model.model.spec.retrain
        if retrain is None:
            continue
        if retrain.schedule is not None and (why := cron_problem(retrain.schedule)):
            yield make("S219", f"invalid schedule: {why}", ctx.span(model, "/spec/retrain/schedule"),
                       pointer="/spec/retrain/schedule", help="for example `0 3 * * 1` is Mondays at 03:00 UTC")
        if retrain.on_drift and model.name not in monitored:
            yield make("X313", f"Model `{model.name}` retrains on drift, but nothing monitors its drift",
                       ctx.span(model, "/spec/retrain/on_drift"), pointer="/spec/retrain/on_drift",
                       help=f"add `monitoring: {{drift: {{method: psi, alert_above: 0.2}}, schedule: \"0 6 * * *\"}}` "
                            f"to a MetricSet with `model: {model.name}`")

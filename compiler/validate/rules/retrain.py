"""Retraining and fallback triggers.

A valid `schedule` and `poll` (S219), `on_drift` only where something monitors drift (X313),
`on_data_change` only on data whose change can be seen (X320), and a RolloutPolicy's `fallback`
only where a scheduled monitor checks gates (X316), on a prediction log with outcomes when it
judges predictions (X321).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.diagnostics import Diagnostic, make
from compiler.validate.context import Context
from compiler.validate.cron import cron_problem

CODES = ("S219", "X313", "X316", "X320", "X321")


def check(ctx: Context) -> Iterator[Diagnostic]:
    monitored = {ms.model.spec.model for ms in ctx.specset.of_kind("MetricSet")
                 if ms.model.spec.monitoring is not None and ms.model.spec.monitoring.enabled}
    gated = {ms.model.spec.model for ms in ctx.specset.of_kind("MetricSet") if ms.model.spec.gates}
    for policy in ctx.specset.of_kind("RolloutPolicy"):
        spec = policy.model.spec
        if spec.fallback is None:
            continue
        log = spec.prediction_log
        if spec.fallback.judge == "predictions" and (log is None or log.outcomes is None):
            yield make("X321", f"RolloutPolicy `{policy.name}` judges `{spec.model}` on its prediction log, but the "
                               + ("log is not kept" if log is None else "log has no `outcomes` to score it with"),
                       ctx.span(policy, "/spec/fallback/judge"), pointer="/spec/fallback/judge",
                       help="add `prediction_log: {key: <id column>, outcomes: {source: <DataSource of the labels>}}`"
                            ", or judge on `data`")
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
        if retrain.poll is not None and (why := cron_problem(retrain.poll)):
            yield make("S219", f"invalid poll: {why}", ctx.span(model, "/spec/retrain/poll"),
                       pointer="/spec/retrain/poll", help="for example `*/30 * * * *` looks every 30 minutes")
        source = ctx.specset.get("DataSource", model.model.spec.data.source)
        body = source.model.spec if source is not None else None
        if (retrain.on_data_change and source is not None and body is not None and body.format == "sql"
                and body.connection is not None and body.watermark is None):
            yield make("X320", f"Model `{model.name}` retrains when its data changes, but source `{source.name}` "
                               "reads a database: without a `watermark` column only its query is fingerprinted, "
                               "so no change of its rows would be seen",
                       ctx.span(model, "/spec/retrain/on_data_change"), pointer="/spec/retrain/on_data_change",
                       help=f"add `watermark: <column>` (a column that grows with new or changed rows, such as "
                            f"`updated_at`) to DataSource `{source.name}`, or retrain on a `schedule`")
        if retrain.on_data_change and source is not None and body is not None and body.format == "spark":
            yield make("X320", f"Model `{model.name}` retrains when its data changes, but source `{source.name}` "
                               "reads a Spark table: only its name is fingerprinted, so no change of its rows "
                               "would be seen", ctx.span(model, "/spec/retrain/on_data_change"),
                       pointer="/spec/retrain/on_data_change", help="retrain on a `schedule` instead")
        if retrain.on_drift and model.name not in monitored:
            yield make("X313", f"Model `{model.name}` retrains on drift, but nothing monitors its drift",
                       ctx.span(model, "/spec/retrain/on_drift"), pointer="/spec/retrain/on_drift",
                       help=f"add `monitoring: {{drift: {{method: psi, alert_above: 0.2}}, schedule: \"0 6 * * *\"}}` "
                            f"to a MetricSet with `model: {model.name}`")

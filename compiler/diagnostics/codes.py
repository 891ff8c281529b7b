"""The registry of diagnostic codes: one literal table, like mypy's `errorcodes.py`.

Codes are grouped by stage: `L1xx` load, `S2xx` schema and fields, `X3xx` cross-references,
`G4xx` graph, `R5xx` render, `P6xx` git and plan. A retired code is never reused; when a code
is renamed the old one stays in `aliases`. The long explanation of each code lives in
`compiler/diagnostics/explain/<CODE>.md` and is what `charter explain` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Code:
    """One registry entry."""

    code: str
    name: str
    severity: str
    summary: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()


_E, _W = "error", "warning"

_TABLE = [
    # L1xx: reading files and YAML
    Code("L101", "yaml-syntax", _E, "the file is not valid YAML"),
    Code("L102", "duplicate-key", _E, "a mapping defines the same key twice"),
    Code("L103", "file-too-large", _E, "the file is larger than the size limit"),
    Code("L104", "nesting-too-deep", _E, "the document nests deeper than the limit"),
    Code("L105", "alias-expansion", _E, "aliases expand the document beyond the node limit"),
    Code("L106", "unsupported-tag", _E, "a YAML tag such as `!!python/object` is not allowed"),
    Code("L107", "bad-encoding", _E, "the file is not UTF-8 (or UTF-16/32 with a byte order mark)"),
    Code("L108", "unreadable-file", _E, "the file cannot be read"),
    Code("L109", "complex-key", _E, "a mapping key is not a plain scalar"),
    Code("L110", "number-too-long", _E, "a numeric literal has too many digits"),
    Code("L111", "empty-file", _W, "a spec file holds no document"),
    Code("L112", "merge-key", _E, "YAML merge keys (`<<`) are not supported"),
    # S2xx: document shape and field values
    Code("S201", "unknown-kind", _E, "`kind` names no Charter kind"),
    Code("S202", "unsupported-api-version", _E, "`apiVersion` is not `charter/v1`"),
    Code("S203", "unknown-field", _E, "a field that the kind does not define"),
    Code("S204", "missing-field", _E, "a required field is missing"),
    Code("S205", "wrong-type", _E, "a value has the wrong type"),
    Code("S206", "invalid-value", _E, "a value is outside the allowed set or range"),
    Code("S207", "invalid-name", _E, "a resource name is not a DNS-1123 label"),
    Code("S208", "invalid-handle", _E, "an owner handle is not `@user` or `@org/team`"),
    Code("S209", "not-a-mapping", _E, "a document is not a mapping"),
    Code("S210", "unsafe-text", _E, "text holds control or bidirectional-override characters"),
    Code("S211", "raci-accountable", _E, "a RACI stage needs exactly one Accountable"),
    Code("S212", "raci-responsible", _E, "a RACI stage needs at least one Responsible"),
    Code("S213", "unknown-estimator", _E, "the estimator is not a public scikit-learn estimator"),
    Code("S214", "unknown-estimator-param", _E, "the estimator has no such parameter"),
    Code("S215", "invalid-estimator-param", _E, "a parameter value breaks the estimator's constraints"),
    Code("S216", "estimator-task-mismatch", _E, "the estimator does not fit the model's task"),
    Code("S217", "metric-task-mismatch", _E, "the metric does not apply to the model's task"),
    Code("S218", "invalid-expression", _E, "an expression is not in Charter's expression language"),
    Code("S219", "invalid-cron", _E, "a schedule is not a valid cron expression"),
    Code("S220", "invalid-duration", _E, "a duration is not like `30m`, `24h` or `7d`"),
    Code("S221", "rollout-steps", _E, "canary traffic steps must rise to 100"),
    Code("S222", "canary-without-analysis", _W, "a canary or blue-green rollout has no analysis gates"),
    Code("S223", "literal-secret", _E, "a credential is written into a spec"),
    Code("S224", "invalid-regex", _E, "a regular expression does not compile"),
    Code("S225", "unsafe-path", _E, "a path leaves the repository or is absolute"),
    Code("S226", "invalid-option", _E, "options that cannot be used together"),
    Code("S227", "expired-waiver", _W, "a waiver's expiry date has passed"),
    Code("S228", "invalid-label", _E, "a label key or value breaks Kubernetes' label syntax"),
    Code("S229", "param-over-limit", _E, "an estimator parameter is above the ceiling set in `charter.yaml`"),
    Code("S230", "invalid-quantity", _E, "a CPU or memory amount is not in a unit every orchestrator reads"),
    Code("S231", "impossible-compute", _E, "pod settings no cluster can meet (a limit below its request)"),
    Code("S232", "stock-runtime", _W, "a stock serving runtime would serve the model without its guardrails"),
    Code("S233", "analysis-without-metrics", _E,
         "a rollout analysis has no predictor metrics or no Prometheus address to query"),
    Code("S234", "local-store-for-cluster", _E, "the kubernetes target would serve from a folder no cluster can read"),
    Code("S235", "engine-unsupported", _E, "a data check's engine cannot read the source or run a prepare step"),
    Code("S236", "unordered-source", _E,
         "a table on `engine: postgres` or `spark` has no row order: no `ORDER BY`, no `primary_key`"),
    # X3xx: references between specs
    Code("X301", "unknown-reference", _E, "a reference names no spec of the expected kind"),
    Code("X302", "wrong-kind-reference", _E, "a reference names a spec of another kind"),
    Code("X303", "duplicate-name", _E, "two specs of one kind share a name"),
    Code("X304", "unknown-column", _E, "a rule, feature or expression names an unknown column"),
    Code("X305", "not-owned", _E, "a spec is covered by no Ownership and there is no default"),
    Code("X306", "owned-twice", _E, "a spec is covered by more than one Ownership"),
    Code("X307", "unknown-slice", _E, "a gate names a slice the model does not define"),
    Code("X308", "column-type-mismatch", _E, "a rule or expression uses a column of the wrong type"),
    Code("X309", "gates-for-other-model", _E, "a rollout's analysis gates belong to another model"),
    Code("X310", "suite-for-other-source", _E, "a model's validation suite checks another data source"),
    Code("X311", "unknown-waived-gate", _E, "a waiver names a gate that does not exist"),
    Code("X312", "prediction-log-reference", _E,
         "a prediction log excludes a column the model does not take, or its outcomes cannot be joined"),
    Code("X313", "retrain-without-monitoring", _E, "a model retrains on drift, but nothing monitors its drift"),
    Code("X314", "window-never-holds-rows", _E,
         "an evaluation window can never hold rows: not a time column, or a source without the model's columns"),
    Code("X315", "unknown-window", _E, "a gate names an evaluation window its model does not declare"),
    Code("X316", "fallback-without-monitoring", _W,
         "a RolloutPolicy falls back on failing gates, but nothing checks its model's gates on a schedule"),
    Code("X317", "unknown-feast-feature", _E,
         "a feast source names a feature view, feature or feature service its Feast registry does not hold"),
    Code("X318", "unreadable-feast-repo", _E,
         "a feast source's feature repository has no readable `feature_store.yaml` or registry"),
    Code("X319", "unchecked-feast-features", _W,
         "a feast source's features cannot be checked: `feast apply` never wrote the registry, or it is remote"),
    Code("X320", "unseen-data-change", _E,
         "a model retrains when its data changes, but its database source has no `watermark` to see a change by"),
    Code("X321", "fallback-on-unlabelled-log", _E,
         "a fallback judges the served model on its prediction log, but the log is not kept or has no outcomes"),
    Code("X322", "rules-on-sample", _W,
         "a model trains on a sample, and its source's data check runs on polars: the rules see the sample only"),
    Code("X323", "pod-without-database-url", _E,
         "an orchestrator's pods read a database source, but no `compute.secrets` gives them its URL variable"),
    Code("X324", "duckdb-above-pod-memory", _E,
         "a source runs on DuckDB with a memory limit above three quarters of its pods' memory limit"),
    Code("X325", "foreign-key-columns", _E,
         "a foreign key's referenced columns are not given, or do not pair up with its own columns"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
_BY_NAME = {c.name: c for c in _TABLE}
_ALIASES = {alias: c for c in _TABLE for alias in c.aliases}


def lookup(code_or_name: str) -> Code:
    """Find an entry by code, name or alias; raises KeyError (a bug) when unknown."""
    key = code_or_name.strip()
    entry = CODES.get(key.upper()) or _BY_NAME.get(key.lower()) or _ALIASES.get(key.upper())
    if entry is None:
        raise KeyError(code_or_name)
    return entry


def explanation(code: str) -> str:
    """The long Markdown explanation of a code, as shipped in the package."""
    entry = lookup(code)
    return resources.files("compiler.diagnostics.explain").joinpath(f"{entry.code}.md").read_text("utf-8")

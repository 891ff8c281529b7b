"""The data check's result as a versioned document: what `check-data --format json` prints and the store keeps.

Input: the rule results of any engine (`compiler.execute.rules.RuleResult`) and the rows of
the prepared table. Output: a plain dict of `format_version` 1 (docs/engines.md, "The result
document"), the same for every engine apart from its `engine` field, so that a script can
compare two engines, or two runs, rule by rule. Additive changes keep the version; a field
that changes meaning or goes away raises it.
"""

from __future__ import annotations

import math

FORMAT_VERSION = 1
# Row rules count failing rows; the others judge one measure of the whole table.
_ROW_RULES = frozenset({"not_null", "unique", "between", "in_set", "regex", "length", "compare", "not_in_future",
                        "expression", "monotonic", "foreign_key"})  # fmt: skip


def rule_record(rule_id: str, kind: str, severity: str, passed: bool, failing: int, sample: list[int],
                observed: float | None, message: str, rows: int, row: bool | None = None) -> dict:
    row = kind in _ROW_RULES if row is None else row
    shown = observed if observed is None or math.isfinite(observed) else None  # JSON has no NaN
    return {"id": rule_id, "type": kind, "kind": "row" if row else "table", "severity": severity, "passed": passed,
            "failing": failing if row else None, "rows_checked": rows, "sample_rows": list(sample) if row else [],
            "observed": None if row else shown, "message": message}  # fmt: skip


def data_report(results, rows: int, engine: str) -> dict:
    """The document of one check: every rule in suite order, with the engine that ran it."""
    return _document([rule_record(r.id, r.rule, r.severity, r.passed, r.failing, r.sample, r.observed, r.message,
                                  rows, r.row) for r in results], rows, engine)


def stored_report(doc: dict, engine: str) -> dict:
    """A stored `data_report.json` in today's shape; a store written before format_version 1 is read too."""
    if doc.get("format_version") == FORMAT_VERSION:
        return doc
    rows = int(doc.get("rows") or 0)
    return _document([rule_record(r["id"], r["rule"], r["severity"], r["passed"], r["failing"], r["sample"],
                                  r.get("observed"), r["message"], rows) for r in doc.get("rules", [])], rows, engine)


def _document(records: list[dict], rows: int, engine: str) -> dict:
    failed = any(not r["passed"] and r["severity"] == "error" for r in records)
    return {"format_version": FORMAT_VERSION, "engine": engine, "rows": rows, "passed": not failed, "rules": records}


def check_document(result, check) -> dict:
    """`charter check-data --format json`: the data report of `check` (a data-check pipeline) and its run."""
    validate = check.step("validate")
    engine = validate.params.get("engine") or "polars"
    data = result.data or {"format_version": FORMAT_VERSION, "engine": engine, "rows": None, "passed": False,
                           "rules": []}  # fmt: skip  # ingest or prepare stopped the check: no rule ran
    return {**data, "check": check.name, "source": check.step("ingest").params["source"],
            "passed": data["passed"] and result.exit_code == 0, "failed": result.failed,
            "exit_code": result.exit_code, "steps": [o.__dict__ for o in result.outcomes]}

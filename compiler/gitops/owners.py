"""Who owns a spec, read from the raw Ownership specs of one revision, and who approved.

Raw specs, not the validated SpecSet: the approval base may itself be invalid, and a plan must
still know whose approval a change needs.
"""

from __future__ import annotations

import json
from pathlib import Path

from compiler.ir.graph import STAGE_FALLBACK, STAGE_OF_KIND

# The RACI stage that owns a change to charter.yaml (image, store, targets: every pipeline and
# deployment), when an Ownership declares it; else the project's default owner.
PROJECT_STAGE = "project"


def ownership_index(snap, covered_by: dict[str, str] | None = None
                    ) -> tuple[dict[str, dict], dict[str, dict], dict | None]:
    """(spec name -> RACI, Ownership name -> RACI, default RACI) from raw Ownership specs.

    `covered_by`, when given, is filled with spec name -> the Ownership that covers it.
    """
    covers: dict[str, dict] = {}
    by_name: dict[str, dict] = {}
    covered_by = {} if covered_by is None else covered_by
    for res in snap.resources().values():
        if res.kind != "Ownership":
            continue
        spec = found if isinstance(found := res.data.get("spec"), dict) else {}
        raci = found if isinstance(found := spec.get("raci"), dict) else {}
        by_name[res.name] = raci
        for covered in spec.get("covers") or []:
            if isinstance(covered, str):
                covers.setdefault(covered, raci)
                covered_by.setdefault(covered, res.name)
    default = None
    config = snap.resources([p for p in ("charter.yaml",) if p in snap.files])
    project = next((r for r in config.values() if r.kind == "Project"), None)
    if project is not None and isinstance(project.data.get("spec"), dict):
        default = by_name.get(project.data["spec"].get("default_ownership"))
    return covers, by_name, default


def _handles(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _roles_of(chosen: list) -> tuple[list[str], list[str]]:
    chosen = [r for r in chosen if isinstance(r, dict)]
    return (sorted({h for r in chosen for h in _handles(r.get("accountable"))}),
            sorted({h for r in chosen for h in _handles(r.get("consulted"))}))


def roles(kind: str, name: str, index, stage: str | None = None) -> tuple[list[str], list[str]]:
    """(accountable, consulted) for one spec at the approval base; empty when nobody owns it.

    `stage` asks for one RACI stage (monitoring, say) instead of the kind's own.
    """
    covers, by_name, default = index
    if kind == "Ownership":
        raci = by_name.get(name, {})
        return sorted({h for r in raci.values() if isinstance(r, dict) for h in _handles(r.get("accountable"))}), []
    if kind == "Project":
        declared = [raci[PROJECT_STAGE] for raci in by_name.values() if PROJECT_STAGE in raci]
        if declared:
            return _roles_of(declared)
        return _roles_of(list((default or {}).values()))
    raci = covers.get(name) or default or {}
    stage = stage or STAGE_OF_KIND.get(kind)
    while stage is not None and stage not in raci:
        stage = STAGE_FALLBACK.get(stage)
    return _roles_of([raci[stage]] if stage in raci else list(raci.values()))


def approvals_from_reviews(path: Path) -> list[str]:
    """Handles that approved, from GitHub's reviews JSON or a plain JSON list of handles.

    GitHub's is the JSON of `GET /repos/{o}/{r}/pulls/{n}/reviews`; the latest review of each user
    counts.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return [x if x.startswith("@") else "@" + x for x in data]
    latest: dict[str, str] = {}
    for review in data if isinstance(data, list) else []:
        user = (review.get("user") or {}).get("login") if isinstance(review, dict) else None
        state = review.get("state") if isinstance(review, dict) else None
        if user and state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[user] = state
    return sorted("@" + u for u, s in latest.items() if s == "APPROVED")

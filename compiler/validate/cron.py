"""A strict checker for five-field cron expressions, with a reason on failure.

The dialect is that of Kubernetes CronJobs, Argo CronWorkflows, GitHub Actions `schedule:` and
Airflow.
"""

from __future__ import annotations

import re

_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}),
    ("day of week", 0, 7, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}),
)
_ITEM = re.compile(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?\Z")


def cron_problem(expr: str) -> str | None:
    """None when `expr` is a valid cron expression, else what is wrong with it."""
    text = expr.strip().lower()
    if text.startswith("@"):
        return None if text in _MACROS else f"unknown macro; use one of {', '.join(sorted(_MACROS))}"
    parts = text.split()
    if len(parts) != 5:
        return f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), not {len(parts)}"
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            m = _ITEM.match(item)
            if not m:
                return f"the {name} field `{part[:20]}` is not valid"
            rng, step = m.groups()
            if step is not None and int(step) == 0:
                return f"the {name} field has a step of 0"
            if rng == "*":
                continue
            bounds = []
            for token in rng.split("-"):
                value = names.get(token, int(token) if token.isdigit() else None)
                if value is None or not low <= value <= high:
                    return f"`{token[:10]}` is out of range for {name} ({low}-{high})"
                bounds.append(value)
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                return f"the {name} range `{rng}` runs backwards"
    return None

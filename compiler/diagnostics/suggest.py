"""The one "did you mean" helper every check uses (after Kedro's `get_close_matches`)."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: object, candidates: Iterable[object], max: int = 3, cutoff: float = 0.6) -> list[str]:
    """Return up to `max` candidates close to `name`, best first; case-insensitive."""
    pool = sorted({c for c in candidates if isinstance(c, str)})
    if not isinstance(name, str) or not pool:
        return []
    by_lower: dict[str, str] = {}
    for c in pool:
        by_lower.setdefault(c.lower(), c)
    import difflib  # here: only a diagnostic asks, and a clean tree's compile has none (6 ms with heapq)

    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=max, cutoff=cutoff)
    return [by_lower[m] for m in matches]


def suggestion(name: str | None, candidates: Iterable[object], noun: str = "") -> str | None:
    """A ready `help` sentence: "did you mean `x`?", else the list of valid names when short."""
    pool = sorted({c for c in candidates if isinstance(c, str)})
    close = did_you_mean(name, pool)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    if not pool:
        return None
    shown = ", ".join(f"`{c}`" for c in pool[:12])
    more = f" and {len(pool) - 12} more" if len(pool) > 12 else ""
    return f"expected one of {shown}{more}" if not noun else f"defined {noun}: {shown}{more}"

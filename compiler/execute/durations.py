"""Durations such as `30m`, `24h`, `7d`, `1h30m` (the spec language's format), in seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text: str) -> int:
    return sum(int(n) * _SECONDS[u] for n, u in _PART.findall(text))

"""Line coverage per package of `compiler`, from the combined .coverage data (printed, not gated)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict


def main() -> int:
    data = json.loads(subprocess.run([sys.executable, "-m", "coverage", "json", "-q", "-o", "-"],
                                     check=True, capture_output=True, text=True).stdout)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, info in data["files"].items():
        parts = path.replace("\\", "/").split("/")
        package = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
        totals[package][0] += info["summary"]["covered_lines"]
        totals[package][1] += info["summary"]["num_statements"]
    print(f"{'package':<28} {'lines':>7} {'covered':>8}")
    for package, (covered, lines) in sorted(totals.items()):
        print(f"{package:<28} {lines:>7} {covered / lines if lines else 1:>8.1%}")
    covered, lines = (sum(v[i] for v in totals.values()) for i in (0, 1))
    print(f"{'total':<28} {lines:>7} {covered / lines:>8.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`charter validate` on 1,000 generated specs against `check-jsonschema` on the same files.

    pip install -e '.[bench]'
    python benchmarks/bench_validate.py [--count 1000] [--runs 5] [--json]

Whole processes, wall clock, in one run: `python -c pass` (the floor), `charter --version`,
`charter validate` (schema and semantic checks) and `check-jsonschema` with Charter's
generated combined schema (schema checks only). The machine is shared and noisy, so each
command runs several times and the median is reported; ratios compare medians of the same run.
Targets (issue 2): version <= 150 ms, validate <= 1.0 s, validate <= 0.15x check-jsonschema.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_specs import generate  # noqa: E402

REPO = HERE.parent


def _charter() -> list[str]:
    exe = Path(sys.executable).with_name("charter")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "compiler"]


def _time(cmd: list[str], cwd: Path, runs: int, ok=(0,)) -> tuple[float, float, str]:
    times = []
    out = ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok:
            out = (proc.stdout + proc.stderr)[-2000:]
            raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd[:3])} ...\n{out}")
        out = proc.stdout
    return statistics.median(times), min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    checker = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(checker).exists():
        raise SystemExit("check-jsonschema is not installed: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = generate(root, args.count)
        lines = sum(len(f.read_text().splitlines()) for f in files) / len(files)
        schema = REPO / "schemas" / "charter.schema.json"
        rel = [str(f.relative_to(root)) for f in files]
        results = {
            "python -c pass": _time([sys.executable, "-c", "pass"], root, args.runs),
            "charter --version": _time([*_charter(), "--version"], root, args.runs),
            "charter validate": _time([*_charter(), "validate"], root, args.runs),
            "check-jsonschema": _time([checker, "--schemafile", str(schema), *rel], root, args.runs),
        }
    validate, checkjs = results["charter validate"][0], results["check-jsonschema"][0]
    summary = {
        "specs": args.count, "lines_per_spec": round(lines, 1), "runs": args.runs,
        "median_s": {k: round(v[0], 4) for k, v in results.items()},
        "min_s": {k: round(v[1], 4) for k, v in results.items()},
        "ratio_validate_vs_check_jsonschema": round(validate / checkjs, 4),
        "targets": {
            "version <= 0.150 s": results["charter --version"][0] <= 0.150,
            "validate <= 1.0 s": validate <= 1.0,
            "validate <= 0.15x check-jsonschema": validate / checkjs <= 0.15,
        },
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.count} specs, {lines:.0f} lines each on average; median (min) of {args.runs} runs")
    for name, (median, best, _) in results.items():
        print(f"  {name:<20} {median * 1000:8.0f} ms  ({best * 1000:.0f} ms)")
    print(f"  charter validate / check-jsonschema = {summary['ratio_validate_vs_check_jsonschema']:.3f}")
    for target, met in summary["targets"].items():
        print(f"  target {target:<38} {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

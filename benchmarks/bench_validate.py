"""Time `charter validate` on 1,000 generated specs against `check-jsonschema` on the same files.

    pip install -e '.[bench]'
    python benchmarks/bench_validate.py [--count 1000] [--seed 0] [--runs 5] [--repo DIR] [--json]

Every command runs as a whole process (start-up and imports included), timed by wall clock
with `time.perf_counter`, in one run of this script:

- `python -c pass`: the floor, what starting any Python process costs here;
- `charter --version`: start-up of the command;
- `charter validate`: schema and semantic checks of the whole repository (exit 0 expected);
- `check-jsonschema --schemafile schemas/charter.schema.json FILE...`: schema checks only,
  with the JSON Schema Charter generates from its models, on the same files.

The machine is shared and noisy, so after one untimed warm-up round the commands run in
turns, `--runs` times each, and the report gives the median and the minimum; the ratio
compares the medians of this run. Targets: `charter --version` <= 150 ms, `charter validate`
<= 1.0 s on 1,000 specs, and <= 0.15x the time of `check-jsonschema`. Missing a target is a
result, not a failure: the exit code is 0 unless a command fails (1, with its output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCHEMA = REPO / "schemas" / "charter.schema.json"
sys.path.insert(0, str(HERE))

from gen_specs import generate  # noqa: E402

TARGETS = {  # name -> (what it limits, limit)
    "charter --version <= 150 ms": ("charter --version", 0.150),
    "charter validate <= 1.0 s": ("charter validate", 1.0),
    "charter validate <= 0.15x check-jsonschema": ("ratio", 0.15),
}


class Failed(Exception):
    """A command exited with an unexpected code."""


def charter_command() -> list[str]:
    """The `charter` script next to this interpreter, else `python -m compiler`."""
    exe = Path(sys.executable).with_name("charter")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "compiler"]


def checker_command() -> list[str] | None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("check-jsonschema")
    return [found] if found else None


def run(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def spec_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "specs").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def measure(root: Path, runs: int, warmup: int) -> dict:
    files = spec_files(root)
    if not files:
        raise Failed(f"no spec files under {root / 'specs'}")
    checker = checker_command()
    if checker is None:
        raise Failed("check-jsonschema is not installed: pip install -e '.[bench]'")
    rel = [str(f.relative_to(root)) for f in files]
    # name -> (argv, exit codes that count as success)
    commands = {
        "python -c pass": ([sys.executable, "-c", "pass"], (0,)),
        "charter --version": ([*charter_command(), "--version"], (0,)),
        "charter validate": ([*charter_command(), "validate"], (0,)),
        # 1 means "the schema rejected some files": still a timing, reported below.
        "check-jsonschema": ([*checker, "--schemafile", str(SCHEMA), *rel], (0, 1)),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    last: dict[str, subprocess.CompletedProcess] = {}
    load_before = _load()
    for round_ in range(warmup + runs):
        for name, (argv, ok) in commands.items():  # in turns, so noise spreads over every command
            elapsed, proc = run(argv, root)
            if proc.returncode not in ok:
                shown = " ".join(argv[:4]) + (" ..." if len(argv) > 4 else "")
                raise Failed(f"`{shown}` exited with {proc.returncode}\n{(proc.stdout + proc.stderr)[-3000:]}")
            if round_ >= warmup:
                times[name].append(elapsed)
            last[name] = proc
    lines = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)
    cj = last["check-jsonschema"]
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = medians["charter validate"] / medians["check-jsonschema"]
    values = {**medians, "ratio": ratio}
    return {
        "specs_root": str(root),
        "files": len(files),
        "lines_per_file": round(lines / len(files), 1),
        "runs": runs,
        "warmup_rounds": warmup,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": _load()},
        "charter_validate_output": last["charter validate"].stdout.strip().splitlines()[-1:],
        "commands": {
            name: {"argv": _shown(commands[name][0], root), "median_s": round(medians[name], 4),
                   "min_s": round(min(t), 4), "times_s": [round(x, 4) for x in t]}
            for name, t in times.items()
        },
        "ratio_validate_vs_check_jsonschema": round(ratio, 4),
        "check_jsonschema": {"accepted": cj.returncode == 0,
                             "summary": _summary(cj.stdout + cj.stderr) if cj.returncode else "ok"},
        "targets": {
            target: {"value": round(values[what], 4), "limit": limit, "met": values[what] <= limit}
            for target, (what, limit) in TARGETS.items()
        },
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _shown(argv: list[str], root: Path) -> str:
    """The command line, shortened: program names without folders, the file list counted."""
    out = [Path(argv[0]).name, *argv[1:]]
    specs = [a for a in out if a.startswith("specs" + os.sep)]
    if specs:
        out = [a for a in out if a not in specs] + [f"<{len(specs)} spec files>"]
    return " ".join(a.replace(str(REPO) + os.sep, "") for a in out)


def _summary(text: str, limit: int = 25) -> str:
    """The first lines of check-jsonschema's error report, and how many files it named."""
    lines = text.strip().splitlines()
    invalid = {line.split("::", 1)[0].strip() for line in lines if "::$" in line}
    unparsed = {line.split("Failed to parse", 1)[1].strip() for line in lines if "Failed to parse " in line}
    head = "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")
    return f"{len(invalid)} file(s) failed the schema, {len(unparsed)} failed to parse\n{head}"


def report(result: dict) -> str:
    cmds = result["commands"]
    out = [f"{result['files']} spec files, {result['lines_per_file']:.0f} lines each on average; "
           f"median and min of {result['runs']} runs (after {result['warmup_rounds']} warm-up), "
           f"{result['machine']['cpus']} CPUs, load {result['machine']['load_average_before']}",
           "",
           f"  {'command':<22} {'median':>10} {'min':>10}"]
    for name, c in cmds.items():
        out.append(f"  {name:<22} {c['median_s'] * 1000:>7.0f} ms {c['min_s'] * 1000:>7.0f} ms")
    out += ["", f"  charter validate / check-jsonschema = {result['ratio_validate_vs_check_jsonschema']:.3f} "
                f"(medians of this run)", ""]
    for target, t in result["targets"].items():
        out.append(f"  target {target:<44} {'met' if t['met'] else 'MISSED'} ({t['value']:.3f})")
    out += ["", f"  charter validate said: {' '.join(result['charter_validate_output'])}"]
    if not result["check_jsonschema"]["accepted"]:
        out += ["", "  check-jsonschema rejected spec files that charter accepts:",
                *("    " + line for line in result["check_jsonschema"]["summary"].splitlines())]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="specs to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--repo", type=Path, help="an existing repository to validate instead of generating one")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    try:
        if args.repo is not None:
            result = measure(args.repo.resolve(), args.runs, args.warmup)
        else:
            with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmp:
                generate(Path(tmp), args.count, args.seed)
                result = measure(Path(tmp), args.runs, args.warmup)
                result["specs_root"] = f"generated: gen_specs.py --count {args.count} --seed {args.seed}"
    except Failed as exc:
        print(f"bench_validate: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`charter compile` of 1,000 specs, every target, against the 2-second budget (issue 4).

    python benchmarks/bench_compile.py [--count 1000] [--runs 5] [--keep DIR] [--against DIR]

Generates a repository with the benchmark generator (1,000 specs: about 167 models with
their sources, suites, metric sets, rollouts and owners), then times whole commands:

- `charter compile` cold: nothing generated yet and no IR cache (a fresh CI runner);
- `charter compile` again: every file already up to date (IR cache warm);
- `charter compile --check` on the unchanged tree, and again without `.charter/` (what CI runs
  on every pull request, in a fresh clone: the committed files, no cache);
- `charter compile` after editing one spec (the everyday case: specs are parsed and
  validated again, slow renderers reuse what they wrote for unchanged models);
- `charter compile` cold again with `CHARTER_JOBS=1`: the same work on one core, in the same
  rounds (the order of the two cold runs alternates), so the second core's share is a ratio of
  this run, not of two runs on a noisy machine;
- with `--against DIR` (a checkout of another revision of Charter): the one-spec edit timed on
  that code too, on its own copy of the specs, in the same rounds and in alternating order, so the
  change between the two is a ratio of this run, not of two runs an hour apart on a noisy machine;
- the floor of a cold compile's writing: the same files, read into memory first, written into an
  empty folder by a loop of `os.open`/`write` (no temp files, no renames), in each round. On a
  machine whose file creation is slow, that alone is a good part of a cold compile.

There is no other tool that compiles these specs to compare with; the budget comes from
the issue: under 2 s, and `--check` at least as fast as `compile`. Medians of `--runs`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done


def write_floor(repo: Path, dest: Path) -> float:
    """Seconds to write every generated file of `repo` from memory into the empty folder `dest`."""
    files = [(p.relative_to(repo), p.read_bytes()) for top in ("generated", ".github")
             for p in sorted((repo / top).rglob("*")) if p.is_file()]
    shutil.rmtree(dest, ignore_errors=True)
    start = time.perf_counter()
    made: set[Path] = set()
    for rel, data in files:
        path = dest / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    took = time.perf_counter() - start
    shutil.rmtree(dest, ignore_errors=True)
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--against", type=Path, default=None,
                    help="a checkout of another revision: its one-spec edit timed in the same rounds")
    args = ap.parse_args()
    if args.against is not None and not (args.against / "compiler" / "__init__.py").is_file():
        sys.exit(f"--against {args.against}: not a checkout of Charter (no compiler/__init__.py)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="charter-bench-compile-"))
    repo = work / "repo"
    if not (repo / "charter.yaml").is_file():
        subprocess.run([sys.executable, str(HERE / "gen_specs.py"), str(repo), "--count", str(args.count)], check=True,
                       capture_output=True)
    # Byte-compiled modules, as an installed Charter has them: with PYTHONDONTWRITEBYTECODE set
    # (some CI images and sandboxes set it), every run would compile Charter's ~80 modules again.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(HERE.parent)}
    charter = [sys.executable, "-m", "compiler"]
    cold, single, warm, check, fresh, edited, floor = [], [], [], [], [], [], []
    one_core = {**env, "CHARTER_JOBS": "1"}
    model = next(p for p in sorted((repo / "specs").rglob("model.yaml")))
    original = model.read_text()
    files = 0
    against: list[float] = []
    if args.against is not None:  # its own copy of the specs, so each side's caches are its own
        other = work / "repo-against"
        shutil.rmtree(other, ignore_errors=True)
        shutil.copytree(repo, other, ignore=shutil.ignore_patterns(".charter", "generated", ".github"))
        other_env = {**env, "PYTHONPATH": str(args.against.resolve())}
        if timed([*charter, "compile"], other, other_env)[1].returncode != 0:
            sys.exit(f"charter compile of {args.against} failed on the generated specs")

    def edit(root: Path, code: dict) -> float:
        """One spec edited, compiled and timed; then restored and compiled again (the next round's start)."""
        spec = root / model.relative_to(repo)
        spec.write_text(original.replace("description: ", "description: Edited. ", 1))
        t, done = timed([*charter, "compile"], root, code)
        spec.write_text(original)
        if done.returncode != 0:
            sys.exit(f"charter compile failed after an edit:\n{done.stderr[-2000:]}")
        timed([*charter, "compile"], root, code)
        return t

    def clean() -> None:
        shutil.rmtree(repo / ".charter", ignore_errors=True)
        shutil.rmtree(repo / "generated", ignore_errors=True)
        shutil.rmtree(repo / ".github", ignore_errors=True)

    for round_ in range(args.runs):
        if round_ % 2:  # one core first in every other round
            clean()
            single.append(timed([*charter, "compile"], repo, one_core)[0])
        clean()
        t, done = timed([*charter, "compile"], repo, env)
        if done.returncode != 0:
            sys.exit(f"charter compile failed:\n{done.stderr[-2000:]}")
        cold.append(t)
        if not round_ % 2:
            clean()
            single.append(timed([*charter, "compile"], repo, one_core)[0])  # leaves the same files and caches
        files = sum(1 for line in done.stdout.splitlines() if line.startswith("wrote "))
        warm.append(timed([*charter, "compile"], repo, env)[0])
        t, done = timed([*charter, "compile", "--check"], repo, env)
        if done.returncode != 0:
            sys.exit(f"charter compile --check failed on an unchanged tree:\n{done.stderr[-2000:]}")
        check.append(t)
        # a fresh clone in CI: the generated files committed, no cache
        shutil.rmtree(repo / ".charter", ignore_errors=True)
        t, done = timed([*charter, "compile", "--check"], repo, env)
        if done.returncode != 0:
            sys.exit(f"charter compile --check failed without a cache:\n{done.stderr[-2000:]}")
        fresh.append(t)
        floor.append(write_floor(repo, work / "floor"))
        # the everyday case: one spec edited since the last compile (and on the other code, in turn)
        sides = [(repo, env, edited)] + ([(other, other_env, against)] if args.against is not None else [])
        for root, code, times in (sides if not round_ % 2 else sides[::-1]):
            times.append(edit(root, code))
    targets = next((line for line in (repo / "charter.yaml").read_text().splitlines() if "targets" in line),
                   "targets: (default: all)")
    print(f"{args.count} specs, {files} generated files; {targets.strip()}")
    print(f"charter compile (cold)         {statistics.median(cold):6.2f} s   (issue 13: 1.5 s)")
    ratios = [c / s for c, s in zip(cold, single, strict=True)]
    print(f"  cold on one core (JOBS=1)    {statistics.median(single):6.2f} s   "
          f"two cores / one: {statistics.median(ratios):.2f}")
    print(f"  writing its files (floor)    {statistics.median(floor):6.2f} s")
    print(f"charter compile (up to date)   {statistics.median(warm):6.2f} s")
    print(f"charter compile --check        {statistics.median(check):6.2f} s")
    print(f"  --check, no cache (CI clone) {statistics.median(fresh):6.2f} s")
    print(f"charter compile, 1 spec edited {statistics.median(edited):6.2f} s   (issue 13: 0.6 s)")
    if against:
        ratios = [a / b for a, b in zip(edited, against, strict=True)]
        print(f"  the same, on {args.against}  {statistics.median(against):6.2f} s   "
              f"this / that: {statistics.median(ratios):.2f} (per round: {', '.join(f'{r:.2f}' for r in ratios)})")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

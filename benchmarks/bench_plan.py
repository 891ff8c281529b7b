"""`charter plan` and `charter history` on a long history, against the git floor.

    python benchmarks/bench_plan.py [--commits 5000 20000] [--files 200] [--runs 5] [--keep DIR]

Builds a repository per `--commits` value (default: 5,000 and 20,000 commits; kept as
DIR/repo-N with `--keep DIR`) with `--files` spec files (the benchmark generator), its commits
made with `git fast-import`, each editing one spec's description. Commits 0-3999
spread over every file; commits 4000 and later touch only five files. Two plans:

- wide:   refs 2000..3000, every spec file changed;
- narrow: refs 4000..N (the last commit), five spec files changed.

The floor for a plan is what any tool must do: `git diff --name-only` between the refs plus
`git cat-file --batch` of the changed blobs on both sides. `charter plan` is timed cold (no
revision cache: a fresh CI runner) and warm (the base revision compiled before, as on a
developer's machine or a CI cache). `charter history NAME` is compared with `git log` of
that file plus cat-file of every version. All are whole commands (process start included),
timed in the same run; the figures are medians.
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
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=b@example.com"]


def build(dest: Path, files: int, commits: int) -> list[str]:
    subprocess.run([sys.executable, str(HERE / "gen_specs.py"), str(dest), "--count", str(files)], check=True,
                   capture_output=True)
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "specs"], cwd=dest, check=True)
    paths = sorted(p.relative_to(dest).as_posix() for p in (dest / "specs").rglob("*.yaml"))
    paths = [p for p in paths if any(line.strip().startswith("description:")
                                     for line in (dest / p).read_text().split("\n"))]
    texts = {p: (dest / p).read_text() for p in paths}
    stream = []
    for i in range(commits):
        path = paths[i % len(paths)] if i < 4000 else paths[i % 5]
        lines = texts[path].split("\n")
        at = next(n for n, line in enumerate(lines) if line.strip().startswith("description:"))
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        lines[at] = f"{indent}description: Revision {i} of this spec."
        texts[path] = "\n".join(lines)
        data = texts[path].encode()
        message = f"edit {i:04d}\n".encode()  # its length, not a fixed one: 5 digits from commit 10,000
        stream.append(f"commit refs/heads/main\nmark :{i + 1}\ncommitter Bench <b@example.com> {1700000000 + i} +0000\n"
                      f"data {len(message)}\n{message.decode()}" + ("from refs/heads/main^0\n" if i == 0 else "")
                      + f"M 100644 inline {path}\ndata {len(data)}\n")
        stream.append(data.decode() + "\n")
    stream.append("".join(f"reset refs/tags/c{n}\nfrom :{n}\n\n" for n in (2000, 3000, 4000, commits)))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=dest, input="".join(stream).encode(), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=dest, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=dest, check=True)
    return paths


def timed(cmd, cwd: Path, **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=False, capture_output=True, **kw)
    return time.perf_counter() - start


IN_PROCESS = """
import io, sys, time, contextlib
import git, yaml
from compiler.cli import main
from compiler import config  # imports are not the work
from compiler.gitops import commands, plan, report, snapshot, summary
out = io.StringIO()
t = time.perf_counter()
with contextlib.redirect_stdout(out):
    main(sys.argv[1:])
sys.stderr.write(f"{time.perf_counter() - t}\\n")
"""


def in_process(args: list[str], cwd: Path, env: dict) -> float:
    """The command's own work: interpreter start and imports excluded."""
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, *args], cwd=cwd, env=env, capture_output=True, text=True)
    return float(done.stderr.strip().splitlines()[-1])


def floor_plan(repo: Path, a: str, b: str) -> float:
    start = time.perf_counter()
    names = subprocess.run(["git", "diff", "--name-only", a, b, "--", "specs"], cwd=repo, capture_output=True,
                           text=True, check=True).stdout.split()
    objects = "".join(f"{ref}:{n}\n" for n in names for ref in (a, b))
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=objects.encode(), capture_output=True, check=True)
    return time.perf_counter() - start


def floor_history(repo: Path, path: str) -> float:
    start = time.perf_counter()
    shas = subprocess.run(["git", "log", "--format=%H", "--", path], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.split()
    objects = "".join(f"{s}:{path}\n" for s in shas)
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=objects.encode(), capture_output=True, check=True)
    return time.perf_counter() - start


def run_size(repo: Path, files: int, commits: int, runs: int) -> None:
    """Every case on one repository of `files` specs and `commits` commits (built once, kept in `repo`)."""
    if not (repo / ".git").is_dir():
        t0 = time.perf_counter()
        paths = build(repo, files, commits)
        print(f"built {files} spec files, {commits} commits in {time.perf_counter() - t0:.1f} s")
    else:
        paths = sorted(p.relative_to(repo).as_posix() for p in (repo / "specs").rglob("*.yaml"))
    charter = [sys.executable, "-m", "compiler"]
    # Byte-compiled modules, as an installed Charter has them (pip compiles them at install): with
    # PYTHONDONTWRITEBYTECODE set (some CI images and sandboxes set it), every start would compile
    # Charter's modules again, about 30 ms of a plan. bench_compile.py does the same.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(HERE.parent)}
    cache = repo / ".charter" / "cache"
    rows = []
    for label, a, b in (("wide (200 files changed)", "c2000", "c3000"),
                        ("narrow (5 files changed)", "c4000", f"c{commits}")):
        plan = [*charter, "plan", "--base", a, "--head", b, "--format", "json"]
        floor = statistics.median(floor_plan(repo, a, b) for _ in range(runs))
        cold = []
        for _ in range(runs):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(timed(plan, repo, env=env))
        warm = statistics.median(timed(plan, repo, env=env) for _ in range(runs))
        inside = statistics.median(in_process(plan[3:], repo, env) for _ in range(runs))
        cold_m = statistics.median(cold)
        rows.append((f"plan {label}", floor, cold_m, warm, inside))
    name = paths[0]
    resource = next(line.split(":", 1)[1].strip() for line in (repo / name).read_text().splitlines()
                    if line.strip().startswith("name:"))
    hist = [*charter, "history", resource, "--format", "json"]
    floor = statistics.median(floor_history(repo, name) for _ in range(runs))
    h = statistics.median(timed(hist, repo, env=env) for _ in range(runs))
    inside = statistics.median(in_process(hist[3:], repo, env) for _ in range(runs))
    rows.append((f"history {resource}", floor, h, h, inside))
    version = [*charter, "--version"]
    start_cost = statistics.median(timed(version, repo, env=env) for _ in range(runs))
    print(f"\n{commits} commits; `charter --version` (process start): {start_cost * 1000:.0f} ms")
    print("cold: no revision cache; warm: whole command, revisions seen before; work: warm, inside a")
    print("running interpreter (start-up and imports excluded), the figure to compare with the floor")
    print(f"{'case':<36} {'git floor':>10} {'cold':>9} {'warm':>9} {'work':>9} {'work/floor':>11}")
    for label, fl, cold_m, warm, work in rows:
        print(f"{label:<36} {fl * 1000:>8.1f}ms {cold_m * 1000:>7.0f}ms {warm * 1000:>7.0f}ms {work * 1000:>7.1f}ms"
              f" {work / fl:>10.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, nargs="+", default=[5000, 20000],
                    help="history lengths, one repository each (default: 5000 20000)")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="charter-bench-plan-"))
    for commits in args.commits:
        run_size(work / f"repo-{commits}", args.files, commits, args.runs)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

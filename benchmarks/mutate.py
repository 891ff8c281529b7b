"""A small `ast` mutation tool: how many plausible bugs in a module do the tests catch?

    python benchmarks/mutate.py compiler/gitops/risk.py compiler/gitops/rules.py compiler/gitops/semdiff.py
    # options: --sample 40 --seed 0 --timeout SECONDS --list --tests "pytest ..."

Mutations, one per mutant: a comparison operator flipped (`<` and `>=`, `>` and `<=`, `==`
and `!=`, `in` and `not in`, `is` and `is not`), `and` and `or` swapped, an `if` (or `x if c
else y`, or `while`) condition negated, `True`/`False` swapped, a small int (|n| <= 10) moved
by one, and a statement of a function body replaced by `pass` (docstrings, imports and nested
definitions excepted). Each mutant is the module written back with `ast.unparse`; a mutant
whose text equals the unmutated module's is skipped as equivalent.

Every mutant is written over the module **in the working tree**, the tests are run (by
default `pytest -x -q tests/gitops tests/property -p no:cacheprovider`, with a private
`PYTHONPYCACHEPREFIX` so no stale bytecode is read), and the original bytes are written back
in a `finally` (SIGTERM and SIGHUP are turned into KeyboardInterrupt so Ctrl-C, `kill` and a
closed terminal restore it too). A module with uncommitted changes is refused: after a
`kill -9` run `git checkout -- FILE` first. Tests failing (any non-zero exit) kill the mutant;
passing lets it survive; running longer than `--timeout` (default: 3x the unmutated run, at
least 60 s) is a timeout, counted as killed in the score, as mutmut does.

Running every mutant takes long on a shared 2-core machine (a test run is ~20 s), so at most
`--sample` mutants per file are drawn with a fixed `--seed`; the report says how many exist.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["pytest", "-x", "-q", "tests/gitops", "tests/property", "-p", "no:cacheprovider"]

_FLIP: dict[type, type] = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
                           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
                           ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True, slots=True)
class Mutant:
    index: int  # the site's position in the walk (stable for a given source)
    kind: str
    line: int
    before: str
    after: str
    source: str  # the whole mutated module


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _sites(tree: ast.Module) -> Iterator[tuple[ast.AST, str, object]]:
    """(node, mutation kind, argument) for every mutation site, in a deterministic walk order."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIP:
                    yield node, "compare", i
        elif isinstance(node, ast.BoolOp):
            yield node, "boolop", None
        elif isinstance(node, (ast.If, ast.IfExp, ast.While)):
            yield node, "negate", None
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                yield node, "bool", None
            elif isinstance(node.value, int) and abs(node.value) <= 10:
                yield node, "int+1", None
                yield node, "int-1", None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.If, ast.For, ast.While, ast.With,
                             ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                for i, stmt in enumerate(getattr(node, field, [])):
                    if _is_docstring(stmt) or isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass,
                                                                 ast.FunctionDef, ast.ClassDef)):
                        continue
                    yield node, f"delete:{field}", i


def _apply(node: ast.AST, kind: str, arg: object) -> tuple[ast.AST, ast.AST]:
    """Mutate `node` in place; return (the part shown before, the part shown after)."""
    shown = copy.deepcopy(node)
    if kind == "compare":
        assert isinstance(node, ast.Compare) and isinstance(arg, int)
        node.ops[arg] = _FLIP[type(node.ops[arg])]()
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "negate":
        assert isinstance(node, (ast.If, ast.IfExp, ast.While))
        node.test = ast.UnaryOp(ast.Not(), node.test)
        if not isinstance(node, ast.IfExp):  # show the condition only, not the whole block
            return ast.Expr(shown.test), ast.Expr(node.test)  # type: ignore[attr-defined]
    elif kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif kind.startswith("int"):
        assert isinstance(node, ast.Constant)
        node.value += 1 if kind == "int+1" else -1
    elif kind.startswith("delete:"):
        body = getattr(node, kind.split(":", 1)[1])
        assert isinstance(arg, int)
        old = body[arg]
        body[arg] = ast.Pass()
        return old, ast.Pass()
    return shown, node


def _short(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0] if ast.unparse(node) else ""
    return text if len(text) <= 100 else text[:97] + "..."


def mutants(source: str) -> list[Mutant]:
    """Every mutant of `source` that differs from it."""
    reference = ast.unparse(ast.parse(source))
    count = sum(1 for _ in _sites(ast.parse(source)))
    out = []
    for index in range(count):
        tree = ast.parse(source)
        node, kind, arg = list(_sites(tree))[index]
        line = getattr(node, "lineno", 0)
        before, after = _apply(node, kind, arg)
        if kind.startswith("delete:"):
            line = getattr(before, "lineno", line)
        ast.fix_missing_locations(tree)
        text = ast.unparse(tree)
        if text != reference:
            out.append(Mutant(index, kind.split(":")[0], line, _short(before), _short(after), text + "\n"))
    return out


def _run(cmd: list[str], timeout: float) -> tuple[str, float]:
    """('killed' | 'survived' | 'timeout', seconds) of one test run."""
    with tempfile.TemporaryDirectory(prefix="mutate-pyc-") as pyc:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": pyc}
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout", time.monotonic() - start
        except BaseException:  # Ctrl-C: stop the tests too, then restore
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return ("survived" if code == 0 else "killed"), time.monotonic() - start


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--sample", type=int, default=40, help="at most this many mutants per file (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("--list", action="store_true", help="list the sampled mutants and exit")
    p.add_argument("--tests", default=" ".join(TESTS), help="the test command (split on spaces)")
    args = p.parse_args(argv)
    cmd = args.tests.split()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    plans = []
    for file in args.files:
        path = (ROOT / file).resolve()
        rel = path.relative_to(ROOT)
        if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", str(rel)], cwd=ROOT).returncode != 0:
            print(f"{rel} has uncommitted changes (a mutant left by a killed run?): commit them or "
                  f"`git checkout -- {rel}` first", file=sys.stderr)
            return 1
        found = mutants(path.read_text(encoding="utf-8"))
        chosen = found if not args.sample or len(found) <= args.sample else sorted(
            random.Random(f"{args.seed}:{rel}").sample(found, args.sample), key=lambda m: m.index)
        plans.append((path, rel, found, chosen))
        print(f"{rel}: {len(found)} mutants, {len(chosen)} sampled (seed {args.seed})")
    if args.list:
        for _, rel, _, chosen in plans:
            for m in chosen:
                print(f"  {rel}:{m.line} #{m.index} {m.kind}: {m.before}  ->  {m.after}")
        return 0

    baseline, seconds = _run(cmd, timeout=3600)
    if baseline != "survived":
        print("the tests fail on the unmutated code: nothing to measure", file=sys.stderr)
        return 1
    timeout = args.timeout or max(60.0, 3 * seconds)
    print(f"unmutated run: {seconds:.1f} s; timeout {timeout:.0f} s; tests: {' '.join(cmd)}", flush=True)

    totals = []
    for path, rel, found, chosen in plans:
        original = path.read_bytes()
        counts = {"killed": 0, "survived": 0, "timeout": 0}
        survivors = []
        try:
            for n, m in enumerate(chosen, 1):
                path.write_text(m.source, encoding="utf-8")
                try:
                    outcome, took = _run(cmd, timeout)
                finally:
                    path.write_bytes(original)
                counts[outcome] += 1
                if outcome == "survived":
                    survivors.append(m)
                print(f"  [{n}/{len(chosen)}] {outcome:8} {took:5.1f}s {rel}:{m.line} {m.kind}: "
                      f"{m.before}  ->  {m.after}", flush=True)
        finally:
            path.write_bytes(original)
        done = sum(counts.values())
        score = (counts["killed"] + counts["timeout"]) / done if done else 0.0
        totals.append((rel, len(found), done, counts, score, survivors))

    print("\nfile | mutants | run | killed | timeout | survived | score")
    for rel, found_n, done, counts, score, _ in totals:
        print(f"{rel} | {found_n} | {done} | {counts['killed']} | {counts['timeout']} | {counts['survived']} | "
              f"{score:.0%}")
    for rel, *_, survivors in totals:
        for m in survivors:
            print(f"survived: {rel}:{m.line} #{m.index} {m.kind}: {m.before}  ->  {m.after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

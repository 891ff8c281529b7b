"""The `charter` command: argument parsing, output format choice and exit codes; no logic.

Imports of the stages happen inside each command, so `charter --version` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler import __version__

if TYPE_CHECKING:
    from collections.abc import Iterator

    from compiler.atomic import Staged

# Exit codes, one table for every command (docs/diagnostics.md and docs/runtime.md list them).
EXIT_OK = 0  # clean
EXIT_SPEC_ERRORS = 1  # the specs have errors (or warnings under --strict); a pipeline step failed
EXIT_USAGE = 2  # bad arguments, missing paths, environment problems (limits, disk, database), internal errors
EXIT_TOO_FEW_ROWS = 3  # `monitor`: no alert, but too few rows to compare some feature (never a silent `ok`)


class UsageError(Exception):
    """A problem with how charter was called, not with the specs: exit 2."""


# What the `run` extra installs, by import name: `charter validate`, `compile`, `plan` and the
# other core commands never import them.
RUNTIME_MODULES = ("polars", "pyarrow", "pandas", "numpy", "sklearn", "skops")
RUN_EXTRA = "pip install 'charter[run]'"


def _needs_runtime(command: str) -> None:
    """Exit 2 with the install line when the runtime libraries are missing (a core install)."""
    from importlib.util import find_spec

    def absent(module: str) -> bool:
        try:
            return find_spec(module) is None
        except (ImportError, ValueError):  # ValueError: blocked in sys.modules, as tests do
            return True

    missing = [m for m in RUNTIME_MODULES if absent(m)]
    if missing:
        raise UsageError(f"`charter {command}` runs pipelines and needs the runtime libraries, which this "
                         f"installation lacks ({', '.join(missing)}): {RUN_EXTRA}")


STORE_HELP = ("artifact store: a folder or an fsspec URL (default: $CHARTER_STORE, else `artifact_store` of "
              "charter.yaml; the same order for every command)")


SERVE_EXAMPLES = """\
examples (docs/serving.md has the answers of a real run):
  charter serve churn --port 8080
  curl -s localhost:8080/v2/health/ready
  curl -s localhost:8080/v1/models/churn:predict -d '{"instances": [{"tenure_months": 0, "contract": "monthly",
    "monthly_charges": 70.5, "total_charges": 70.5, "support_calls": 2, "region": "north"}]}'
  curl -s localhost:8080/v1/models/churn:predict -d '{"instances": [[0, "monthly", 70.5, 70.5, 2, "north"]]}'
  curl -s localhost:8080/v2/models/churn/infer -H 'content-type: application/json' -d '{"inputs": [
    {"name": "tenure_months", "shape": [1], "datatype": "INT64", "data": [0]},
    {"name": "contract", "shape": [1], "datatype": "BYTES", "data": ["monthly"]}, ...]}'
  curl -s localhost:8080/v2/models/churn       # inputs, outputs and their datatypes
  curl -s localhost:8080/metrics               # Prometheus: charter_* series
"""


class _Unbuilt:
    """A command's parser that is not built, since this run names another command.

    Every argparse parser costs locale lookups (gettext searches the disk for each of its
    messages): building the ~20 that one run does not use was a tenth of a warm `charter plan`.
    """

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self


class _Commands:
    """`add_subparsers()`'s action, building the parser of `only` and none of the others."""

    def __init__(self, action, only: str) -> None:
        self._action, self._only = action, only

    def add_parser(self, name: str, **kwargs):
        return self._action.add_parser(name, **kwargs) if name == self._only else _Unbuilt()


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only` (a command's name), that command's parser alone."""
    parser = argparse.ArgumentParser(
        prog="charter", description="Validate, compile and reconcile declarative ML system specs."
    )
    parser.add_argument("--version", action="version", version=f"charter {__version__}")
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND")
    if only is not None:
        sub = _Commands(sub, only)

    v = sub.add_parser("validate", help="check specs and print diagnostics")
    v.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the project's spec folders)")
    v.add_argument("--format", default="auto", choices=("auto", "text", "short", "json", "github", "sarif"),
                   help="output format (auto: github under GitHub Actions, else text)")
    v.add_argument("--strict", action="store_true", help="warnings fail the run too")
    v.add_argument("--color", default="auto", choices=("auto", "always", "never"), help="colour the text format")
    v.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    s = sub.add_parser("schema", help="write the JSON Schemas of the spec language")
    s.add_argument("--out", type=Path, default=Path("schemas"), help="output folder (default: schemas/)")
    s.add_argument("--check", action="store_true", help="write nothing; exit 1 when the folder is stale")

    c = sub.add_parser("compile", help="compile the specs into target files")
    c.add_argument("--target", action="extend", nargs="+", default=None, metavar="NAME",
                   help="targets to render: `--target a b` or `--target a --target b` "
                        "(default: ir and the `targets` of charter.yaml); `--target site` alone builds the "
                        "stakeholder site into .charter/site/ (or --out)")
    c.add_argument("--out", default=None,
                   help="write (or with --check, compare) the files under this folder instead of the repository "
                        "(the files' contents do not change); `-` for stdout")
    c.add_argument("--check", action="store_true", help="write nothing; exit 1 when generated files are stale")
    c.add_argument("--store", default=None,
                   help="with --target site: the artifact store whose last runs and monitor reports the site shows "
                        "(default: as `charter run` finds it)")
    c.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    r = sub.add_parser("run", help="run a model's pipeline locally (cached by content hash)")
    r.add_argument("model", nargs="?", default=None, help="name of the Model to run")
    r.add_argument("--all", action="store_true", help="run every Model (cached steps are skipped)")
    r.add_argument("--affected", action="store_true",
                   help="run the Models whose pipelines changed since --base (as `charter plan` computes)")
    r.add_argument("--base", default=None, help="with --affected: the ref to compare with (e.g. the previous commit)")
    r.add_argument("--step", default=None,
                   help="run only this step; its inputs must be in the store (a missing one fails, exit 1), and "
                        "it stores its outputs for the next step")
    r.add_argument("--with-upstream", action="store_true",
                   help="with --step: first compute the earlier steps whose outputs the store lacks")
    r.add_argument("--force", action="store_true", help="re-run steps even when their inputs are unchanged")
    r.add_argument("--store", default=None, help=STORE_HELP)
    r.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    r.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    k = sub.add_parser("check-data", help="ingest, clean and check the data of a source or suite")
    k.add_argument("source", help="name of a DataSource or ValidationSuite")
    k.add_argument("--force", action="store_true", help="re-run even when inputs are unchanged")
    k.add_argument("--store", default=None, help=STORE_HELP)
    k.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    k.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    mo = sub.add_parser("monitor", help="compare a new batch of data with the promoted model's training profile")
    mo.add_argument("model", help="name of the Model")
    batch = mo.add_mutually_exclusive_group(required=True)
    batch.add_argument("--data", help="a .csv/.parquet/.jsonl file, or the name of a DataSource")
    batch.add_argument("--predictions", action="store_true",
                       help="what the served model logged (its RolloutPolicy's `prediction_log`), from the store")
    mo.add_argument("--since", default=None, metavar="DURATION",
                    help="with --predictions: only rows logged in this last span (`24h`, `7d`)")
    mo.add_argument("--env", default="production", help="with --predictions: the environment (default: production)")
    mo.add_argument("--version", default=None, help="with --predictions: only rows this version served")
    mo.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    mo.add_argument("--report", type=Path, default=None, help="also write the JSON report to this file")
    mo.add_argument("--store", default=None, help=STORE_HELP)
    mo.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    sv = sub.add_parser("serve", help="serve a promoted model over HTTP: KServe V1 and the Open Inference Protocol",
                        description="Serve a model package with KServe's Python model server and Charter's "
                                    "predictor: the input contract, the guardrails and the metrics of the evaluate "
                                    "step. Needs the serve extra: pip install 'charter[serve]'.",
                        epilog=SERVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sv.add_argument("model", help="name of the Model")
    sv.add_argument("--version", default=None, help="the version to serve (default: the one charter.lock promotes)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 in a pod)")
    sv.add_argument("--port", type=int, default=8080, help="HTTP port (default: 8080, as KServe)")
    sv.add_argument("--store", default=None, help=STORE_HELP)
    sv.add_argument("--model-dir", type=Path, default=None,
                    help="serve the package in this folder instead (where KServe's storage initializer puts "
                         "storageUri: /mnt/models); needs no repository")
    sv.add_argument("--environment", default=None,
                    help="label of the metrics and the prediction log (default: $CHARTER_ENVIRONMENT, else local)")
    sv.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    pl = sub.add_parser("plan", help="judge a change against the base ref: diff, impact, risk, approvals")
    pl.add_argument("--base", default=None, help="base ref (default: origin/<base_branch>, else <base_branch>)")
    pl.add_argument("--head", default=None, help="head ref (default: the working tree)")
    pl.add_argument("--format", default="text", choices=("text", "markdown", "json"), help="output format")
    pl.add_argument("--approved-by", default=None, help="comma-separated handles that approved (@a,@org/team)")
    pl.add_argument("--reviews", type=Path, default=None,
                    help="JSON of the pull request's reviews (GitHub API) or a list of handles")
    pl.add_argument("--out", type=Path, default=None, help="also write the plan here (JSON, whatever --format)")
    pl.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    df = sub.add_parser("diff", help="the semantic diff of the specs between two refs")
    df.add_argument("ref1", help="the older ref")
    df.add_argument("ref2", nargs="?", default=None, help="the newer ref (default: the working tree)")
    df.add_argument("name", nargs="?", default=None, help="only this resource (name or Kind/name)")
    df.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    df.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    hi = sub.add_parser("history", help="every commit that changed a resource, with its semantic change")
    hi.add_argument("name", help="a resource name or Kind/name")
    hi.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    hi.add_argument("--limit", type=int, default=None, help="at most this many commits")
    hi.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    cl = sub.add_parser("changelog", help="a changelog of the ML system from git history")
    cl.add_argument("--since", default=None, help="start after this ref (default: the whole history)")
    cl.add_argument("--format", default="markdown", choices=("markdown", "json"), help="output format")
    cl.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    rb = sub.add_parser("rollback", help="re-render a model's deployment configs from its specs at a ref")
    rb.add_argument("model", help="name of the Model")
    rb.add_argument("--to", required=True, help="the ref whose specs and lock entry to restore")
    rb.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    fb = sub.add_parser("fallback", help="roll a model back to its last good version when a monitor report "
                                         "says its gates failed",
                        description="Reads a report of `charter monitor MODEL --report FILE`. When the served "
                                    "version failed its gates, rolls back to the newest earlier version of "
                                    "charter.lock's history that the artifact store holds and that has not failed "
                                    "a monitor itself, as `charter rollback` does, and records the failure in the "
                                    "store. Otherwise changes nothing (docs/delivery.md).")
    fb.add_argument("model", help="name of the Model")
    fb.add_argument("--report", required=True, help="the monitor's JSON report")
    fb.add_argument("--description", default=None,
                    help="also write the rollback's pull request description (Markdown) to this file")
    fb.add_argument("--store", default=None, help=STORE_HELP)
    fb.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    st = sub.add_parser("status", help="specs not compiled, generated files stale, pipelines to re-run",
                        description="Exit 0 when everything is current, 2 when something is to do. With `--data`, "
                                    "only whether the training data of the models changed since the run recorded "
                                    "in charter.lock (a file's bytes, a database source's watermark): exit 2 when "
                                    "one did, 1 when a source cannot be read (docs/maturity.md).")
    st.add_argument("--data", nargs="*", metavar="MODEL", default=None,
                    help="only the data of these Models (none named: every Model with `retrain.on_data_change`)")
    st.add_argument("--format", default="text", choices=("text", "json"), help="output format")
    st.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    ma = sub.add_parser("maturity", help="the MLOps maturity level of each model, its evidence and the next step",
                        description="For each Model, the level of Google's MLOps maturity model it reaches (0 "
                                    "manual, 1 automated training pipeline, 2 CI/CD of the pipeline), each "
                                    "criterion met or not with the spec or generated file that shows it, and the "
                                    "spec changes that reach the next level (docs/maturity.md). Reads only.")
    ma.add_argument("model", nargs="?", default=None, help="only this Model (default: every one)")
    ma.add_argument("--format", default="text", choices=("text", "markdown", "json"), help="output format")
    ma.add_argument("--root", type=Path, default=None, help="repository root (default: found from the cwd)")

    e = sub.add_parser("explain", help="print the long explanation of a diagnostic code")
    e.add_argument("code", help="a code such as X301, or its name such as unknown-reference")

    i = sub.add_parser("init", help="scaffold a new Charter repository")
    i.add_argument("dir", type=Path, help="folder to create or fill (must hold no Charter files yet)")
    return parser


# For these, exit 2 means "changes" (plan) or "something to do" (status): their usage and
# internal errors exit 1 instead, argparse's included.
GITOPS_COMMANDS = ("plan", "diff", "history", "changelog", "rollback", "fallback", "status")


def main(argv: list[str] | None = None) -> int:
    if (cache := sys.modules.get("compiler.ir.cache")) is not None:
        cache.forget()  # an earlier command in this process saw other files
    words = sys.argv[1:] if argv is None else argv
    # A run that starts with a command's name needs only that command's parser; anything else
    # (`--help`, `--version`, a typo) gets the whole one, which lists and suggests the commands.
    parser = _parser(words[0] if words and words[0] in COMMANDS else None)
    gitops = next((w for w in words if not w.startswith("-")), None) in GITOPS_COMMANDS
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if gitops and exc.code == EXIT_USAGE:
            return EXIT_SPEC_ERRORS
        raise
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    usage = EXIT_SPEC_ERRORS if gitops else EXIT_USAGE
    try:
        return _command(args)
    except UsageError as exc:
        print(f"charter: error: {exc}", file=sys.stderr)
        return usage
    except KeyboardInterrupt:
        print("charter: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in charter, never in the specs: say so, briefly
        if os.environ.get("CHARTER_DEBUG"):
            raise
        from compiler.atomic import os_problem

        problem = os_problem(exc, doing="access")
        if problem is not None:  # the machine refused (disk full, permission, read-only): not a bug
            print(f"charter: error: {problem[0]}\n  help: {problem[1]}", file=sys.stderr)
            return usage
        print(f"charter: internal error: {type(exc).__name__}: {exc}\n"
              "(set CHARTER_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        return usage


def _command(args: argparse.Namespace) -> int:
    """Run one command; the spec bytes it read for its tree's hash are not kept past it."""
    try:
        return COMMANDS[args.command](args)
    finally:
        if (load := sys.modules.get("compiler.load")) is not None:
            load.forget_read()  # a later caller in this process (an editor, a test) reads the files again


def _no_pydantic_plugins() -> None:
    """The `charter` program loads no pydantic plugins: its spec models are its own business.

    pydantic looks for plugins (entry points of the `pydantic` group, such as an observability
    library's instrumentation) the first time it builds a validator, and its loader imports
    `importlib.metadata` to scan every installed distribution: 36-48 ms of a one-spec compile,
    to find nothing a user asked to see in Charter. `PYDANTIC_DISABLE_PLUGINS` would skip the scan
    but not the import, so the loader's module is given its one function here, returning no plugin.
    Only for the program (`entry`), never for `import compiler` in someone else's application.
    `tests/acceptance/test_exit.py` pins that pydantic asks its loader for nothing else.
    """
    import types

    if "pydantic.plugin._loader" in sys.modules:
        return  # already loaded (a plugin asked for it first): leave pydantic as it is
    loader = types.ModuleType("pydantic.plugin._loader", "No pydantic plugins in the `charter` program.")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules["pydantic.plugin._loader"] = loader


def entry() -> None:
    """The `charter` program: `main()`, then an exit that skips tearing the interpreter down.

    After a command has returned, Python would free every object and module one by one before
    the process ends: 0.55-0.65 s after `charter run` on a million rows (its frames, scikit-learn,
    SciPy and pandas), for memory the kernel takes back at once. So once the output is flushed
    and the `atexit` work has run (a forked half reaped, temporary folders removed, joblib's
    workers stopped, logging flushed), the process ends with `os._exit`, as mypy's does. Not
    while a non-daemon thread runs: Python would wait for it, so this does too.
    """
    import atexit
    import threading

    _no_pydantic_plugins()
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`charter plan | head`): as `main` does
        pass
    except OSError as exc:  # the output is lost (disk full): never report success, say it as `main` does
        from compiler.atomic import os_problem

        problem = os_problem(exc, where="the standard output")
        message, hint = problem or (f"cannot write the standard output: {exc.strerror or exc}", None)
        print(f"charter: error: {message}" + (f"\n  help: {hint}" if hint else ""), file=sys.stderr)
        code = code or EXIT_USAGE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    atexit._run_exitfuncs()
    os._exit(code)


def _validate(args: argparse.Namespace) -> int:
    import gc

    # A short-lived process that allocates many small containers: the cyclic collector would
    # only re-scan live trees (about a third of the run on 1,000 specs) and free nothing.
    gc.disable()
    from compiler.config import find_root

    root = (args.root or find_root(Path.cwd())).resolve()
    if not root.is_dir():
        raise UsageError(f"root folder not found: {root}")
    if not args.paths:
        from compiler.load.memo import prefetch

        prefetch(root)  # many files to parse: a child parses most of them while pydantic is imported
    from compiler.diagnostics.format import FORMATTERS
    from compiler.driver import validate_tree

    result = validate_tree(root, args.paths)
    if result.missing:
        raise UsageError("path not found: " + ", ".join(result.missing))
    fmt = args.format
    if fmt == "auto":
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    failed = result.errors > 0 or (args.strict and result.warnings > 0)
    status = "fail" if failed else "ok"
    if fmt == "text":
        colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                            and not os.environ.get("NO_COLOR"))
        out = FORMATTERS["text"](result.diagnostics, result.sources, colour=colour, redactions=result.redactions)
        out += _summary(result)
    else:
        out = FORMATTERS[fmt](result.diagnostics, status=status)
    sys.stdout.write(out)
    sys.stdout.flush()
    return EXIT_SPEC_ERRORS if failed else EXIT_OK


def _summary(result) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    specs = plural(len(result.specset), "spec")
    if not result.diagnostics:
        return f"ok: {specs} in {plural(result.files, 'file')}, no problems\n"
    return f"{plural(result.errors, 'error')}, {plural(result.warnings, 'warning')} in {plural(result.files, 'file')}\n"


def _schema(args: argparse.Namespace) -> int:
    from compiler.spec.jsonschema import check_schemas, write_schemas

    if args.check:
        stale = check_schemas(args.out)
        for name in stale:
            print(f"{args.out / name}: stale or missing", file=sys.stderr)
        if stale:
            print("run `charter schema --out schemas/` to regenerate", file=sys.stderr)
        return EXIT_SPEC_ERRORS if stale else EXIT_OK
    for path in write_schemas(args.out):
        print(path)
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from compiler.diagnostics.codes import explanation, lookup

    try:
        entry = lookup(args.code)
    except KeyError:
        from compiler.diagnostics.codes import CODES
        from compiler.diagnostics.suggest import did_you_mean

        close = did_you_mean(args.code.upper(), CODES)
        raise UsageError(f"unknown code `{args.code}`" + (f"; did you mean {close[0]}?" if close else "")) from None
    sys.stdout.write(f"{entry.code} ({entry.name}, {entry.severity}): {entry.summary}\n\n")
    sys.stdout.write(explanation(entry.code))
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from compiler.scaffold import ScaffoldError, scaffold

    try:
        for path in scaffold(args.dir):
            print(f"created {path}")
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    import shlex

    folder = shlex.quote(str(args.dir))
    if not (args.dir / ".git").exists():
        print(f"next: cd {folder} && git init -b main && git add -A && git commit -m 'Start with Charter'")
        print("      charter validate     (plan, diff and history read the git history)")
    else:
        print(f"next: cd {folder} && charter validate")
    return EXIT_OK


def _compile(args: argparse.Namespace) -> int:
    import gc

    if args.target and "site" in args.target:
        return _compile_site(args)
    # No cyclic garbage collection in a compile: it builds hundreds of thousands of objects that
    # stay alive to the end (documents, models, the IR, rendered text), so each generational
    # collection walks them for nothing (a fifth of the time); reference counting frees the rest.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_files(args)
    finally:
        if enabled:
            gc.enable()


def _compile_files(args: argparse.Namespace) -> int:
    from compiler.config import find_root
    from compiler.render.memo import RenderMemo

    root = (args.root or find_root(Path.cwd())).resolve()
    memo = RenderMemo.load(root)
    key = RenderMemo.bundle_key(args.target, _lock_versions(root))
    if args.out is None and (code := _unchanged(args, root, memo, key)) is not None:
        return code
    # the caches' writes (the parse memo, the IR cache): beside the render, by a second process when there is one
    later: list = []
    try:
        root, graph = _graph_or_exit(args, later)
        return _render_targets(args, root, graph, memo, key, later)
    finally:
        for job in later:  # not handed to the second process: here
            job()


def _render_targets(args: argparse.Namespace, root: Path, graph, memo, key: str, later: list) -> int:
    from compiler.render import TARGETS

    wanted = list(dict.fromkeys(args.target or ["ir", *graph.project.get("targets", [])]))
    unavailable = [t for t in wanted if t not in TARGETS]
    if args.target and unavailable:
        raise UsageError(f"target(s) not available in this version: {', '.join(unavailable)}; "
                         f"available: {', '.join(TARGETS)}, and site (on its own)")
    if unavailable:
        print(f"note: charter.yaml lists targets this version cannot render yet: {', '.join(unavailable)}",
              file=sys.stderr)
    return _write_targets(args, root, graph, [t for t in wanted if t in TARGETS], memo, key, later)


SITE_DIR = Path(".charter") / "site"


def _compile_site(args: argparse.Namespace) -> int:
    """`--target site`: the stakeholder site, built on its own into `.charter/site/` (or --out).

    Not a file of the committed output: it reads the lock's git history and the artifact store
    besides the specs, so `charter compile --check` in a fresh clone could never agree with it.
    """
    from importlib.util import find_spec

    if set(args.target) != {"site"}:
        raise UsageError("`--target site` builds the site on its own; compile the other targets in another run")
    if find_spec("jinja2") is None:
        raise UsageError("the site's pages are Jinja2 templates, which this installation lacks: "
                         "pip install 'charter[site]'")
    if args.out == "-":
        raise UsageError("the site is a folder of files: name one with --out DIR (default: .charter/site)")
    root, graph = _graph_or_exit(args)
    dest = Path(args.out).resolve() if args.out else root / SITE_DIR
    if dest == root or dest in root.parents:
        raise UsageError(f"--out {args.out} is the repository itself or above it; name a folder of its own")
    from compiler.atomic import os_problem, write_set
    from compiler.gitops.site import collect
    from compiler.render.site import render_site

    files = {dest / path: text for path, text in render_site(graph, collect(root, graph, args.store)).items()}

    def shown(path: Path) -> str:
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    stale = [path for path, text in files.items() if not _same(path, text, None)]
    orphans = sorted(shown(p) for p in dest.rglob("*") if p.is_file() and p not in files) if dest.is_dir() else []
    if args.check:
        for path in stale:
            print(f"{shown(path)}: {'missing' if not path.is_file() else 'stale or edited by hand'}", file=sys.stderr)
        for name in orphans:
            print(f"{name}: no longer generated; remove it", file=sys.stderr)
        if stale or orphans:
            print("run `charter compile --target site`", file=sys.stderr)
            return EXIT_SPEC_ERRORS
        print(f"ok: {len(files)} file(s) of the site up to date")
        return EXIT_OK
    try:
        write_set({path: files[path] for path in stale})
    except OSError as exc:
        problem = os_problem(exc)
        if problem is None:
            raise
        raise UsageError(f"{problem[0]}; no file of the site was changed\n  help: {problem[1]}") from None
    for name in orphans:
        print(f"note: {name} is no longer generated; remove it", file=sys.stderr)
    print(f"ok: {len(stale)} of {len(files)} file(s) of the site written; open {shown(dest / 'index.html')}")
    return EXIT_OK


def _unchanged(args: argparse.Namespace, root: Path, memo, key: str) -> int | None:
    """EXIT_OK when the last compile of this very tree left every file as it wrote it; None to compile.

    No IR is loaded and nothing rendered: the spec tree's hash, the digests the memo remembers
    and the files on disk decide. A file edited, removed or added by hand, or any spec changed,
    and the full compile below runs and reports.
    """
    import os

    from compiler.ir.cache import tree_key
    from compiler.render.memo import digest

    spec_dirs = memo.spec_dirs(key)
    if spec_dirs is None:
        return None
    remembered = memo.bundle(key, tree_key(root, spec_dirs))
    if remembered is None:
        return None
    _, files = remembered
    base = os.fspath(root)  # paths joined as strings: no Path object per file (1,170 on 1,000 specs)
    for path, expected in files.items():
        full = os.path.join(base, path)
        if memo.unchanged_on_disk(key, path, expected, full):
            continue
        try:
            with open(full, "rb") as fh:
                if digest(fh.read()) != expected:
                    return None
        except OSError:
            return None
    if not args.target:  # an orphan under the output folder is reported by the full compile
        output = memo.output(key)
        for folder, _, names in os.walk(os.path.join(base, output)):
            relative = Path(folder).relative_to(root).as_posix()
            for name in names:
                if f"{relative}/{name}" not in files:
                    return None
    for note in memo.notes(key):
        print(note, file=sys.stderr)
    print(f"ok: {len(files)} generated file(s) up to date")
    return EXIT_OK


def _write_targets(args: argparse.Namespace, root: Path, graph, targets: list[str], memo=None,
                   key: str | None = None, later: list | None = None) -> int:
    from compiler.atomic import discard, os_problem, switch
    from compiler.render import render_graph
    from compiler.render.memo import text_of

    # Files are always rendered for the project's own output folder, so the paths inside them
    # (CI path filters, GitLab's include, kustomizations) are the repository's whatever --out
    # says; --out only moves where they are written (or compared, with --check).
    output = graph.project.get("output", "generated").rstrip("/")
    versions = _lock_versions(root)
    if args.out == "-":
        for value in render_graph(graph, targets, output, versions, memo).files.values():
            sys.stdout.write(text_of(value))
        return EXIT_OK
    if args.out:
        dest = Path(args.out).resolve()
        if dest == root or dest in root.parents:
            raise UsageError(f"--out {args.out} is the repository itself or above it; name a folder of its own")

        def locate(path: str) -> Path:
            return dest / _relocated(path, output)

        scanned = dest  # everything under DIR is Charter's
    else:
        def locate(path: str) -> Path:
            return root / path

        scanned = root / output

    def shown(path: Path) -> str:
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    try:
        # the repository's own files, as the last compile recorded them: those whose stat is unchanged are not read
        base = os.fspath(root)
        known = None if args.out is not None or memo is None or key is None else \
            (lambda path: memo.on_disk(key, path, os.path.join(base, path)))  # as `locate`, without a Path
        done = _render_and_stage(graph, targets, output, versions, memo, locate, stage=not args.check,
                                 later=later if later is not None else [], known=known)
    except OSError as exc:
        problem = os_problem(exc)
        if problem is None:
            raise
        message, hint = problem
        message = message.replace(f"`{root}/", "`")
        raise UsageError(f"{message}; no generated file was changed\n  help: {hint}") from None
    stale = [locate(path) for path in done.stale]
    # Orphans only when every target was rendered: with --target, the other targets' files
    # are not in the bundle, and are not orphans.
    files = {os.fspath(locate(path)) for path in done.digests} | {os.fspath(tmp) for tmp, _ in done.staged}
    orphans = sorted(shown(Path(p)) for p in _files_under(scanned) if p not in files) \
        if scanned.is_dir() and not args.target else []
    if args.check:
        for path in stale:
            state = "missing" if not path.is_file() else "stale or edited by hand"
            print(f"{shown(path)}: {state}", file=sys.stderr)
        for name in orphans:
            print(f"{name}: no longer generated; remove it", file=sys.stderr)
        if stale or orphans:
            print("run `charter compile` and commit the result", file=sys.stderr)
            _save_memo(memo, root)
            return EXIT_SPEC_ERRORS
        _remember(memo, root, key, graph, args, done.digests)
        print(f"ok: {len(done.digests)} generated file(s) up to date")
        return EXIT_OK
    try:
        switch(done.staged)  # every file was written aside first; renames only from here
    except BaseException:
        discard(done.staged)
        raise
    for path in stale:
        print(f"wrote {shown(path)}")
    for name in orphans:
        print(f"note: {name} is no longer generated; remove it", file=sys.stderr)
    if not orphans:
        _remember(memo, root, key, graph, args, done.digests)
    else:
        _save_memo(memo, root)
    if not stale:
        print(f"ok: {len(done.digests)} generated file(s) up to date")
    return EXIT_OK


def _files_under(folder: Path) -> Iterator[str]:
    """The files below `folder`, as `rglob("*")` and `is_file()` find them, by `os.scandir`.

    The directory entries say what each is, so no file is stat'ed and no Path is made for it:
    1.3 ms for the 1,166 files of a 1,000-spec output, where the Paths took 15 ms. Symbolic links
    to folders are not followed (no cycle can hold a compile); unreadable folders are skipped.
    """
    stack = [os.fspath(folder)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file():
                        yield entry.path
                except OSError:
                    continue


@dataclass(frozen=True, slots=True)
class _Rendered:
    """Targets rendered and compared with the disk: every file's digest, the stale ones, those written aside."""

    digests: dict[str, str]  # repo-relative path -> SHA-256, sorted by path
    stale: list[str]  # repo-relative paths whose file on disk differs, sorted
    staged: Staged  # (temp file, destination) of the stale files, when staging


# Entries to render (a model's files of one target, or a whole-graph file set) above which a
# compile renders on two cores: about 0.2 s of work, where a fork and the result's trip cost
# about 0.02 s. An edit of one model renders a dozen.
PARALLEL_ENTRIES = 150
# Cost of rendering and writing each target's files on a large tree (1,000 specs), in ms measured
# on one core; what the split balances. Run side by side, the halves take 1.3 (this process) and
# 1.5 times (the child, which also copies each page of the parent's memory that it touches:
# reference counts are writes) as long as alone.
_TARGET_COST = {"kubernetes": 25, "argo": 11, "kubeflow": 10, "airflow": 8, "docs": 5, "ir": 5, "github": 3,
                "gitlab": 2, "codeowners": 2, "runner": 2}
_CHILD_SLOWDOWN = 1.15
_IR_CACHE_COST = 4  # `ir.cache.store`: the graph as JSON, about 9 MB


def _render_and_stage(graph, targets: list[str], output: str, versions: dict[str, str], memo, locate,
                      *, stage: bool, later: list, known=None) -> _Rendered:
    """Render `targets`, compare each file with the disk, and write the stale ones aside (`stage`).

    A large render is split over two processes (`compiler/fork.py`), each rendering and writing
    aside the files of some targets; the files, and the memo's entries, are the same either way.
    The jobs in `later` (caches to write, of no result) then run in the second process, and
    leave the list; otherwise they stay for the caller.
    """
    from compiler import fork
    from compiler.atomic import discard

    def half(names: list[str]) -> _Rendered:
        return _render_half(graph, names, output, versions, memo, locate, stage, known)

    if memo is None or len(targets) < 2 or not fork.available() \
            or memo.pending(targets, graph, output) < PARALLEL_ENTRIES:
        if not later or not fork.available():
            return half(targets)
        # A small render (an edit): the caches are written by a child meanwhile, not after it
        jobs = list(later)
        later.clear()

        def write_caches() -> None:
            for job in jobs:
                job()

        caches = fork.start(write_caches)
        try:
            done = half(targets)
        except BaseException:
            caches.join()
            raise
        try:
            if caches.join().error is not None:  # the child failed or died: the caches are written here
                write_caches()
        except BaseException:  # a bug in a cache, or an interrupt: nothing left aside
            discard(done.staged)
            raise
        return done
    mine, theirs = _split(targets, bool(later))
    jobs = list(later)

    def second() -> tuple[_Rendered, dict]:
        done = half(theirs), memo.delta()
        for job in jobs:
            job()
        return done

    later.clear()
    written: Staged = []  # this half's files aside, should the wait for the other be interrupted

    def first() -> _Rendered:
        done = half(mine)
        written.extend(done.staged)
        return done

    try:
        here, there = fork.both(first, second)
    except BaseException:
        discard(written)
        raise
    if here.error is not None or there.error is not None:  # undo the other half's files written aside
        if here.value is not None:
            discard(here.value.staged)
        if there.value is not None:
            discard(there.value[0].staged)
        here.get()
        there.get()
    a, (b, delta) = here.get(), there.get()
    memo.absorb(delta)
    clash = set(a.digests) & set(b.digests)
    if clash:  # as Bundle.merged: two targets writing one file is a bug in a target
        discard(a.staged + b.staged)
        raise ValueError(f"targets write the same file: {sorted(clash)}")
    return _Rendered(dict(sorted({**a.digests, **b.digests}.items())), sorted(a.stale + b.stale),
                     a.staged + b.staged)


def _split(targets: list[str], extra: bool = False) -> tuple[list[str], list[str]]:
    """Targets for this process and for the child, of about equal time, each group in the given order.

    The costliest first, each to the side where it would end sooner; `extra`: the child also
    writes the IR cache.
    """
    groups: tuple[list[str], list[str]] = ([], [])
    loads = [0.0, _IR_CACHE_COST * _CHILD_SLOWDOWN if extra else 0.0]
    for name in sorted(targets, key=lambda t: (-_TARGET_COST.get(t, 2), t)):
        cost = _TARGET_COST.get(name, 2)
        side = 0 if loads[0] + cost <= loads[1] + cost * _CHILD_SLOWDOWN else 1
        groups[side].append(name)
        loads[side] += cost * (_CHILD_SLOWDOWN if side else 1.0)
    order = {name: i for i, name in enumerate(targets)}
    return sorted(groups[0], key=order.__getitem__), sorted(groups[1], key=order.__getitem__)


def _render_half(graph, targets: list[str], output: str, versions: dict[str, str], memo, locate,
                 stage: bool, known=None) -> _Rendered:
    """`known(path)`: the digest the file surely holds, without reading it (the memo's stat), else None."""
    from compiler.atomic import stage as write_aside
    from compiler.render import render_graph
    from compiler.render.memo import digest_of, text_of

    bundle = render_graph(graph, targets, output, versions, memo)
    digests = {path: digest_of(value) for path, value in bundle.files.items()}

    def fresh(path: str, value) -> bool:
        held = known(path) if known is not None else None
        return held == digests[path] if held is not None else _same(locate(path), value, digest_of)

    stale = [path for path, value in bundle.files.items() if not fresh(path, value)]
    staged = write_aside({locate(path): text_of(bundle.files[path]) for path in stale}) if stage else []
    return _Rendered(digests, stale, staged)


def _same(path: Path, value, digest_of) -> bool:
    """Whether the file on disk holds exactly what was rendered (compared by digest when the memo knows it)."""
    from compiler.render.memo import digest

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    return data == value.encode("utf-8") if isinstance(value, str) else digest(data) == digest_of(value)


def _save_memo(memo, root: Path) -> None:
    if memo is not None:
        memo.save(root)


def _remember(memo, root: Path, key: str | None, graph, args: argparse.Namespace, digests: dict[str, str]) -> None:
    """The compile the next one may skip: only for the repository's own output folder and a clean tree."""
    if memo is None or key is None or args.out is not None:
        return _save_memo(memo, root)
    from compiler.ir.cache import tree_key
    from compiler.render import TARGETS

    spec_dirs = list(graph.project.get("specs", ["specs"]))
    unavailable = [t for t in graph.project.get("targets", []) if t not in TARGETS] if not args.target else []
    notes = [f"note: charter.yaml lists targets this version cannot render yet: {', '.join(unavailable)}"] \
        if unavailable else []
    memo.remember(key, tree_key(root, spec_dirs), spec_dirs, graph.project.get("output", "generated").rstrip("/"),
                  notes, digests, root)
    memo.save(root)
    return None


def _relocated(path: str, output: str) -> str:
    """Where a repository path goes under --out DIR.

    The output folder's files go at DIR's top, the rest (`.github/...`) at their repository
    path below DIR.
    """
    prefix = output + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def _lock_versions(root: Path) -> dict[str, str]:
    """Model name -> version promoted in charter.lock (what the deployment configs serve)."""
    import json

    from compiler.gitops.render import lock_versions

    try:
        return lock_versions(json.loads((root / "charter.lock").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _graph_or_exit(args: argparse.Namespace, later: list | None = None):
    """The IR of the tree: the cached one, else compiled and cached (spec errors: printed, then a UsageError).

    With `later`, the cache's store is appended to it rather than run.
    """
    from compiler.config import find_root
    from compiler.ir.cache import lookup, store, tree_key

    root = (args.root or find_root(Path.cwd())).resolve()
    graph, previous = lookup(root)  # an unchanged tree: no parsing, validation or pydantic import
    if graph is not None:
        return root, graph
    from compiler.load.memo import guess_spec_dirs, prefetch

    # The tree hashed before anything is loaded, and the loader given the very bytes hashed: a spec
    # saved while this command runs is then compiled next time, never cached under its new hash
    # with an IR of its old text (charter.yaml's folders, read without pydantic; `store` hashes
    # again should the validated setting differ).
    tree_key(root, guess_spec_dirs(root))
    prefetch(root)  # many files to parse: a child parses most of them while pydantic is imported
    from compiler.diagnostics.format import FORMATTERS
    from compiler.driver import compile_tree

    # an edited tree: unchanged models reused; with `later`, the parse memo is written with the IR cache
    result, graph = compile_tree(root, previous=previous, later=later)
    if graph is None:
        sys.stderr.write(FORMATTERS["text"](result.diagnostics, result.sources, redactions=result.redactions))
        raise UsageError("the specs have errors; run `charter validate`")
    built = previous.built
    if later is None:
        store(root, graph, built)
    else:
        later.append(lambda: store(root, graph, built))
    return root, graph


def _run(args: argparse.Namespace) -> int:
    _needs_runtime("run")
    chosen = sum(bool(x) for x in (args.model, args.all, args.affected))
    if chosen != 1:
        raise UsageError("name one Model, or use --all or --affected --base REF")
    if args.with_upstream and not args.step:
        raise UsageError("--with-upstream goes with --step")
    if args.model:
        return _execute(args, args.model, only=args.step)
    if args.step:
        raise UsageError("--step needs one Model")
    root, graph = _graph_or_exit(args)
    names = [m.name for m in graph.models]
    if args.affected:
        if not args.base:
            raise UsageError("--affected needs --base REF")
        names = _affected(root, args.base)
        print(f"affected since {args.base}: {', '.join(names) or 'none'}")
    code = EXIT_OK
    for name in names:
        code = max(code, _execute(args, name, graph=(root, graph)))
    return code


def _affected(root: Path, base: str) -> list[str]:
    from compiler.gitops.git import GitError
    from compiler.gitops.plan import affected_models

    try:
        return affected_models(root, base)
    except GitError as exc:
        raise UsageError(f"{exc}" + (f" ({exc.hint})" if exc.hint else "")) from None


def _check_data(args: argparse.Namespace) -> int:
    _needs_runtime("check-data")
    root, graph = _graph_or_exit(args)
    check = graph.check(args.source)
    if check is None:
        names = sorted({c.step("ingest").params["source"] for c in graph.checks} | {c.name for c in graph.checks})
        raise UsageError(f"no DataSource or ValidationSuite named `{args.source}`"
                         + (f"; defined: {', '.join(names)}" if names else ""))
    return _execute(args, check.name, graph=(root, graph), check=check)


def _execute(args: argparse.Namespace, model: str, *, only: str | None = None, until: str | None = None,
             graph=None, check=None) -> int:
    import json

    from compiler.execute.failure import RunError
    from compiler.execute.runner import Runner

    root, graph = graph or _graph_or_exit(args)
    text = args.format == "text"
    live = text and sys.stdout.isatty()

    def echo(line: str) -> None:
        if text:
            # On a terminal the step's "running" line is overwritten by its result.
            print(("\r\x1b[K" if live else "") + line, flush=True)

    def progress(step_id: str) -> None:
        if live:
            print(f"{step_id:<28} running...", end="", flush=True)

    try:
        runner = Runner(graph, root, store=args.store, force=args.force, echo=echo, progress=progress)
        result = runner.run(model, only=only, until=until, with_upstream=getattr(args, "with_upstream", False))
        if graph.project.get("tracking") == "mlflow" and until is None:
            from compiler.execute.tracking import log_run

            run_id = log_run(runner, graph.model(model), result)
            if run_id:
                echo(f"{'mlflow':<28} logged  run {run_id}" + (" (model registered)" if result.promoted else ""))
    except RunError as exc:
        raise UsageError(str(exc)) from None
    if not text:
        from compiler.execute.report import check_document

        doc = check_document(result, check) if check is not None else result.to_dict()
        print(json.dumps(doc, indent=2, sort_keys=True))
        return result.exit_code
    if result.failed:
        print(f"\nerror: {result.failed}")
        if result.report:
            print(result.report)
    elif result.promoted and until is None and only in (None, "package"):
        print(f"\nok: {model} version {result.promoted} recorded in charter.lock")
    else:
        print("\nok")
    return result.exit_code


def _monitor(args: argparse.Namespace) -> int:
    _needs_runtime("monitor")
    import json

    from compiler.atomic import write_atomic
    from compiler.execute.errors import DataError
    from compiler.execute.failure import RunError
    from compiler.execute.monitor import format_report, keep_report, monitor, monitor_predictions

    if not args.predictions and (args.since or args.version):
        raise UsageError("--since and --version apply to --predictions")
    root, graph = _graph_or_exit(args)
    try:
        report = (monitor_predictions(graph, root, args.model, args.store, args.since, args.env, args.version)
                  if args.predictions else monitor(graph, root, args.model, args.data, args.store))
    except RunError as exc:
        raise UsageError(str(exc)) from None
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SPEC_ERRORS
    text = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    try:
        keep_report(graph, root, json.loads(text), args.store)  # the latest report, for the site
    except OSError as exc:
        print(f"warning: the report was not kept in the artifact store: {exc}", file=sys.stderr)
    if args.report is not None:
        write_atomic(args.report, text)
    sys.stdout.write(text if args.format == "json" else format_report(report))
    if report["alert"]:
        return EXIT_SPEC_ERRORS
    return EXIT_TOO_FEW_ROWS if report["insufficient"] else EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    _needs_runtime("serve")
    from importlib.util import find_spec

    if find_spec("kserve") is None:
        raise UsageError("`charter serve` runs KServe's model server, which this installation lacks: "
                         "pip install 'charter[serve]'")
    from compiler.config import CONFIG_FILE, find_root
    from compiler.execute.failure import RunError
    from compiler.serve.locate import checked, package_folder, prediction_log
    from compiler.serve.server import serve

    environment = args.environment or os.environ.get("CHARTER_ENVIRONMENT") or "local"
    try:
        # With --model-dir (a pod, where the storage initializer put the package) the repository
        # is optional: when there is one, its RolloutPolicy says what to log and where.
        root = (args.root or find_root(Path.cwd())).resolve()
        graph = None
        if args.model_dir is None or (root / CONFIG_FILE).is_file():
            root, graph = _graph_or_exit(args)
        folder = (checked(args.model_dir.resolve(), args.model, args.version) if args.model_dir is not None
                  else package_folder(graph, root, args.model, args.version, args.store))
        log = prediction_log(graph, root, args.model, environment, args.store) if graph is not None else None
    except RunError as exc:
        raise UsageError(str(exc)) from None

    def ready(model) -> None:
        base = f"http://{args.host}:{args.port}"
        print(f"serving {args.model} version {model.version} ({environment}) at {base}\n"
              f"  V1: {base}/v1/models/{args.model}:predict\n  V2: {base}/v2/models/{args.model}/infer\n"
              f"  metrics: {base}/metrics" + (f"\n  prediction log: {log.where}" if log is not None else ""),
              flush=True)

    serve(args.model, folder, host=args.host, port=args.port, environment=environment, log=log, ready=ready)
    return EXIT_OK


def _maturity(args: argparse.Namespace) -> int:
    from compiler.config import find_root
    from compiler.gitops.maturity import SpecsInvalid, report, to_markdown, to_text
    from compiler.gitops.output import CommandError, dump, shown
    from compiler.gitops.snapshot import worktree

    root = (args.root or find_root(Path.cwd())).resolve()
    try:
        doc = report(worktree(root), args.model)
    except CommandError as exc:  # an unknown model is a usage error, as for `run` and `check-data`
        raise UsageError(str(exc)) from None
    except SpecsInvalid as exc:
        for problem in exc.problems:
            print(shown(problem), file=sys.stderr)
        print("charter: error: the specs do not compile, so no level can be judged; run `charter validate`",
              file=sys.stderr)
        return EXIT_SPEC_ERRORS
    render = {"json": dump, "markdown": to_markdown, "text": to_text}[args.format]
    sys.stdout.write(shown(render(doc)))
    return EXIT_OK


def _gitops(args: argparse.Namespace) -> int:
    """plan, diff, history, changelog, rollback, fallback, status: git problems are errors (exit 1).

    Not exit 2, since plan's exit 2 means "changes".
    """
    from compiler.config import find_root
    from compiler.gitops import commands
    from compiler.gitops.git import GitError

    root = (args.root or find_root(Path.cwd())).resolve()
    try:
        text, code = getattr(commands, args.command)(root, args)
    except GitError as exc:
        print(f"charter: error: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return EXIT_SPEC_ERRORS
    except commands.CommandError as exc:
        print(f"charter: error: {exc}", file=sys.stderr)
        return EXIT_SPEC_ERRORS
    sys.stdout.write(text)
    return code


COMMANDS = {"plan": _gitops, "diff": _gitops, "history": _gitops, "changelog": _gitops, "rollback": _gitops,
            "fallback": _gitops,
            "status": _gitops, "maturity": _maturity,
            "monitor": _monitor, "serve": _serve, "check-data": _check_data, "run": _run, "compile": _compile,
            "validate": _validate, "schema": _schema, "explain": _explain, "init": _init}

"""The git-aware commands: plan, diff, history, changelog, rollback, fallback, status.

Each takes the Charter root and the parsed arguments and returns (text, exit code); git
problems raise `GitError` (with a hint), other user errors `CommandError`. Text is returned
`shown`: file names in any bytes print escaped, never as an encoding error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from compiler.gitops.git import WORKTREE, Git, GitError
from compiler.gitops.output import CommandError, changes_doc, changes_text, dump, shown
from compiler.gitops.snapshot import CONFIG, _parse, at_commit, worktree

__all__ = ["CommandError", "changelog", "diff", "fallback", "history", "plan", "rollback", "status"]

Command = Callable[[Path, object], tuple[str, int]]


def _shown(command: Command) -> Command:
    @functools.wraps(command)
    def run(root: Path, args) -> tuple[str, int]:
        text, code = command(root, args)
        return shown(text), code

    return run


def _default_base(root: Path, git: Git) -> str:
    config = root / CONFIG
    branch = "main"
    if config.is_file():
        resources, _ = _parse(CONFIG, config.read_bytes())
        project = next((r for r in resources if r.kind == "Project"), None)
        spec = project.data.get("spec") if project else None
        if isinstance(spec, dict) and isinstance(spec.get("base_branch"), str):
            branch = spec["base_branch"]
    for candidate in (f"origin/{branch}", branch):
        try:
            git.resolve(candidate)
            return candidate
        except GitError:
            continue
    return f"origin/{branch}"  # resolve() will explain how to fetch it


# ---------------------------------------------------------------------------------------------
# plan

# When plans of several Charter roots are combined, the worst exit wins: an error, then
# blocked, then changes.
_WORST_FIRST = (1, 3, 2, 0)


def charter_roots(root: Path) -> list[Path]:
    """The folders at or below `root` whose `charter.yaml` git knows (tracked, or new and not ignored)."""
    git = Git(root)
    out = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", git.prefix or ".")
    top = git.top
    found = {(top / p).parent for p in out.split("\0")
             if p.startswith(git.prefix) and (p == CONFIG or p.endswith("/" + CONFIG))}
    return sorted(found)


@_shown
def plan(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.report import to_markdown, to_text

    for option in ("base", "head"):
        value = getattr(args, option)
        if value is not None and not value.strip():
            raise CommandError(f"`--{option}` is empty: name a ref (a branch, a tag, a sha)"
                               + (", or leave it out for origin/<base_branch>" if option == "base" else ""))
    if (root / CONFIG).is_file():
        return _plan_root(root, args)
    roots = charter_roots(root)
    if not roots:
        raise CommandError(f"no Charter root (a folder with {CONFIG}) at or below {root}")
    plans = [(r, *_plan_root(r, args, as_doc=True)) for r in roots]
    code = min((c for _, _, c in plans), key=_WORST_FIRST.index)
    if args.format == "json":
        docs = {r.relative_to(root).as_posix(): doc for r, doc, _ in plans}
        return dump(docs[next(iter(docs))] if len(docs) == 1 else {"format_version": "1.0", "roots": docs}), code
    render = to_markdown if args.format == "markdown" else to_text
    parts = [f"{'## ' if args.format == 'markdown' else ''}Charter root `{r.relative_to(root).as_posix()}`\n\n"
             + render(doc) for r, doc, _ in plans]
    return "\n".join(parts), code


def _plan_root(root: Path, args, as_doc: bool = False):
    from compiler.gitops.owners import approvals_from_reviews
    from compiler.gitops.plan import exit_code, make_plan
    from compiler.gitops.report import to_markdown, to_text

    approved = None
    if args.approved_by is not None:
        approved = [h.strip() if h.strip().startswith("@") else "@" + h.strip()
                    for h in args.approved_by.split(",") if h.strip()]
    if args.reviews is not None:
        try:
            approved = (approved or []) + approvals_from_reviews(args.reviews)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read reviews from {args.reviews}: {exc}") from None
    base = args.base or _default_base(root, Git(root))
    doc = make_plan(root, base, args.head, approved)
    if args.out:
        from compiler.atomic import write_atomic

        write_atomic(args.out if args.out.is_absolute() else Path.cwd() / args.out, dump(doc))
    if as_doc:
        return doc, exit_code(doc)
    formats: dict[str, Callable[[dict], str]] = {"json": dump, "markdown": to_markdown, "text": to_text}
    return formats[args.format](doc), exit_code(doc)

# ---------------------------------------------------------------------------------------------
# diff


@_shown
def diff(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.plan import semantic_diff, used_by_at

    git = Git(root)
    sha1 = git.resolve(args.ref1)
    before = at_commit(git, sha1, args.ref1, root)
    after = worktree(root) if args.ref2 in (None, WORKTREE) else at_commit(git, git.resolve(args.ref2), args.ref2, root)
    sd = semantic_diff(before, after, args.name)
    doc: dict = {"format_version": "1.0", "from": {"ref": args.ref1, "sha": sha1},
           "to": {"ref": after.label, "sha": after.sha},
           "resource_changes": changes_doc(sd.changes, set(used_by_at(before, after))),
           "unknown_resources": sd.unknown, "problems": sd.problems}
    if args.format == "json":
        return dump(doc), 0
    lines = changes_text(doc["resource_changes"]) or ["no changes"]
    lines += [f"unknown {u['address']}: {u['reason']}" for u in sd.unknown]
    lines += [f"problem: {p}" for p in sd.problems]
    return "\n".join(lines) + "\n", 0


# ---------------------------------------------------------------------------------------------
# status


@_shown
def status(root: Path, args) -> tuple[str, int]:
    if getattr(args, "data", None) is not None:
        return data_status(root, args)
    from compiler.gitops.plan import changed_paths
    from compiler.gitops.render import lock_versions, render_all

    git = Git(root)
    head = worktree(root)
    try:
        committed = at_commit(git, git.resolve("HEAD"), "HEAD", root)
        uncommitted = changed_paths(committed, head)
    except GitError:
        uncommitted = sorted(head.files)
    graph, problems = head.compile()
    doc: dict = {"format_version": "1.0", "uncommitted_specs": uncommitted, "problems": problems,
                 "generated": [], "pipelines": []}
    if graph is not None:
        out = graph.project.get("output", "generated")
        files = render_all(graph, out, lock_versions(head.lock()))
        for path, text in sorted(files.items()):
            p = root / path
            if not p.is_file():
                doc["generated"].append({"path": path, "state": "missing"})
            elif p.read_text(encoding="utf-8") != text:
                doc["generated"].append({"path": path, "state": "stale or edited by hand"})
        out_dir = root / out
        if out_dir.is_dir():
            for p in sorted(out_dir.rglob("*")):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and rel not in files:
                    doc["generated"].append({"path": rel, "state": "no longer generated"})
        doc["notes"] = []  # kept in the JSON: nothing to say since every target renders with the core
        lock = worktree(root).lock().get("models", {})
        from compiler.execute.fingerprint import fingerprint

        for model in graph.models:
            entry = lock.get(model.name)
            if entry is None:
                doc["pipelines"].append({"model": model.name, "state": "never run (not in charter.lock)"})
                continue
            reasons = []
            if entry.get("spec_hash") != model.step("package").hash:
                reasons.append("specs changed")
            try:
                if entry.get("data_fingerprint") != fingerprint(model.step("ingest").params, root):
                    reasons.append("data changed")
            except Exception as exc:  # noqa: BLE001 - an unreachable source is reported, not fatal
                reasons.append(f"data not readable ({type(exc).__name__})")
            if reasons:
                doc["pipelines"].append({"model": model.name, "state": " and ".join(reasons) + " since the last run"})
    clean = not (doc["uncommitted_specs"] or doc["generated"] or doc["pipelines"] or problems)
    if args.format == "json":
        return dump(doc), 0 if clean else 2
    lines = []
    if doc["uncommitted_specs"]:
        lines += ["specs changed since HEAD:"] + [f"    {p}" for p in doc["uncommitted_specs"]]
    if doc["generated"]:
        lines += ["generated files (run `charter compile`):"]
        lines += [f"    {g['path']}: {g['state']}" for g in doc["generated"]]
    if doc["pipelines"]:
        lines += ["pipelines (run `charter run MODEL`):"]
        lines += [f"    {p['model']}: {p['state']}" for p in doc["pipelines"]]
    lines += [f"problem: {p}" for p in problems]
    return ("\n".join(lines) if lines else "clean: specs committed, generated files current, pipelines up to date") \
        + "\n", 0 if clean else 2



def data_status(root: Path, args) -> tuple[str, int]:
    """Whether each model's training data changed since the run in charter.lock: what a data-change poll runs.

    Exit 2 when one changed (or never ran), 0 when none did; a source that cannot be read is an
    error (exit 1), never a retraining: the retraining would fail on it too.
    """
    from compiler.execute.fingerprint import fingerprint, source_path

    head = worktree(root)
    graph, problems = head.compile()
    if graph is None:
        raise CommandError("the specs do not compile: " + "; ".join(problems[:5]))
    models = {m.name: m for m in graph.models}
    names = list(args.data) or sorted(n for n, m in models.items() if (m.retrain or {}).get("on_data_change"))
    unknown = [n for n in names if n not in models]
    if unknown:
        raise CommandError(f"no Model {', '.join(map(repr, unknown))}; models: {', '.join(sorted(models)) or 'none'}")
    if not names:
        raise CommandError("no Model retrains on a data change (`retrain: {on_data_change: true}`); name one")
    lock = head.lock().get("models", {})
    results = []
    for name in names:
        ingest = models[name].step("ingest").params
        recorded = (lock.get(name) or {}).get("data_fingerprint")
        try:
            if ingest.get("path") and not ingest.get("connection"):  # a missing file is no change to retrain on
                source_path(ingest, root)
            now = fingerprint(ingest, root)
        except Exception as exc:  # noqa: BLE001 - told in the user's terms below, never a traceback
            raise CommandError(f"model {name}: source `{ingest['source']}` cannot be read: {exc}") from None
        state = "never run" if recorded is None else "changed" if recorded != now else "unchanged"
        results.append({"model": name, "source": ingest["source"], "state": state, "recorded": recorded,
                        "now": now})
    changed = any(r["state"] != "unchanged" for r in results)
    if args.format == "json":
        return dump({"format_version": "1.0", "data": results}), 2 if changed else 0
    lines = [f"{r['model']}: never run (not in charter.lock)" if r["state"] == "never run" else
             f"{r['model']}: data of `{r['source']}` {r['state']} since charter.lock's run (fingerprint "
             f"{r['now'][:12]}" + ("" if r["state"] == "unchanged" else f", was {r['recorded'][:12]}") + ")"
             for r in results]
    return "\n".join(lines) + "\n", 2 if changed else 0


def _history(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.history import history as run

    return run(root, args)


def _changelog(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.history import changelog as run

    return run(root, args)


history = _shown(_history)
changelog = _shown(_changelog)
# The other commands' modules are imported when they run: a plan needs none of them.
def _rollback(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.rollback import rollback as run

    return run(root, args)


def _fallback(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.fallback import fallback as run

    return run(root, args)


rollback = _shown(_rollback)
fallback = _shown(_fallback)

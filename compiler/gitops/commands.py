"""The git-aware commands: plan, diff, history, changelog, rollback, status.

Each takes the Charter root and the parsed arguments and returns (text, exit code); git
problems raise `GitError` (with a hint), other user errors `CommandError`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from compiler.gitops.git import WORKTREE, Git, GitError
from compiler.gitops.risk import assess, readers, renames_of, worst
from compiler.gitops.semdiff import diff_resources
from compiler.gitops.snapshot import CONFIG, LOCK, Resource, _parse, _spec_dirs, at_commit, parse_cached, worktree


class CommandError(Exception):
    pass


def _dump(doc) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


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


def plan(root: Path, args) -> tuple[str, int]:
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

        write_atomic(args.out if args.out.is_absolute() else Path.cwd() / args.out, _dump(doc))
    formats: dict[str, Callable[[dict], str]] = {"json": _dump, "markdown": to_markdown, "text": to_text}
    return formats[args.format](doc), exit_code(doc)


# ---------------------------------------------------------------------------------------------
# diff


def _changes_doc(changes, in_use, renames: dict[str, str] | None = None) -> list[dict]:
    """Resource changes with their findings, classified exactly as `charter plan` does."""
    out = []
    for ch, found in zip(changes, assess(changes, in_use, renames=renames), strict=True):
        out.append({"address": ch.address, "action": ch.action, "file": ch.file, "previous_file": ch.previous_file,
                    "previous_name": ch.previous_name, "risk": worst(found),
                    "changes": [c.to_dict() for c in ch.changes if c.path],
                    "findings": [f.to_dict() for f in found]})
    return out


def _changes_text(doc: list[dict], indent: str = "") -> list[str]:
    from compiler.gitops.report import _change_lines, _header

    lines = []
    for res in doc:
        lines.append(indent + _header(res))
        lines += [f"{indent}    {line}" for line in _change_lines(res)]
    return lines


def diff(root: Path, args) -> tuple[str, int]:
    from compiler.gitops.plan import semantic_diff, used_by_at

    git = Git(root)
    sha1 = git.resolve(args.ref1)
    before = at_commit(git, sha1, args.ref1, root)
    after = worktree(root) if args.ref2 in (None, WORKTREE) else at_commit(git, git.resolve(args.ref2), args.ref2, root)
    sd = semantic_diff(before, after, args.name)
    doc: dict = {"format_version": "1.0", "from": {"ref": args.ref1, "sha": sha1},
           "to": {"ref": after.label, "sha": after.sha},
           "resource_changes": _changes_doc(sd.changes, set(used_by_at(before, after))),
           "unknown_resources": sd.unknown, "problems": sd.problems}
    if args.format == "json":
        return _dump(doc), 0
    lines = _changes_text(doc["resource_changes"]) or ["no changes"]
    lines += [f"unknown {u['address']}: {u['reason']}" for u in sd.unknown]
    lines += [f"problem: {p}" for p in sd.problems]
    return "\n".join(lines) + "\n", 0


# ---------------------------------------------------------------------------------------------
# history and changelog: walk commits, diff the files each one changed


def _blob(git: Git, sha: str, path: str) -> bytes | None:
    try:
        return git.repo.git.get_object_data(f"{sha}:{git.prefix}{path}")[3]
    except ValueError:
        return None


class _Blobs:
    """Resources per blob id, parsed once (consecutive commits share most blobs)."""

    cache: dict[tuple[str, str], list[Resource]]

    def __init__(self, git: Git, root: Path):
        self.git, self.root, self.cache = git, root, {}

    def resources(self, items: Iterable[tuple[str, str | None]]) -> dict[str, Resource]:
        """`items`: (path, blob id or None) pairs -> `kind/name` -> Resource."""
        found: dict[str, Resource] = {}
        for path, blob in sorted(items, key=lambda x: x[0]):
            if blob is None:
                continue
            if (path, blob) not in self.cache:
                read = functools.partial(self.git.read, blob)
                self.cache[(path, blob)] = parse_cached(self.root, path, blob, read)[0]
            for res in self.cache[(path, blob)]:
                found.setdefault(res.address, res)
        return found


def _diff_commit(blobs: _Blobs, changes) -> list:
    before = blobs.resources((old or path, ob) for status, path, old, ob, nb in changes if status != "A")
    after = blobs.resources((path, nb) for status, path, old, ob, nb in changes if status != "D")
    return diff_resources(before, after)


def _readers_around(git: Git, root: Path, sha: str):
    """Is a spec read by a Model at `sha` or its parent? Asked lazily: only column changes need it."""
    found: dict[str, set[str]] | None = None

    def in_use(name: str) -> bool:
        nonlocal found
        if found is None:
            found = {}
            for rev in (sha, sha + "^"):
                if not _exists(git, rev):
                    continue
                for spec, models in readers(at_commit(git, git.resolve(rev), rev, root).resources()).items():
                    found.setdefault(spec, set()).update(models)
        return name in found

    return in_use


def walk(git: Git, root: Path, spec_dirs: list[str], rev: str = "HEAD", since: str | None = None):
    """(commit, [ResourceChange]) for every commit that changed a spec, newest first."""
    blobs = _Blobs(git, root)
    for commit, changes in git.log(spec_dirs, rev, since):
        changes = [c for c in changes if c[1].endswith((".yaml", ".yml"))]
        yield commit, _diff_commit(blobs, changes)


def _spec_dirs_at(git: Git, root: Path) -> list[str]:
    config = root / CONFIG
    return _spec_dirs(config.read_bytes() if config.is_file() else None)


def history(root: Path, args) -> tuple[str, int]:
    git = Git(root)
    head = git.resolve("HEAD")
    names = {args.name.split("/", 1)[1]} if "/" in args.name else {args.name}
    kind = args.name.split("/", 1)[0] if "/" in args.name else None
    spec_dirs = _spec_dirs_at(git, root)
    blobs = _Blobs(git, root)
    # Where the resource lives at HEAD; walking back, follow it through moves and renames, and
    # parse only the commits that touched those files (cost grows with its changes, not history).
    files = git.tree(head, spec_dirs)
    tracked = {p for p, b in files.items() if p.endswith((".yaml", ".yml"))
               and any(n.encode() in git.read(b) for n in names)}
    tracked = {p for p in tracked if any(_wanted(r, names, kind) for r in blobs.resources([(p, files[p])]).values())}
    entries: list[dict] = []
    rev: str | None = "HEAD"
    while rev and not (args.limit and len(entries) >= args.limit):
        # `git log` of the tracked files only; when the resource turns out to have come from
        # another file (moved, or the file renamed), track that file too and go on from there
        restart = None
        for commit, changes in git.log(sorted(tracked), rev):
            diffs = _diff_commit(blobs, changes)
            mine = [c for c in diffs if _wanted(c, names, kind)]
            if any(_may_need_commit(c) for c in mine):  # born here or elsewhere? a reference after a rename?
                _, full = git.log(spec_dirs, commit.sha, max_count=1)[0]
                diffs = _diff_commit(blobs, full)
                mine = [c for c in diffs if _wanted(c, names, kind)]
            found = {c.previous_file for c in mine if c.previous_file} - tracked
            for c in mine:
                if c.action == "rename" and c.previous_name:
                    names.add(c.previous_name)
            if mine:
                entries.append(_history_entry(git, commit, mine, _readers_around(git, root, commit.sha),
                                              renames_of(diffs)))
            if found:
                tracked |= found
                restart = commit.sha + "^"
                break
            if args.limit and len(entries) >= args.limit:
                break
        rev = restart if restart and _exists(git, restart) else None
    if not entries:
        raise CommandError(f"no commit changed a resource named `{args.name}` in the spec folders")
    if args.format == "json":
        return _dump({"format_version": "1.0", "resource": args.name, "commits": entries}), 0
    lines = []
    for e in entries:
        lines.append(f"{e['commit'][:12]} {e['date'][:10]} {e['author']}: {e['subject']}")
        lines += _changes_text(e["changes"], "    ")
        for model, info in e["lock"].items():
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted((info["metrics"] or {}).items())
                                if isinstance(v, (int, float)))
            lines.append(f"    lock: {model} {info['version']}" + (f" ({metrics})" if metrics else ""))
    return "\n".join(lines) + "\n", 0


def _may_need_commit(change) -> bool:
    return change.action in ("create", "rename") or any(
        f.op == "change" and isinstance(f.before, (str, list)) for f in change.changes)


def _history_entry(git: Git, commit, mine, in_use, renames: dict[str, str]) -> dict:
    lock = _lock_at(git, commit.sha)
    models = {c.name for c in mine if c.kind == "Model"} & set(lock)
    return {"commit": commit.sha, "author": commit.author, "date": commit.date, "subject": commit.subject,
            "changes": _changes_doc(mine, in_use, renames),
            "lock": {m: {"version": lock[m].get("version"), "metrics": (lock[m].get("metrics") or {}).get("metrics")}
                     for m in sorted(models)}}


def _exists(git: Git, rev: str) -> bool:
    try:
        git.resolve(rev)
        return True
    except GitError:
        return False


def _wanted(item, names: set[str], kind: str | None) -> bool:
    return item.name in names and (kind is None or item.kind == kind)


def _lock_at(git: Git, sha: str) -> dict:
    raw = _blob(git, sha, LOCK)
    try:
        data = json.loads(raw) if raw else {}
        return data.get("models", {}) if isinstance(data, dict) else {}
    except (ValueError, UnicodeDecodeError):
        return {}


def changelog(root: Path, args) -> tuple[str, int]:
    git = Git(root)
    if args.since:
        git.resolve(args.since)
    by_resource: dict[str, list[dict]] = {}
    for commit, changes in walk(git, root, _spec_dirs_at(git, root), since=args.since):
        for doc in _changes_doc(changes, _readers_around(git, root, commit.sha)):
            by_resource.setdefault(doc["address"], []).append({
                "commit": commit.sha, "date": commit.date, "author": commit.author, "subject": commit.subject,
                **doc})
    doc = {"format_version": "1.0", "since": args.since,
           "resources": {k: by_resource[k] for k in sorted(by_resource)}}
    if args.format == "json":
        return _dump(doc), 0
    from compiler.gitops.report import _change_lines, _md

    lines = ["# Changelog", ""]
    if args.since:
        lines += [f"Changes since `{_md(args.since)}`.", ""]
    for address, entries in doc["resources"].items():
        lines += [f"## {_md(address)}", ""]
        for e in entries:
            lines.append(f"- **{e['risk']}** {e['action']} ({e['commit'][:12]}, {e['date'][:10]}, {_md(e['author'])}): "
                         f"{_md(e['subject'])}")
            lines += [f"  - `{line.replace('`', chr(39))}`" for line in _change_lines(e)[:20]]
        lines.append("")
    if not doc["resources"]:
        lines.append("No spec changes.")
    return "\n".join(lines).rstrip() + "\n", 0


# ---------------------------------------------------------------------------------------------
# status


def status(root: Path, args) -> tuple[str, int]:
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
        notes: list[str] = []
        files = render_all(graph, out, notes, lock_versions(head.lock()))
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
        doc["notes"] = notes
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
        return _dump(doc), 0 if clean else 2
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


# ---------------------------------------------------------------------------------------------
# rollback


def rollback(root: Path, args) -> tuple[str, int]:
    """Serve the model as it was at REF: its lock entry and its RolloutPolicy specs from REF.

    Then every generated file is re-rendered from the tree's specs and lock, as `charter
    compile` would: the generated files stay a function of what is committed, so the rolled-back
    tree passes `charter compile --check` and the plan shows the rollback as a version change.
    """
    from compiler.atomic import write_atomic
    from compiler.gitops.render import lock_versions, render_all

    git = Git(root)
    sha = git.resolve(args.to)
    snap = at_commit(git, sha, args.to, root)
    graph, problems = snap.compile()
    if graph is None:
        raise CommandError(f"the specs at {args.to} do not compile: " + "; ".join(problems[:5]))
    model = graph.model(args.model)
    if model is None:
        raise CommandError(f"no Model `{args.model}` at {args.to}")
    if not model.rollouts:
        raise CommandError(f"Model `{args.model}` has no deployment configs at {args.to}")
    lines = _restore_policies(root, snap, [r["name"] for r in model.rollouts])
    entry = snap.lock().get("models", {}).get(args.model)
    version = entry.get("version") if isinstance(entry, dict) else None
    if isinstance(entry, dict):  # the lock serves that version again
        from compiler.execute.lock import read_lock, write_lock

        lock = read_lock(root)
        if lock["models"].get(args.model) != entry:
            lock["models"][args.model] = entry
            write_lock(root, lock)
            lines.append(f"restored the charter.lock entry of {args.model}")
    head_graph, head_problems = worktree(root).compile()
    if head_graph is None:
        raise CommandError("after the rollback the specs do not compile: " + "; ".join(head_problems[:5]))
    notes: list[str] = []
    files = render_all(head_graph, head_graph.project.get("output", "generated"), notes,
                       lock_versions(worktree(root).lock()))
    for path, text in sorted(files.items()):
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            write_atomic(target, text)
            lines.append(f"wrote {path}")
    served = f" (version {version} from charter.lock at {args.to})" if version else ""
    lines.append(f"rolled back the deployment of {args.model} to {args.to} ({sha[:12]}){served}; "
                 "review and commit the result")
    return "\n".join(lines) + "\n", 0


def _documents(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each YAML document with content, in order (what `Resource.index` counts)."""
    spans, start, pos = [], 0, 0
    for line in text.splitlines(keepends=True):
        if line.rstrip() == "---":
            spans.append((start, pos))
            start = pos + len(line)
        pos += len(line)
    spans.append((start, pos))

    def content(a: int, b: int) -> bool:
        return any(x.strip() and not x.lstrip().startswith("#") for x in text[a:b].splitlines())

    return [(a, b) for a, b in spans if content(a, b)]


def _restore_policies(root: Path, snap, names: list[str]) -> list[str]:
    """Write the RolloutPolicy documents `names` as they are in `snap`, in place in the tree's files."""
    head = worktree(root).resources()
    old = snap.resources()
    lines = []
    for name in names:
        address = f"RolloutPolicy/{name}"
        before, now = old.get(address), head.get(address)
        if before is None or (now is not None and now.data == before.data):
            continue
        old_text = snap.read(before.file).decode("utf-8")
        a, b = _documents(old_text)[before.index]
        doc = old_text[a:b]
        if now is None:  # deleted since: write it back in its old file
            target = root / before.file
            current = target.read_text(encoding="utf-8") if target.is_file() else ""
            sep = ("" if current.endswith("\n") else "\n") + "---\n" if current else ""
            text = current + sep + doc
        else:
            target = root / now.file
            current = target.read_text(encoding="utf-8")
            a, b = _documents(current)[now.index]
            text = current[:a] + doc + current[b:]
        from compiler.atomic import write_atomic

        write_atomic(target, text)
        lines.append(f"restored {address} in {target.relative_to(root).as_posix()} from the ref")
    return lines

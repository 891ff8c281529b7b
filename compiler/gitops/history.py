"""`charter history` and `charter changelog`: walk commits, diff the files each one changed.

Each commit's change is classified by the same rules as a plan's (`risk.assess`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path

from compiler.gitops.git import Git, GitError
from compiler.gitops.output import CommandError, changes_doc, changes_text, dump
from compiler.gitops.risk import readers, renames_of
from compiler.gitops.semdiff import diff_resources
from compiler.gitops.snapshot import CONFIG, LOCK, Resource, _spec_dirs, at_commit, parse_cached
from compiler.plain import SPEC_NAME


def _blob(git: Git, sha: str, path: str) -> bytes | None:
    return git.read_rev(sha, path)


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
    specs = {p: b for p, b in files.items() if p.endswith((".yaml", ".yml"))}
    git.prefetch(blobs=specs.values())
    tracked = {p for p, b in specs.items() if any(n.encode() in git.read(b) for n in names)}
    tracked = {p for p in tracked if any(_wanted(r, names, kind) for r in blobs.resources([(p, files[p])]).values())}
    entries: list[dict] = []
    rev: str | None = "HEAD"
    while rev and not (args.limit and len(entries) >= args.limit):
        # `git log` of the tracked files only; when the resource turns out to have come from
        # another file (moved, or the file renamed), track that file too and go on from there
        restart = None
        walked = [(commit, _diff_commit(blobs, changes)) for commit, changes in git.log(sorted(tracked), rev)]
        # the lock of every commit that may make an entry, in one read
        git.prefetch(revs=[(commit.sha, LOCK) for commit, diffs in walked if any(_wanted(c, names, kind)
                                                                                  for c in diffs)])
        # Born here or elsewhere? A reference after a rename? Those commits are read whole, in one
        # git call for all of them (not one per commit).
        whole = git.changes_of([commit.sha for commit, diffs in walked
                                if any(_may_need_commit(c) for c in diffs if _wanted(c, names, kind))], spec_dirs)
        for commit, diffs in walked:
            mine = [c for c in diffs if _wanted(c, names, kind)]
            if any(_may_need_commit(c) for c in mine):
                if commit.sha not in whole:  # wanted only under a name learnt from a later rename
                    whole[commit.sha] = git.log(spec_dirs, commit.sha, max_count=1)[0][1]
                diffs = _diff_commit(blobs, whole[commit.sha])
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
        return dump({"format_version": "1.0", "resource": args.name, "commits": entries}), 0
    lines = []
    for e in entries:
        lines.append(f"{e['commit'][:12]} {e['date'][:10]} {e['author']}: {e['subject']}")
        lines += changes_text(e["changes"], "    ")
        for model, info in e["lock"].items():
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted((info["metrics"] or {}).items())
                                if isinstance(v, (int, float)))
            lines.append(f"    lock: {model} {info['version']}" + (f" ({metrics})" if metrics else ""))
    return "\n".join(lines) + "\n", 0


# A spec's name, as the validator checks it. A rename maps one such name to another, so only a
# change between two of them, or of a list, can be a reference following a rename
# (`risk._renamed_ref`).
_NAME = re.compile(SPEC_NAME + r"\Z")


def _may_need_commit(change) -> bool:
    """Does judging this change need its whole commit (where it was born, which specs were renamed)?

    A description or any other text edited is not a reference: most commits are read only for
    the tracked files.
    """
    return change.action in ("create", "rename") or any(
        f.op == "change" and (isinstance(f.before, list) or isinstance(f.before, str) and isinstance(f.after, str)
                              and _NAME.match(f.before) is not None and _NAME.match(f.after) is not None)
        for f in change.changes)


def _history_entry(git: Git, commit, mine, in_use, renames: dict[str, str]) -> dict:
    lock = _lock_at(git, commit.sha)
    models = {c.name for c in mine if c.kind == "Model"} & set(lock)
    return {"commit": commit.sha, "author": commit.author, "date": commit.date, "subject": commit.subject,
            "changes": changes_doc(mine, in_use, renames),
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
        for doc in changes_doc(changes, _readers_around(git, root, commit.sha)):
            by_resource.setdefault(doc["address"], []).append({
                "commit": commit.sha, "date": commit.date, "author": commit.author, "subject": commit.subject,
                **doc})
    doc = {"format_version": "1.0", "since": args.since,
           "resources": {k: by_resource[k] for k in sorted(by_resource)}}
    if args.format == "json":
        return dump(doc), 0
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



"""What `charter compile --target site` reads besides the IR, gathered into `SiteInputs`.

- `charter.lock` of the working tree, and its git history (first-parent `git log` of the file):
  every promoted version of each model, oldest first, with the commit that recorded it;
- the promoted metrics judged by today's gates (`execute.gate`, waivers left out: they depend
  on the date), a `max_drop` gate against the version promoted before;
- `charter maturity`'s document of each model;
- from the artifact store, when it holds them: the last whole run (`runs/<model>/latest.json`)
  and the latest monitor report (`monitor/<model>/latest.json`).

The site is then a function of the repository and the store: the same commit, working tree and
store give the same bytes. What cannot be read (no git, a shallow clone, no store) is a note on
the index page, not an error.
"""

from __future__ import annotations

import json
from pathlib import Path

from compiler.gitops.git import Git, GitError
from compiler.gitops.snapshot import LOCK
from compiler.render.site.inputs import SiteInputs


def collect(root: Path, graph, store: str | None = None) -> SiteInputs:
    notes: list[str] = []
    lock = _models(_read(root / LOCK))
    if not lock:
        notes.append(f"`{LOCK}` holds no promoted model yet: run `charter run MODEL` and commit the lock")
    docs, commit = _history(root, lock, notes)
    gates = {name: _judge(graph.model(name), docs[name]) for name in sorted(docs) if graph.model(name) is not None}
    store_label, runs, monitors = _store(root, graph, store, notes)
    history = {name: [{k: v for k, v in e.items() if k != "doc"} for e in entries] for name, entries in docs.items()}
    return SiteInputs(lock=lock, history=history, gates={k: v for k, v in gates.items() if v is not None},
                      maturity=_maturity(root, notes), runs=runs, monitors=monitors, commit=commit,
                      store=store_label, notes=tuple(notes))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _models(raw: bytes | None) -> dict:
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    return {k: v for k, v in sorted(models.items()) if isinstance(v, dict) and isinstance(v.get("version"), str)} \
        if isinstance(models, dict) else {}


def _history(root: Path, lock: dict, notes: list[str]) -> tuple[dict[str, list[dict]], str | None]:
    """Model -> promotions, oldest first; and HEAD. A version counts again when it comes back (a rollback)."""
    per: dict[str, list[dict]] = {}
    head = None

    def add(name: str, entry: dict, commit) -> None:
        entries = per.setdefault(name, [])
        if entries and entries[-1]["version"] == entry["version"]:
            return
        doc: dict = entry["metrics"] if isinstance(entry.get("metrics"), dict) else {}
        entries.append({"version": entry["version"], "commit": commit.sha if commit else None,
                        "date": commit.date if commit else None, "subject": commit.subject if commit else None,
                        "metrics": doc.get("metrics") or {}, "business": doc.get("business") or {}, "doc": doc})

    try:
        git = Git(root)
        head = git.resolve("HEAD")
        for commit, changes in reversed(git.log([LOCK])):
            blob = next((new for _, path, _, _, new in changes if path == LOCK), None)
            for name, entry in _models(git.read(blob) if blob else None).items():
                add(name, entry, commit)
        if git.shallow():
            notes.append("this clone is shallow: the history shows the promotions since its first commit only "
                         "(`git fetch --unshallow` for all of them)")
    except GitError as exc:
        notes.append(f"no git history of `{LOCK}` ({exc}): each model shows its current version only")
    for name, entry in lock.items():  # the working tree's lock: a promotion not committed yet is the last one
        add(name, entry, None)
    return per, head


def _judge(model, entries: list[dict]) -> dict | None:
    from compiler.execute.gate import check_gates, verdict

    if not entries:
        return None
    current = entries[-1]["doc"]
    before = entries[-2]["doc"] if len(entries) > 1 else None
    params = {**model.step("gate").params, "waivers": []}
    try:
        return verdict(check_gates(params, current, {"production": before, "previous": before}, today=""))
    except (KeyError, TypeError, AttributeError):  # a lock entry of another shape (an older Charter's)
        return None


def _maturity(root: Path, notes: list[str]) -> dict:
    from compiler.gitops.maturity import SpecsInvalid, report
    from compiler.gitops.snapshot import worktree

    try:
        return {m["model"]: m for m in report(worktree(root))["models"]}
    except SpecsInvalid:
        notes.append("the maturity levels could not be judged: the specs do not compile")
        return {}


def _store(root: Path, graph, store: str | None, notes: list[str]) -> tuple[str | None, dict, dict]:
    from compiler.execute.failure import RunError
    from compiler.execute.store import open_store, store_uri

    uri = store_uri(store, graph.project)
    try:
        opened = open_store(uri, root)
    except RunError as exc:
        notes.append(f"the artifact store `{uri}` could not be opened ({exc}): no last run or drift shown")
        return None, {}, {}
    runs: dict[str, dict] = {}
    monitors: dict[str, dict] = {}
    for model in graph.models:
        for found, rel in ((runs, f"runs/{model.name}/latest.json"), (monitors, f"monitor/{model.name}/latest.json")):
            try:
                doc = json.loads(opened.get(rel))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                found[model.name] = doc
    return uri, runs, monitors

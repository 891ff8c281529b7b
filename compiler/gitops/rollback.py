"""`charter rollback`: serve a model as it was at a ref, as committed files a plan can judge."""

from __future__ import annotations

from pathlib import Path

from compiler.gitops.git import Git
from compiler.gitops.output import CommandError
from compiler.gitops.snapshot import at_commit, worktree


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
        from compiler.execute.lock import update_lock

        def restore(lock: dict) -> bool:
            if lock["models"].get(args.model) == entry:
                return False
            lock["models"][args.model] = entry
            return True

        if update_lock(root, restore):
            lines.append(f"restored the charter.lock entry of {args.model}")
    head_graph, head_problems = worktree(root).compile()
    if head_graph is None:
        raise CommandError("after the rollback the specs do not compile: " + "; ".join(head_problems[:5]))
    files = render_all(head_graph, head_graph.project.get("output", "generated"), lock_versions(worktree(root).lock()))
    for path, text in sorted(files.items()):
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            write_atomic(target, text)
            lines.append(f"wrote {path}")
    if version and head_graph.project.get("tracking") == "mlflow" and head_graph.model(args.model) is not None:
        from compiler.execute.failure import RunError
        from compiler.execute.tracking import follow_rollback

        try:  # the registry's environment aliases follow the lock back
            lines.append(follow_rollback(root, head_graph.model(args.model), version))
        except RunError as exc:
            lines.append(f"mlflow: aliases not moved: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
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

"""Git access for plan, diff, history and rollback: refs, trees and blobs, never a checkout.

Measured on a repository of 5,000 commits (issue 5): `git diff --name-only` through the CLI
is 30x faster than GitPython's object-level diff, and blobs read through one long-lived
`git cat-file --batch` (GitPython's default `GitCmdObjectDB`) are 25x faster than its
pure-Python object database. So listings go through git's own commands (`ls-tree`, `log`,
with `-z` so non-ASCII and odd file names arrive unquoted), run directly as subprocesses,
and contents through the one cat-file process that GitPython's `repo.odb` keeps open.

GitPython is imported, and its repository opened, on the first object read only (issue 13):
its import and the `git version` calls it makes on start cost about 60 ms, half the budget
of a warm `charter plan`, whose revisions come from the records in `.charter/cache/` and need
no object at all. The repository is found by looking for `.git` upwards, as git does (git's
own `rev-parse --show-toplevel` when that finds none, for GIT_DIR and the like).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

WORKTREE = "WORKTREE"  # the label of the working tree as a "ref"


class GitError(Exception):
    """A git problem the user can fix; `hint` says how."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    author: str
    date: str  # ISO 8601, author date
    subject: str


class Git:
    """One repository, seen from the Charter root (which may be a sub-folder of it)."""

    def __init__(self, root: Path):
        self.top = _toplevel(Path(root).resolve())
        rel = Path(root).resolve().relative_to(self.top).as_posix()
        self.prefix = "" if rel == "." else rel + "/"  # the Charter root inside the repository
        self._repo = None
        self._read: dict[str, bytes | None] = {}  # prefetched objects, by the name they were asked by

    @property
    def repo(self):
        """GitPython's repository, for its long-lived `cat-file --batch`: opened on the first read."""
        if self._repo is None:
            try:
                import git
            except ImportError as exc:  # pragma: no cover - GitPython is a dependency
                raise GitError(f"GitPython is not installed ({exc})", "pip install GitPython") from None
            try:
                self._repo = git.Repo(self.top)
            except git.GitCommandNotFound:  # pragma: no cover - depends on the machine
                raise GitError("the `git` command is not installed", "install git") from None
        return self._repo

    def _git(self, args: list[str]) -> subprocess.CompletedProcess:
        return _command(["git", *args], self.top)

    def run(self, *args: str) -> str:
        done = self._git(list(args))
        if done.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_text(done.stderr).strip()[:500]}")
        return _text(done.stdout)

    def shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def resolve_many(self, *refs: str) -> list[str]:
        """Several refs in one `git rev-parse` (each checked as resolve() does on failure)."""
        if not any(r.startswith("-") for r in refs):
            # no `--end-of-options`: git before 2.43 prints it back as a line of output (no ref
            # here starts with `-`, checked above)
            done = self._git(["rev-parse", *(f"{r}^{{commit}}" for r in refs)])
            out = _text(done.stdout).split()
            if done.returncode == 0 and len(out) == len(refs):
                return out
        return [self.resolve(r) for r in refs]

    def resolve(self, ref: str) -> str:
        """A ref (branch, tag, sha, `HEAD~3`, `origin/main`) -> commit sha.

        An unknown ref raises a GitError that says which `git fetch` brings it (CI checkouts are
        often shallow).
        """
        if ref.startswith("-"):
            raise GitError(f"`{ref}` is not a git ref")
        done = self._git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"])
        if done.returncode == 0:
            return _text(done.stdout).strip()
        name = ref.removeprefix("origin/")
        if self.shallow():
            hint = (f"this clone is shallow; fetch the history: `git fetch --unshallow origin` or "
                    f"`git fetch origin {name}:refs/remotes/origin/{name}` (in GitHub Actions: "
                    "`actions/checkout` with `fetch-depth: 0`)")
        elif ref.startswith("origin/"):
            hint = f"fetch it: `git fetch origin {name}:refs/remotes/origin/{name}`"
        else:
            hint = "check the name with `git branch -a` or `git log --oneline`"
        raise GitError(f"git ref `{ref}` is not in this repository", hint)

    def merge_base(self, a: str, b: str) -> str | None:
        done = self._git(["merge-base", a, b])
        # not found: unrelated histories, or a shallow clone cut between them
        return (_text(done.stdout).strip() or None) if done.returncode == 0 else None

    def tree(self, sha: str, paths: list[str]) -> dict[str, str]:
        """Files under `paths` (relative to the Charter root) at commit `sha`: path -> blob id."""
        specs = [self.prefix + p.strip("/") for p in paths if p.strip("/") not in ("", ".")] or [self.prefix or "."]
        out = self.run("ls-tree", "-r", "-z", "--full-tree", sha, "--", *specs)
        files = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            mode, kind, blob = meta.split()
            if kind == "blob" and path.startswith(self.prefix):
                files[path[len(self.prefix):]] = blob
        return files

    def read(self, blob: str) -> bytes:
        found = self._read.pop(blob, None)  # prefetched: handed out once
        return found if found is not None else self.repo.odb.stream(bytes.fromhex(blob)).read()

    def read_rev(self, sha: str, path: str) -> bytes | None:
        """The file at `path` (relative to the Charter root) in commit `sha`, None when it is not there."""
        name = f"{sha}:{self.prefix}{path}"
        if name in self._read:
            return self._read.pop(name)
        try:
            return self.repo.git.get_object_data(name)[3]
        except ValueError:
            return None

    def prefetch(self, blobs: Iterable[str] = (), revs: Iterable[tuple[str, str]] = ()) -> None:
        """Read many objects in one `git cat-file --batch` call, for `read` and `read_rev` to hand out.

        One round trip instead of one per object: a history of 400 commits waited on the pipe
        of GitPython's persistent cat-file for a third of its time. `blobs` are ids, `revs`
        (commit, path relative to the Charter root) pairs; a missing one reads as None.
        """
        names = [*dict.fromkeys([*blobs, *(f"{sha}:{self.prefix}{path}" for sha, path in revs)])]
        names = [n for n in names if n not in self._read and "\n" not in n]  # a line each, in the protocol
        if not names:
            return
        try:
            done = subprocess.run(["git", "cat-file", "--batch"], cwd=self.top, capture_output=True, check=False,
                                  input="".join(n + "\n" for n in names).encode("utf-8", "surrogateescape"))
        except FileNotFoundError:
            raise GitError("the `git` command is not installed", "install git") from None
        if done.returncode != 0:
            return  # the reads one by one say what is wrong
        out, at = done.stdout, 0
        for name in names:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) == 3 and header[1] != b"missing":
                size = int(header[2])
                self._read[name] = out[at:at + size] if header[1] == b"blob" else None
                at += size + 1
            else:  # `<name> missing`, or `ambiguous`
                self._read[name] = None

    def read_path(self, sha: str, path: str) -> bytes | None:
        """One file at one commit (None when it does not exist there)."""
        found = self.tree(sha, [path])
        return self.read(found[path]) if path in found else None

    def commit(self, sha: str) -> Commit:
        out = self.run("show", "-s", "--format=%H%x00%an%x00%aI%x00%s", sha).rstrip("\n")
        return Commit(*out.split("\0", 3))

    def log(self, paths: list[str], rev: str = "HEAD", since: str | None = None,
            max_count: int | None = None) -> list[tuple[Commit, list[tuple]]]:
        """Commits that touched `paths`, newest first, each with its changes.

        First-parent, so a merge shows what it brought in. A change is `(status, path, old_path,
        old_blob, new_blob)`; renames are detected (`-M`), blob ids are full so contents come from
        cat-file directly.
        """
        span = f"{since}..{rev}" if since else rev
        limit = [f"--max-count={max_count}"] if max_count else []
        return self._log([*limit, span], paths)

    def changes_of(self, shas: list[str], paths: list[str]) -> dict[str, list[tuple]]:
        """Each commit's own changes under `paths` (as `log` gives them), for many commits in one call."""
        if not shas:
            return {}
        return {commit.sha: changes for commit, changes in self._log(["--no-walk=unsorted", *shas], paths)}

    def _log(self, revs: list[str], paths: list[str]) -> list[tuple[Commit, list[tuple]]]:
        specs = [self.prefix + p.strip("/") for p in paths] or [self.prefix or "."]
        out = self.run("log", "-z", "-M", "--first-parent", "-m", "--raw", "--no-abbrev",
                       "--format=%x01%H%x00%an%x00%aI%x00%s", *revs, "--", *specs)
        zero = "0" * 40
        commits = []
        for chunk in out.split("\x01")[1:]:
            header, _, rest = chunk.partition("\n")
            commit = Commit(*header.split("\0")[:4])
            tokens = [t.lstrip("\n") for t in rest.split("\0")]
            tokens = [t for t in tokens if t]
            changes: list[tuple[str, str, str | None, str | None, str | None]] = []
            i = 0
            while i < len(tokens):
                meta = tokens[i].lstrip(":").split()
                status = meta[4]
                old_blob = None if meta[2] == zero else meta[2]
                new_blob = None if meta[3] == zero else meta[3]
                if status[:1] in "RC":
                    changes.append((status[0], self._rel(tokens[i + 2]), self._rel(tokens[i + 1]), old_blob, new_blob))
                    i += 3
                else:
                    path = self._rel(tokens[i + 1])
                    changes.append((status[:1], path, None, old_blob, new_blob))
                    i += 2
            commits.append((commit, changes))
        return commits

    def _rel(self, path: str) -> str:
        return path[len(self.prefix):] if path.startswith(self.prefix) else "../" + path


def _text(out: bytes) -> str:
    """Git's output as text; names in other bytes survive (surrogateescape), as GitPython decodes them."""
    return out.decode("utf-8", "surrogateescape")


def _command(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("the `git` command is not installed", "install git") from None


def _toplevel(start: Path) -> Path:
    """The work tree holding `start`: the nearest folder upwards with a `.git` (a folder, or a worktree's file)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    if start.is_dir():  # GIT_DIR and GIT_WORK_TREE, or a layout the walk does not know: ask git
        done = _command(["git", "rev-parse", "--show-toplevel"], start)
        if done.returncode == 0 and _text(done.stdout).strip():
            return Path(_text(done.stdout).strip()).resolve()
    raise GitError(f"{start} is not inside a git repository", "run `git init` and commit the specs")


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob, so working-tree files compare with committed ones."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's own id


def under(path: str, folders: list[str]) -> bool:
    for folder in folders:
        f = folder.strip("/")
        if f in ("", ".") or path == f or path.startswith(f + "/"):
            return True
    return False

"""Atomic file writes: readers and a crash mid-write never see a partial file or a half-updated set.

A write goes to a temp file in the target folder, then `os.replace` puts it in place. A set
of files (what `charter compile` writes) is written aside whole first, then switched in with
renames only, which need no space: a full disk or a read-only folder leaves the previous set.
`os_problem` turns the machine's refusals (disk full, permission denied, read-only file
system) into a sentence naming the path, for a clean exit 2.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
from pathlib import Path

_MEANING = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
            errno.EROFS: "the file system is read-only", errno.EFBIG: "the file is too large for the file system"}
_HINT = {errno.ENOSPC: "free some space there (or write elsewhere) and run again",
         errno.EDQUOT: "free some space within the quota (or write elsewhere) and run again",
         errno.EROFS: "run where the folder is writable, or write elsewhere"}  # fmt: skip
# polars reports an I/O failure as its own error whose text ends with `(os error 28)`.
_RUST_IO = re.compile(r"\(os error (\d+)\)")


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """`durable=False` skips the fsync: still never a partial file, but a power cut may lose the write.

    For files a command regenerates (compile writes ~1,000 on a large tree, and the fsyncs were a
    seventh of its time); the lock and caches stay durable.
    """
    tmp = _aside(path, data, mode, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_set(files: dict[Path, str | bytes], *, durable: bool = False) -> None:
    """Write every file aside, then rename them all into place; on any failure, change nothing."""
    switch(stage(files, durable=durable))


Staged = list[tuple[str, Path]]  # (temp file, the path it is to replace)


def stage(files: dict[Path, str | bytes], *, durable: bool = False) -> Staged:
    """Every file written aside (a complete temp copy beside it); on a failure none is left."""
    written: Staged = []
    folders: set[Path] = set()  # made already: one mkdir per folder, not per file
    try:
        for path, data in files.items():
            written.append((_aside(path, data, 0o644, durable, folders), path))
    except BaseException:
        discard(written)
        raise
    return written


def switch(staged: Staged) -> None:
    """Rename staged files into place: in folders just written to, no space needed, nothing to refuse."""
    for tmp, path in staged:
        os.replace(tmp, path)


def discard(staged: Staged) -> None:
    for tmp, _ in staged:
        Path(tmp).unlink(missing_ok=True)


_NAMES = itertools.count()


def _aside(path: Path, data: str | bytes, mode: int, durable: bool, folders: set[Path] | None = None) -> str:
    """A complete temp copy of `data` beside `path`; its name, or the OSError naming `path`.

    The temp file is `.NAME.PID.N.tmp`, created exclusively (a name taken by another process or
    a crashed run is skipped), with `mode` whatever the umask (as `mkstemp` and a chmod gave,
    in fewer system calls: a compile writes about a thousand files).
    """
    tmp = None
    try:
        parent = path.parent
        if folders is None or parent not in folders:
            parent.mkdir(parents=True, exist_ok=True)
            if folders is not None:
                folders.add(parent)
        for _ in range(100):
            name = f"{parent}/.{path.name}.{os.getpid()}.{next(_NAMES)}.tmp"
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            except FileExistsError:
                continue
            tmp = name
            break
        else:
            raise FileExistsError(errno.EEXIST, "no free temporary name beside the file", str(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            os.fchmod(fh.fileno(), mode)  # ordinary repository files, not 0600
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        return tmp
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and (exc.filename is None or tmp is not None and exc.filename == tmp):
            exc.filename = str(path)  # write() and fsync() name no file: say which one it was
        raise


def os_problem(exc: BaseException, where: str | None = None, doing: str = "write") -> tuple[str, str] | None:
    """`(message, hint)` for a disk-full, permission or read-only error; None for anything else.

    `where` names the file or folder when the error does not (a write that ran out of space);
    `doing` is what was refused when it was permission (`write`, or `access` when unknown).
    """
    number = exc.errno if isinstance(exc, OSError) else None
    if number is None:
        match = _RUST_IO.search(str(exc))
        number = int(match.group(1)) if match and type(exc).__module__.startswith("polars") else None
    if number not in _MEANING:
        return None
    path = (exc.filename if isinstance(exc, OSError) else None) or where
    verb = doing if number in (errno.EACCES, errno.EPERM) else "write"
    message = f"cannot {verb} `{path}`: {_MEANING[number]}" if path else f"cannot {verb}: {_MEANING[number]}"
    hint = _HINT.get(number, "make the folder writable for this user, or write elsewhere")
    return message + f" ({errno.errorcode[number]})", hint + "; the previous outputs are left as they were"

"""Atomic file writes: readers and a crash mid-write never see a partial file.

A write goes to a temp file in the target folder, then `os.replace` puts it in place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """`durable=False` skips the fsync: still never a partial file, but a power cut may lose the write.

    For files a command regenerates (compile writes ~1,000 on a large tree, and the fsyncs were a
    seventh of its time); the lock and caches stay durable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600; these are ordinary repository files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

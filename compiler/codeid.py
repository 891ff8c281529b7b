"""The identity of the Charter code that is running.

Caches of derived data (the IR, parsed specs, rendered files) are keyed by it, so an edited
checkout never reads what other code wrote. A low layer with no imports of Charter, so every layer
can use it.
"""

from __future__ import annotations

import functools
import hashlib
import os

import compiler


@functools.cache
def code_fingerprint() -> str:
    """Version plus the size and mtime of every module.

    Editing a module changes it, so an edited checkout never reads a cache written by other code.
    """
    digest = hashlib.sha256(compiler.__version__.encode())
    base = os.path.dirname(compiler.__file__)
    cut = len(base) + 1
    found = []
    folders = [base]
    while folders:  # scandir by hand: a third of os.walk with os.stat and os.path.relpath, on every command
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                elif entry.name.endswith((".py", ".json", ".md")):
                    st = entry.stat()
                    found.append(f"{entry.path[cut:]}\0{st.st_size}\0{st.st_mtime_ns}\n")
    for line in sorted(found):
        digest.update(line.encode())
    return digest.hexdigest()

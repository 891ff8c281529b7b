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
    found = []
    for folder, dirs, names in os.walk(base):  # os.walk: a third of pathlib's cost, on every command
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if name.endswith((".py", ".json", ".md")):
                path = os.path.join(folder, name)
                st = os.stat(path)
                found.append(f"{os.path.relpath(path, base)}\0{st.st_size}\0{st.st_mtime_ns}\n")
    for line in sorted(found):
        digest.update(line.encode())
    return digest.hexdigest()

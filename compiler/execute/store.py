"""The artifact store: one folder per step run, keyed by the run key, written atomically.

A step run writes its outputs into a temporary folder next to its final place and renames it
when complete, so an interrupted run never leaves a half-written artifact that a later run
could mistake for a cached result. Today the store is a local folder (relative to the
repository root, or an absolute path, or a `file://` URL).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from compiler.execute.failure import RunError

DONE = "_SUCCESS"


class Store:
    """A local artifact store rooted at `base`."""

    def __init__(self, uri: str, root: Path):
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme else uri)
            self.base = path if path.is_absolute() else (root / path)
        else:
            raise RunError(f"artifact store `{parsed.scheme}://` is not supported yet; use a local folder",
                           hint="set `artifact_store` in charter.yaml to a folder such as `.charter/artifacts`")
        self.uri = uri

    def step_dir(self, run_key: str) -> Path:
        return self.base / "steps" / run_key[:2] / run_key

    def has(self, run_key: str) -> bool:
        return (self.step_dir(run_key) / DONE).is_file()

    @contextmanager
    def writing(self, run_key: str):
        """Yield a temp folder; on success it becomes the step's folder, atomically."""
        final = self.step_dir(run_key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{run_key[:12]}."))
        try:
            yield tmp
            (tmp / DONE).write_text("", encoding="utf-8")
            if final.exists():  # an earlier, interrupted or concurrent run: replace it
                trash = final.parent / f".trash.{uuid.uuid4().hex}"
                os.replace(final, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def promote(self, model: str, version: str, source: Path) -> Path:
        """Copy a packaged model to `models/<model>/<version>/`, atomically; return its folder."""
        final = self.base / "models" / model / version
        if (final / DONE).is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{version}."))
        try:
            for item in sorted(source.iterdir()):
                if item.is_file():
                    shutil.copy2(item, tmp / item.name)
            (tmp / DONE).write_text("", encoding="utf-8")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
                    encoding="utf-8")


def read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))

"""The artifact store: one folder per step run, keyed by the run key, written atomically.

A step run writes its outputs into a temporary folder next to its final place and renames it
when complete, so an interrupted run never leaves a half-written artifact that a later run
could mistake for a cached result. The store is a local folder (relative to the repository
root, an absolute path, or a `file://` URL), or any fsspec URL (`s3://`, `gs://`, `az://`,
`memory://`, ...): then steps are built in a local cache and uploaded with their `_SUCCESS`
marker last, which is what makes a remote folder count as complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from compiler.execute.failure import RunError

DONE = "_SUCCESS"


DEFAULT_STORE = ".charter/artifacts"


def store_uri(explicit: str | None, project: dict) -> str:
    """The artifact store a command uses, the same way for every command and generated job.

    `--store`, then `$CHARTER_STORE` (how CI jobs, pipeline pods and servers are pointed at a
    shared store), then charter.yaml's `artifact_store` (by default the local folder
    `.charter/artifacts`).
    """
    return explicit or os.environ.get("CHARTER_STORE") or project.get("artifact_store") or DEFAULT_STORE


def open_store(uri: str, root: Path) -> Store:
    """A local store for paths and `file://` URLs, a remote one for any other fsspec URL."""
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] == ":\\"):
        return Store(uri, root)
    return RemoteStore(uri, root)


class Store:
    """A local artifact store rooted at `base`."""

    def __init__(self, uri: str, root: Path):
        parsed = urlparse(uri)
        path = Path(parsed.path if parsed.scheme == "file" else uri)
        self.base = path if path.is_absolute() else (root / path)
        self.uri = uri

    def step_dir(self, run_key: str) -> Path:
        return self.base / "steps" / run_key[:2] / run_key

    def has(self, run_key: str) -> bool:
        return (self.step_dir(run_key) / DONE).is_file()

    @contextmanager
    def writing(self, run_key: str):
        """Yield a temp folder; on success it becomes the step's folder, atomically.

        Temp folders carry this process's id (`.<key>.<pid>.<random>`), so the next writer into
        the same folder removes those of processes that are gone (a killed run), never those
        of a run still going. Publication holds a per-step file lock: two runs of one step at
        once leave one complete folder.
        """
        final = self.step_dir(run_key)
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep(final.parent)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{run_key[:12]}.{os.getpid()}."))
        try:
            yield tmp
            (tmp / DONE).write_text("", encoding="utf-8")
            with _publishing(final):
                _replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def model_dir(self, model: str, version: str) -> Path | None:
        """The promoted package of `model` at `version` as a local folder.

        None when the store does not hold it complete, with its `_SUCCESS` marker.
        """
        folder = self.base / "models" / model / version
        return folder if (folder / DONE).is_file() else None

    def has_model(self, model: str, version: str) -> bool:
        """Whether the store holds the promoted package of `model` at `version` (nothing is downloaded)."""
        return (self.base / "models" / model / version / DONE).is_file()

    # -- plain files (the prediction log): relative '/'-separated paths under the store's root --
    def put(self, rel: str, data: bytes) -> None:
        """Write one file whole (a reader never sees part of it)."""
        final = self.base / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(data)
        os.replace(tmp, final)

    def listing(self, rel: str) -> list[str]:
        """The files under `rel` (relative paths, sorted); temp files left out."""
        folder = self.base / rel
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.base).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def get(self, rel: str) -> bytes:
        return (self.base / rel).read_bytes()

    def promote(self, model: str, version: str, source: Path) -> Path:
        """Copy a packaged model to `models/<model>/<version>/`, atomically; return its folder."""
        return self._promote_local(model, version, source)

    def _promote_local(self, model: str, version: str, source: Path) -> Path:
        final = self.base / "models" / model / version
        if (final / DONE).is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep(final.parent)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{version}.{os.getpid()}."))
        try:
            for item in sorted(source.iterdir()):
                if item.is_file():
                    shutil.copy2(item, tmp / item.name)
            (tmp / DONE).write_text("", encoding="utf-8")
            with _publishing(final):
                if (final / DONE).is_file():  # a concurrent run promoted it meanwhile
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                _replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final


class RemoteStore(Store):
    """An fsspec store; `base` is a local cache (also home of run bookkeeping)."""

    def __init__(self, uri: str, root: Path):
        try:
            import fsspec
        except ImportError:
            raise RunError("remote artifact stores need fsspec", hint="pip install fsspec") from None
        try:
            self.fs, self.remote = fsspec.core.url_to_fs(uri)
        except (ImportError, ValueError) as exc:
            raise RunError(f"cannot open artifact store `{urlparse(uri).scheme}://`: {exc}",
                           hint="install the fsspec implementation for it (s3fs, gcsfs, adlfs, ...)") from None
        import hashlib

        self.uri = uri.rstrip("/")
        self.base = root / ".charter" / "store-cache" / hashlib.sha256(self.uri.encode()).hexdigest()[:12]

    def _remote(self, *parts: str) -> str:
        return "/".join([self.remote.rstrip("/"), *parts])

    def _remote_step(self, run_key: str) -> str:
        return self._remote("steps", run_key[:2], run_key)

    def has(self, run_key: str) -> bool:
        return super().has(run_key) or self.fs.exists(self._remote_step(run_key) + "/" + DONE)

    def step_dir(self, run_key: str) -> Path:
        local = super().step_dir(run_key)
        if not (local / DONE).is_file() and self.fs.exists(self._remote_step(run_key) + "/" + DONE):
            self._download(self._remote_step(run_key), local)
        return local

    def _download(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{local.name[:12]}."))
        try:
            for path in self.fs.find(remote):
                name = path.rstrip("/").rsplit("/", 1)[-1]
                self.fs.get_file(path, str(tmp / name))
            if local.exists():
                shutil.rmtree(local)
            os.replace(tmp, local)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _upload(self, local: Path, remote: str) -> None:
        # Every file first, the `_SUCCESS` marker last: readers trust only marked folders.
        self.fs.makedirs(remote, exist_ok=True)
        for item in sorted(local.iterdir()):
            if item.is_file() and item.name != DONE:
                self.fs.put_file(str(item), f"{remote}/{item.name}")
        self.fs.put_file(str(local / DONE), f"{remote}/{DONE}")

    @contextmanager
    def writing(self, run_key: str):
        with super().writing(run_key) as tmp:
            yield tmp
        self._upload(super().step_dir(run_key), self._remote_step(run_key))

    def model_dir(self, model: str, version: str) -> Path | None:
        local = super().model_dir(model, version)
        if local is not None:
            return local
        remote = self._remote("models", model, version)
        if not self.fs.exists(f"{remote}/{DONE}"):
            return None
        self._download(remote, self.base / "models" / model / version)
        return super().model_dir(model, version)

    def has_model(self, model: str, version: str) -> bool:
        return super().has_model(model, version) or self.fs.exists(self._remote("models", model, version, DONE))

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._remote(rel), data)  # one object, written whole

    def listing(self, rel: str) -> list[str]:
        root = self.remote.rstrip("/")
        try:
            found = self.fs.find(self._remote(rel))
        except FileNotFoundError:
            return []
        out = []
        for path in found:
            path = path.rstrip("/")
            relpath = path[len(root):].lstrip("/") if path.startswith(root) else path.split(root.lstrip("/"), 1)[-1]
            if not relpath.rsplit("/", 1)[-1].startswith("."):
                out.append(relpath.lstrip("/"))
        return sorted(out)

    def get(self, rel: str) -> bytes:
        return self.fs.cat_file(self._remote(rel))

    def promote(self, model: str, version: str, source: Path) -> Path:
        local = super().promote(model, version, source)
        remote = self._remote("models", model, version)
        if not self.fs.exists(f"{remote}/{DONE}"):
            self._upload(local, remote)
        return local


def json_text(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _replace(tmp: Path, final: Path) -> None:
    if final.exists():  # an earlier, interrupted or concurrent run: replace it
        trash = final.parent / f".trash.{os.getpid()}.{uuid.uuid4().hex}"
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, final)


@contextmanager
def _publishing(final: Path):
    from filelock import FileLock

    with FileLock(str(final.parent / f".{final.name}.lock"), timeout=300):
        yield


def sweep(folder: Path) -> None:
    """Remove the temp folders (`.<name>.<pid>.<random>`) of processes that no longer run."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split(".")
        if entry.name.startswith(".") and entry.is_dir() and len(parts) >= 4 and parts[-2].isdigit():
            if not _alive(int(parts[-2])):
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def write_json(path: Path, value: object) -> None:
    path.write_text(json_text(value), encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))

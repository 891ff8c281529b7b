"""A Feast feature repository's registry, read without Feast: its feature views, features and services.

`charter validate` (a core command) checks a `format: feast` source's references here, and
`charter run` fingerprints the registry and the feature views' files from it, so neither imports
Feast nor executes the feature repository's Python. What is read:

- `feature_store.yaml` (PyYAML): `project` and `registry`;
- the registry it names: a file registry (`registry: data/registry.db`, one serialized
  `feast.core.Registry` message) or a SQL registry on SQLite (`registry_type: sql`,
  `path: sqlite:///...`, a table per object type holding each object's serialized message);
- from each message only the fields needed: names, feature names and file sources' paths, by
  their field numbers in Feast's `protos/feast/core/*.proto`. Those numbers are Feast's wire
  contract (its registries outlive its versions), so a few lines of protobuf wire-format
  decoding stand in for Feast's generated classes.

Relative paths resolve as Feast resolves them: a file registry and file sources against the
feature repository, a relative SQLite URL against it too (`feast apply` runs there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["FeatureService", "FeatureView", "Registry", "RegistryError", "read_registry", "registry_files"]

CONFIG = "feature_store.yaml"


class RegistryError(Exception):
    """The registry cannot be read. `missing` says it was never written (`feast apply` never ran)."""

    def __init__(self, message: str, hint: str | None = None, *, missing: bool = False, local: bool = True):
        super().__init__(message)
        self.message, self.hint, self.missing, self.local = message, hint, missing, local


@dataclass(frozen=True, slots=True)
class FeatureView:
    """A feature view (batch, stream or on-demand) and the names of its features."""

    name: str
    features: tuple[str, ...]
    sources: tuple[str, ...] = ()  # the URIs of its file sources, as written in the registry


@dataclass(frozen=True, slots=True)
class FeatureService:
    """A feature service: (feature view, feature) pairs, the view under its alias when it has one."""

    name: str
    features: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Registry:
    """The objects of one Feast project, and the file they were read from."""

    project: str
    path: Path
    views: dict[str, FeatureView] = field(default_factory=dict)
    services: dict[str, FeatureService] = field(default_factory=dict)


def read_registry(repo: Path) -> Registry:
    """The registry of the feature repository in folder `repo`; RegistryError when it cannot be read."""
    project, kind, path = _locate(repo)
    shown = path.relative_to(repo).as_posix() if path.is_relative_to(repo) else path.name
    if not path.is_file():
        raise RegistryError(f"the Feast registry `{shown}` does not exist",
                            "run `feast apply` in the feature repository to write it", missing=True)
    try:
        if kind == "sql":
            views, services = _read_sql(path, project)
        else:
            views, services = _read_file(path.read_bytes(), project)
    except (ValueError, UnicodeDecodeError) as exc:
        kind_name = "SQLite" if kind == "sql" else "file"
        raise RegistryError(f"the Feast registry `{shown}` cannot be read as a {kind_name} registry ({exc})",
                            "run `feast apply` in the feature repository again") from None
    return Registry(project, path, views, services)


def registry_files(repo: Path) -> Iterator[Path]:
    """What a point-in-time join reads besides the entity rows, in a stable order.

    Those are feature_store.yaml, the registry and the file sources of the project's feature views
    (each file of a folder source).
    """
    yield repo / CONFIG
    registry = read_registry(repo)
    yield registry.path
    seen = set()
    for view in sorted(registry.views.values(), key=lambda v: v.name):
        for uri in view.sources:
            path = Path(uri.removeprefix("file://"))
            path = path if path.is_absolute() else repo / path
            if "://" in uri.removeprefix("file://") or path in seen:
                continue  # object storage: not a local file, not fingerprinted
            seen.add(path)
            yield from sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _locate(repo: Path) -> tuple[str, str, Path]:
    """(project, "file" or "sql", registry path) from the repository's feature_store.yaml."""
    config_path = repo / CONFIG
    try:
        config = yaml.safe_load(config_path.read_text("utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"the folder has no `{CONFIG}`",
                            "`feast.repo` names the folder of a Feast feature repository") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RegistryError(f"`{CONFIG}` cannot be read: {type(exc).__name__}") from None
    if not isinstance(config, dict) or not isinstance(config.get("project"), str):
        raise RegistryError(f"`{CONFIG}` names no `project`")
    registry = config.get("registry", "data/registry.db")
    if isinstance(registry, str):
        registry = {"path": registry}
    if not isinstance(registry, dict) or not isinstance(registry.get("path"), str):
        raise RegistryError(f"`registry` in `{CONFIG}` has no `path`")
    kind, where = str(registry.get("registry_type", "file")), registry["path"]
    if kind == "sql":
        if not where.startswith("sqlite:///"):
            raise RegistryError(f"the Feast registry is the database `{where.split('://')[0]}`, not a local "
                                "SQLite file", local=False)
        where = where.removeprefix("sqlite:///")
    elif kind != "file" or "://" in where.removeprefix("file://"):
        raise RegistryError(f"the Feast registry `{where}` is not a local file", local=False)
    path = Path(where.removeprefix("file://"))
    return config["project"], kind, path if path.is_absolute() else repo / path


# --- the registry's two layouts -------------------------------------------------------------------

# The fields of feast.core.Registry holding views and services; per kind, the field numbers of its
# spec's `features` and `batch_source` (FeatureView.proto, StreamFeatureView.proto, OnDemandFeatureView.proto).
_VIEWS = {6: (4, 7), 14: (4, 10), 8: (3, None)}  # feature_views, stream_feature_views, on_demand_feature_views
_SERVICES = 7
_TABLES = {"feature_views": (4, 7), "stream_feature_views": (4, 10), "on_demand_feature_views": (3, None)}


def _read_file(data: bytes, project: str) -> tuple[dict[str, FeatureView], dict[str, FeatureService]]:
    top = _message(data)
    views = {}
    for number, (features, source) in _VIEWS.items():
        for blob in top.get(number, ()):
            view = _view(blob, features, source, project)
            if view is not None:
                views[view.name] = view
    services = {s.name: s for s in (_service(b, project) for b in top.get(_SERVICES, ())) if s is not None}
    return views, services


def _read_sql(path: Path, project: str) -> tuple[dict[str, FeatureView], dict[str, FeatureService]]:
    import sqlite3  # here, not at the top: only a SQL registry needs it (4 ms of every validate otherwise)

    try:
        # Read-only and immutable: validate never writes, nor waits on a writer's lock.
        with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "feature_views" not in tables:
                raise ValueError("it has no `feature_views` table")
            views = {}
            for table, (features, source) in _TABLES.items():
                if table in tables:
                    query = f"SELECT feature_view_proto FROM {table} WHERE project_id = ?"
                    for (blob,) in db.execute(query, (project,)):
                        view = _view(blob, features, source, project)
                        if view is not None:
                            views[view.name] = view
            services = {}
            if "feature_services" in tables:
                for (blob,) in db.execute("SELECT feature_service_proto FROM feature_services WHERE project_id = ?",
                                          (project,)):
                    service = _service(blob, project)
                    if service is not None:
                        services[service.name] = service
        return views, services
    except sqlite3.Error as exc:  # as a damaged file registry: RegistryError in read_registry's words
        raise ValueError(str(exc)) from None


def _view(blob: bytes, features: int, source: int | None, project: str) -> FeatureView | None:
    # FeatureView{spec = 1}; its spec {name = 1, project = 2, features, batch_source}; FeatureSpecV2{name = 1}
    spec = _message(_first(_message(blob), 1))
    if _text(spec, 2) not in (project, ""):  # Feast leaves a service's `project` empty
        return None
    names = tuple(_text(_message(f), 1) for f in spec.get(features, ()))
    uris: tuple[str, ...] = ()
    if source is not None and spec.get(source):
        # DataSource{file_options = 11}; FileOptions{uri = 2}
        options = _message(_first(_message(spec[source][0]), 11))
        uris = (uri,) if (uri := _text(options, 2)) else ()
    return FeatureView(_text(spec, 1), names, uris)


def _service(blob: bytes, project: str) -> FeatureService | None:
    # FeatureService{spec = 1}; FeatureServiceSpec{name = 1, project = 2, features = 3};
    # FeatureViewProjection{feature_view_name = 1, feature_columns = 2, feature_view_name_alias = 3}
    spec = _message(_first(_message(blob), 1))
    if _text(spec, 2) not in (project, ""):  # Feast leaves a service's `project` empty
        return None
    pairs = []
    for projection in map(_message, spec.get(3, ())):
        view = _text(projection, 3) or _text(projection, 1)
        pairs += [(view, _text(_message(c), 1)) for c in projection.get(2, ())]
    return FeatureService(_text(spec, 1), tuple(pairs))


# --- protobuf wire format: only what the fields above need ------------------------------------------


def _message(data: bytes) -> dict[int, list[bytes]]:
    """The length-delimited fields of one message (strings, bytes, sub-messages), by field number.

    Scalars are skipped over. Malformed bytes raise ValueError.
    """
    fields: dict[int, list[bytes]] = {}
    i, end = 0, len(data)
    while i < end:
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = _varint(data, i)
            if i + length > end:
                raise ValueError("a field runs past the end of its message")
            fields.setdefault(number, []).append(data[i:i + length])
            i += length
        else:  # groups (3, 4) are proto2 only; 6 and 7 do not exist
            raise ValueError(f"wire type {wire} is not used by Feast's messages")
    if i != end:
        raise ValueError("the last field is cut short")
    return fields


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while shift < 64:
        if i >= len(data):
            raise ValueError("a varint runs past the end of its message")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7
    raise ValueError("a varint is longer than 10 bytes")


def _first(fields: dict[int, list[bytes]], number: int) -> bytes:
    return fields.get(number, [b""])[-1]  # a repeated scalar: the last one wins


def _text(fields: dict[int, list[bytes]], number: int) -> str:
    return _first(fields, number).decode("utf-8")

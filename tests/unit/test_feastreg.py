"""The Feast registry reader (`compiler.feastreg`) on registries written by a real `feast apply`.

The committed registries (tests/fixtures/feast/, made by `python -m tests.feastrepo` in the Feast
venv) hold what tests/feastrepo.py defines: the feature view `driver_stats` (conv_rate, acc_rate,
trips) over a Parquet file, and the feature service `driver_activity` (conv_rate, trips). The
integration tier (tests/integration/test_feast.py) reads freshly applied registries the same way
and compares with what Feast itself lists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.feastreg import FeatureService, FeatureView, RegistryError, _message, read_registry, registry_files
from tests.feastrepo import FIXTURES, config, sqlite_registry

VIEW = FeatureView("driver_stats", ("conv_rate", "acc_rate", "trips"), ("data/driver_stats.parquet",))
SERVICE = FeatureService("driver_activity", (("driver_stats", "conv_rate"), ("driver_stats", "trips")))


def repo(tmp_path: Path, registry: str, text: str | None = None) -> Path:
    folder = tmp_path / "feature_repo"
    (folder / "data").mkdir(parents=True)
    (folder / "feature_store.yaml").write_text(text if text is not None else config(registry))
    if registry == "sql":
        sqlite_registry(folder)
    elif registry == "file":
        shutil.copy(FIXTURES / "registry.pb", folder / "data" / "registry.pb")
    return folder


@pytest.mark.parametrize("kind", ["sql", "file"])
def test_reads_views_features_and_services_of_both_registry_kinds(tmp_path, kind):
    registry = read_registry(repo(tmp_path, kind))
    assert registry.project == "rides"
    assert registry.views == {"driver_stats": VIEW}
    assert registry.services == {"driver_activity": SERVICE}
    assert registry.path.name == ("registry.db" if kind == "sql" else "registry.pb")


@pytest.mark.parametrize("kind", ["sql", "file"])
def test_another_project_sees_none_of_them(tmp_path, kind):
    registry = read_registry(repo(tmp_path, kind, config(kind).replace("project: rides", "project: other")))
    assert registry.views == {}


def test_the_files_a_join_reads_are_listed_in_order(tmp_path):
    folder = repo(tmp_path, "sql")
    assert list(registry_files(folder)) == [folder / "feature_store.yaml", folder / "data" / "registry.db",
                                            folder / "data" / "driver_stats.parquet"]


def test_a_registry_never_applied_says_to_run_feast_apply(tmp_path):
    with pytest.raises(RegistryError) as err:
        read_registry(repo(tmp_path, "none", config("sql")))
    assert err.value.missing and "`data/registry.db` does not exist" in err.value.message
    assert "feast apply" in err.value.hint


@pytest.mark.parametrize(("registry", "words"), [
    ("registry: s3://bucket/registry.pb\n", "not a local file"),
    ("registry: {registry_type: sql, path: 'postgresql://feast@db/feast'}\n", "the database `postgresql`"),
])
def test_a_remote_registry_is_not_local(tmp_path, registry, words):
    with pytest.raises(RegistryError) as err:
        read_registry(repo(tmp_path, "none", f"project: rides\n{registry}"))
    assert not err.value.local and words in err.value.message


@pytest.mark.parametrize(("text", "words"), [
    (None, "no `feature_store.yaml`"),
    ("registry: data/registry.pb\n", "names no `project`"),
    ("project: [a\n", "cannot be read"),
])
def test_a_folder_that_is_no_feature_repository(tmp_path, text, words):
    folder = tmp_path / "feature_repo"
    folder.mkdir()
    if text is not None:
        (folder / "feature_store.yaml").write_text(text)
    with pytest.raises(RegistryError) as err:
        read_registry(folder)
    assert words in err.value.message and err.value.local and not err.value.missing


@pytest.mark.parametrize("cut", [5, 100, 700])
def test_a_registry_cut_short_is_an_error_not_a_crash(tmp_path, cut):
    folder = repo(tmp_path, "file")
    path = folder / "data" / "registry.pb"
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(RegistryError) as err:
        read_registry(folder)
    assert "cannot be read as a file registry" in err.value.message


def test_a_file_that_is_no_sqlite_database(tmp_path):
    folder = repo(tmp_path, "none", config("sql"))
    (folder / "data" / "registry.db").write_text("not a database, " * 100)
    with pytest.raises(RegistryError, match="cannot be read as a SQLite registry"):
        read_registry(folder)


def test_the_wire_decoder_agrees_with_protobufs_own_encoder():
    """Field numbers, lengths past one byte and skipped scalars, as google.protobuf writes them."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    proto = descriptor_pb2.FileDescriptorProto(name="x" * 300, package="p", syntax="proto3")
    for i in range(3):
        message = proto.message_type.add(name=f"M{i}")
        message.field.add(name="f", number=2**20 + i, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64)
    fields = _message(proto.SerializeToString())
    assert fields[1] == [b"x" * 300] and fields[2] == [b"p"] and fields[12] == [b"proto3"]
    names = [_message(m)[1][0] for m in fields[4]]
    assert names == [b"M0", b"M1", b"M2"]
    assert [_message(_message(m)[2][0])[1][0] for m in fields[4]] == [b"f"] * 3  # number (a varint) skipped

"""`format: feast` outside Feast's venv: the IR, the fingerprint, the runner image, and the install line.

The join itself runs in the integration tier (tests/integration/test_feast.py, Feast's venv).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.driver import compile_tree
from compiler.execute.fingerprint import fingerprint
from tests.feastrepo import FIXTURES, sqlite_registry

CASES = Path(__file__).parents[1] / "cases"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The positive case `feast` on the cases' base: a feast source over a file registry."""
    root = tmp_path / "repo"
    shutil.copytree(CASES / "base", root)
    shutil.copytree(CASES / "positive" / "feast", root, dirs_exist_ok=True)
    (root / "data").mkdir()
    (root / "data" / "orders.csv").write_text("order_id,driver_id,order_time,late\no1,1,2026-01-05 10:00,true\n")
    (root / "feature_repo" / "data" / "driver_stats.parquet").write_bytes(b"PAR1 stand-in PAR1")
    return root


def _ingest(root: Path, name: str) -> dict:
    result, graph = compile_tree(root)
    assert graph is not None, [d.to_dict() for d in result.diagnostics]
    return graph.check(name).step("ingest").params


def test_the_ir_carries_the_entity_sources_reader(tree):
    params = _ingest(tree, "order-features")
    assert params["format"] == "feast" and "path" in params and params["path"] is None
    feast = params["feast"]
    assert feast["entity_source"]["source"] == "orders" and feast["entity_source"]["format"] == "csv"
    assert feast["features"] == ["driver_stats:conv_rate", "driver_stats:trips"] and feast["timestamp"] == "order_time"
    assert "feast" not in _ingest(tree, "orders")  # other sources keep their step hashes


def test_the_fingerprint_follows_the_entity_rows_the_registry_and_the_feature_files(tree):
    params = _ingest(tree, "order-features")
    first = fingerprint(params, tree)
    assert fingerprint(params, tree) == first
    changes = [tree / "data" / "orders.csv", tree / "feature_repo" / "data" / "driver_stats.parquet",
               tree / "feature_repo" / "feature_store.yaml", tree / "feature_repo" / "data" / "registry.pb"]
    seen = {first}
    for path in changes:
        path.write_bytes(path.read_bytes() + b"\n")
        now = fingerprint(params, tree)
        assert now not in seen, path
        seen.add(now)
    (tree / "feature_repo" / "data" / "registry.pb").unlink()  # feast apply never ran: still a fingerprint
    assert fingerprint(params, tree) not in seen


def test_a_sqlite_registry_is_fingerprinted_too(tree):
    (tree / "feature_repo" / "feature_store.yaml").write_text(
        (FIXTURES.parent.parent / "cases" / "positive" / "feast" / "feature_repo" / "feature_store.yaml").read_text()
        .replace("registry: data/registry.pb\n", "registry:\n  registry_type: sql\n  path: sqlite:///data/registry.db\n"))
    sqlite_registry(tree / "feature_repo")
    params = _ingest(tree, "order-features")
    first = fingerprint(params, tree)
    (tree / "feature_repo" / "data" / "driver_stats.parquet").write_bytes(b"PAR1 other PAR1")
    assert fingerprint(params, tree) != first


def test_the_runner_image_installs_feast(tree):
    """With the model server too (the cases' base serves with charter): requirements/feast.txt pins both."""
    result, graph = compile_tree(tree)
    from compiler.render import runner

    dockerfile = runner.render(graph, "generated")["generated/runner/Dockerfile"]
    assert 'ARG CHARTER_PACKAGE="charter[run,serve,feast]==' in dockerfile


def test_without_feast_ingest_says_what_to_install(tree):
    pytest.importorskip("polars")
    try:
        import feast  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Feast is installed: the integration tier runs the join")
    from compiler.execute.failure import RunError
    from compiler.execute.ingest import read_source

    with pytest.raises(RunError) as err:
        read_source(_ingest(tree, "order-features"), tree)
    assert err.value.hint == "pip install -c requirements/feast.txt 'charter[feast]'"
    assert "joins features with Feast, which is not installed" in err.value.message


def test_a_past_revision_is_validated_without_its_registry(tree):
    """`plan` rebuilds a base revision from its specs alone: no registry there is no problem of its own."""
    shutil.rmtree(tree / "feature_repo")
    from compiler.driver import validate_tree

    assert [d.code for d in validate_tree(tree).diagnostics] == ["X318", "X318"]
    assert validate_tree(tree, beside_specs=False).diagnostics == ()


def test_a_registry_never_applied_fails_ingest_with_what_to_run(tree):
    pytest.importorskip("polars")
    from compiler.execute.errors import DataError
    from compiler.execute.ingest import read_source

    params = _ingest(tree, "order-features")
    (tree / "feature_repo" / "data" / "registry.pb").unlink()
    with pytest.raises(DataError) as err:
        read_source(params, tree)
    assert "the Feast registry `data/registry.pb` does not exist (feature repository `feature_repo`)" in str(err.value)
    assert err.value.hint == "run `feast apply` in the feature repository to write it"

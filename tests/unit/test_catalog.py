"""The scikit-learn catalog: staleness against the installed scikit-learn, value checks, no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compiler import catalog
from compiler.catalog import check_value, generate, settable
from tests.conftest import REPO


def _need_sklearn():
    """scikit-learn is a dev dependency; without it the test skips, but fails under CI."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("scikit-learn is not installed and CI is set; `pip install -e '.[dev]'`")
        pytest.skip("scikit-learn is not installed")


def test_committed_catalog_matches_installed_sklearn():
    _need_sklearn()
    built = generate.build()
    expected = generate.render(built)
    current = generate.CATALOG.read_text("utf-8")
    if current != expected:
        first = next((i for i, (a, b) in enumerate(zip(current.splitlines(), expected.splitlines(), strict=False), 1)
                      if a != b), min(current.count("\n"), expected.count("\n")))
        pytest.fail(f"compiler/catalog/sklearn.json is stale (first difference at line {first}; catalog from "
                    f"scikit-learn {catalog.sklearn_version()}, installed {built['sklearn_version']}): "
                    "run `python -m compiler.catalog.generate` and commit the result", pytrace=False)


def test_catalog_entries():
    hgb = catalog.estimator("sklearn.ensemble.HistGradientBoostingClassifier")
    assert hgb is not None and hgb.type == "classifier" and hgb.multiclass is True
    assert hgb.params["max_iter"].default == 100
    assert catalog.estimator("sklearn.ensemble.RandomForestRegressor").type == "regressor"
    assert catalog.estimator("sklearn.cluster.KMeans").type == "cluster"
    assert catalog.estimator("sklearn.preprocessing.StandardScaler").type == "transformer"
    assert catalog.estimator("sklearn.ensemble._forest.RandomForestRegressor") is None
    assert catalog.estimator("HistGradientBoostingClassifier") is None
    assert all("._" not in path for path in catalog.names())  # only public paths
    assert len(catalog.names()) > 150
    stacking = catalog.estimator("sklearn.ensemble.StackingClassifier")
    assert stacking.params["estimators"].required
    # non-finite defaults are stored as markers (JSON has no Infinity) and decoded on load
    assert catalog.estimator("sklearn.cluster.OPTICS").params["max_eps"].default == float("inf")


def _interval(kind, left, right, closed):
    return {"interval": kind, "left": left, "right": right, "closed": closed}


@pytest.mark.parametrize(
    ("closed", "ok", "bad"),
    [
        ("both", [0.0, 0.5, 1, 1.0], [-0.1, 1.5]),
        ("neither", [0.5, 0.999], [0, 0.0, 1, 1.0]),
        ("left", [0, 0.0, 0.5], [1, 1.0]),
        ("right", [1, 1.0, 0.5], [0, 0.0]),
    ],
)
def test_real_interval_bounds(closed, ok, bad):
    constraints = [_interval("real", 0, 1, closed)]
    assert [check_value(constraints, v) for v in ok] == [None] * len(ok)
    assert all(check_value(constraints, v) for v in bad)


def test_interval_messages_and_infinite_bounds():
    positive_int = [_interval("integral", 1, None, "left")]
    assert check_value(positive_int, 200) is None
    assert check_value(positive_int, 0) == "expected an integer in [1, inf)"
    assert check_value(positive_int, 2.0) == "expected an integer in [1, inf)"
    assert check_value([_interval("real", 0, None, "neither")], float("inf")) is not None
    assert check_value([_interval("real", None, None, "both")], float("inf")) is None
    assert check_value([_interval("real", None, None, "both")], float("nan")) is not None
    assert check_value([_interval("real", 0, None, "neither")], -0.1) == "expected a number in (0, inf)"


def test_real_not_int_rejects_integers():
    share = [_interval("real_not_int", 0.0, 1.0, "right")]
    assert check_value(share, 1.0) is None
    assert check_value(share, 1) == "expected a float in (0.0, 1.0]"


def test_booleans_are_not_numbers():
    assert check_value([_interval("integral", 1, None, "left")], True) is not None
    assert check_value([_interval("real", 0, None, "left")], False) is not None
    assert check_value([{"type": "int"}], True) == "expected an integer"
    assert check_value([{"named": "boolean"}], 1) == "expected a boolean"
    assert check_value([{"named": "boolean"}], False) is None
    assert check_value([{"options": [False]}], 0) is not None
    assert check_value([{"options": [False]}], False) is None


def test_string_options():
    criterion = [{"options": ["entropy", "gini", "log_loss"]}]
    assert check_value(criterion, "gini") is None
    assert check_value(criterion, "Gini") == "expected one of `entropy`, `gini`, `log_loss`"
    assert check_value([{"options": ["auto"]}, {"type": "null"}], "x") == "expected `auto` or null"
    deprecated = [{"options": ["new", "old"], "deprecated": ["old"]}]
    assert check_value(deprecated, "old") is None  # still accepted, only no longer advertised
    assert check_value(deprecated, "x") == "expected `new`"
    assert check_value([{"options": [{"float": "inf"}]}], float("inf")) is None


def test_none_and_named_constraints():
    depth = [_interval("integral", 1, None, "left"), {"type": "null"}]
    assert check_value(depth, None) is None
    assert check_value(depth, 0) == "expected an integer in [1, inf) or null"
    seed = [{"named": "random_state"}]
    assert [check_value(seed, v) for v in (0, 42, 2**32 - 1, None)] == [None] * 4
    assert all(check_value(seed, v) for v in (-1, 2**32, 1.5, "42", True))
    assert check_value([{"named": "verbose"}], True) is None
    assert check_value([{"named": "verbose"}], -1) is not None
    assert check_value([{"named": "cv_object"}], 1) is not None
    assert check_value([{"named": "cv_object"}], 5) is None
    assert check_value([{"named": "array-like"}], [1, 2]) is None


def test_hidden_constraints_accept_but_are_not_advertised():
    constraints = [{"options": ["a"]}, {"options": ["legacy"], "hidden": True}]
    assert check_value(constraints, "legacy") is None
    assert check_value(constraints, "x") == "expected `a`"


def test_opaque_and_unchecked_parameters():
    score_func = [{"opaque": "a callable"}]
    assert not settable(score_func)
    assert check_value(score_func, "f_classif") == "cannot be set from a spec: it takes a callable"
    assert check_value([{"opaque": "a callable"}, {"type": "null"}], None) is None
    assert check_value([{"opaque": "a callable"}, {"type": "null"}], "f") == "expected null"
    assert check_value(None, object()) is None  # no constraints: scikit-learn does not check it
    assert check_value([{"type": "tuple"}], [0.25, 0.75]) is None  # YAML has no tuples


def test_validate_imports_no_sklearn_numpy_or_pandas():
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import compiler.catalog\n"
        "from compiler.driver import validate_tree\n"
        "result = validate_tree(Path('.'))\n"
        "assert not result.diagnostics, [d.to_dict() for d in result.diagnostics]\n"
        "assert compiler.catalog.estimator('sklearn.ensemble.RandomForestRegressor') is not None\n"
        "heavy = sorted(m for m in ('sklearn', 'numpy', 'pandas', 'scipy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr

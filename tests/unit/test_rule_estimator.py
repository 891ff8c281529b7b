"""The estimator rule (S213-S216) on small spec sets: code, line, column and help."""

from __future__ import annotations

from pathlib import Path

from compiler.driver import validate_tree

# A complete, valid product around one Model, so that only the estimator rule speaks. The
# Model starts on line 20; `estimator:` is line 26, its `class:` line 27, `params:` line 28.
BASE = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: orders}
spec:
  format: csv
  path: data/orders.csv
  schema:
    - {name: order_id, type: string, nullable: false}
    - {name: items, type: integer}
    - {name: amount, type: float}
    - {name: returned, type: boolean}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: owners}
spec:
  covers: [orders, returns]
  raci: {model: {responsible: ["@acme/ds"], accountable: "@bob"}}
---
apiVersion: charter/v1
kind: Model
metadata: {name: returns}
spec:
  task: {task}
  data: {source: orders, target: {target}, exclude: [order_id]}
  estimator:
    class: {cls}
    params: {params}
"""


def _check(tmp_path: Path, cls: str, params: str = "{}", task: str = "binary_classification") -> list[tuple]:
    target = "amount" if task == "regression" else "returned"
    text = BASE.replace("{task}", task).replace("{target}", target).replace("{cls}", cls)
    path = tmp_path / "specs" / "returns.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("{params}", params), encoding="utf-8")
    result = validate_tree(tmp_path, [path])
    return [(d.code, d.span.line, d.span.col, d.message, d.help) for d in result.diagnostics]


def test_valid_estimator_has_no_diagnostics(tmp_path):
    params = "{max_iter: 200, learning_rate: 0.1, max_depth: null, random_state: 0, loss: log_loss}"
    assert _check(tmp_path, "sklearn.ensemble.HistGradientBoostingClassifier", params) == []


def test_s213_unknown_estimator_suggests_the_public_path(tmp_path):
    [(code, line, col, message, help)] = _check(tmp_path, "sklearn.ensemble.HistGradientBoostingClasifier")
    assert (code, line, col) == ("S213", 27, 12)
    assert message == "unknown estimator `sklearn.ensemble.HistGradientBoostingClasifier`"
    assert help.startswith("did you mean `sklearn.ensemble.HistGradientBoostingClassifier`")


def test_s213_bare_and_private_names_get_the_public_path(tmp_path):
    [diag] = _check(tmp_path, "HistGradientBoostingClassifier")
    assert diag[0] == "S213"
    assert diag[4] == "did you mean `sklearn.ensemble.HistGradientBoostingClassifier`?"
    [diag] = _check(tmp_path, "sklearn.ensemble._forest.RandomForestClassifier")
    assert diag[4] == "did you mean `sklearn.ensemble.RandomForestClassifier`?"


def test_s213_other_libraries_are_not_misspelt_sklearn(tmp_path):
    [diag] = _check(tmp_path, "xgboost.XGBClassifier")
    assert diag[0] == "S213" and "scikit-learn estimators only" in diag[4]


def test_s214_unknown_param_points_at_the_key(tmp_path):
    [(code, line, col, message, help)] = _check(tmp_path, "sklearn.ensemble.RandomForestClassifier",
                                                "{max_depth: 8, n_estimator: 10}")
    assert (code, line, col) == ("S214", 28, 28)
    assert message == "`RandomForestClassifier` has no parameter `n_estimator`"
    assert help == "did you mean `n_estimators`?"


def test_s215_invalid_values_point_at_the_value(tmp_path):
    diags = _check(tmp_path, "sklearn.ensemble.RandomForestClassifier",
                   "{max_depth: 0, criterion: gni, random_state: yes}")
    assert [d[:3] for d in diags] == [("S215", 28, 25), ("S215", 28, 39), ("S215", 28, 58)]
    depth, criterion, seed = diags
    assert depth[3] == ("invalid `max_depth` for `RandomForestClassifier`: expected an integer in [1, inf) "
                        "or null, got 0")
    assert criterion[3].endswith("expected one of `entropy`, `gini`, `log_loss`, got a string")
    assert criterion[4] == "did you mean `gini`?"
    assert seed[3].endswith("got a string")  # strings are described, never echoed


def test_s215_boolean_is_not_a_count_and_opaque_params_cannot_be_set(tmp_path):
    diags = _check(tmp_path, "sklearn.linear_model.LogisticRegression", "{max_iter: true}")
    assert [(d[0], d[3]) for d in diags] == [
        ("S215", "invalid `max_iter` for `LogisticRegression`: expected an integer in [0, inf), got a boolean")]
    diags = _check(tmp_path, "sklearn.ensemble.HistGradientBoostingClassifier", "{scoring: loss, max_iter: 10}")
    assert diags == []
    [diag] = _check(tmp_path, "sklearn.multiclass.OneVsRestClassifier", "{estimator: tree}")
    assert diag[:3] == ("S215", 28, 14)  # the key: no value would do
    assert diag[3] == "`estimator` of `OneVsRestClassifier` cannot be set from a spec: it takes an object with " \
                      "methods `fit`"


def test_s215_missing_required_parameter(tmp_path):
    [diag] = _check(tmp_path, "sklearn.ensemble.VotingClassifier")
    assert diag[:3] == ("S215", 27, 12)
    assert diag[3] == "`VotingClassifier` needs the parameter `estimators`"
    [diag] = _check(tmp_path, "sklearn.multiclass.OneVsRestClassifier")
    assert diag[3] == "`OneVsRestClassifier` needs the parameter `estimator`, which cannot be set from a spec"


def test_s216_regressor_for_classification_suggests_the_sibling(tmp_path):
    [(code, line, col, message, help)] = _check(tmp_path, "sklearn.ensemble.RandomForestRegressor")
    assert (code, line, col) == ("S216", 27, 12)
    assert message == "`sklearn.ensemble.RandomForestRegressor` is a regressor, but the task is `binary_classification`"
    assert help == "use a classifier such as `sklearn.ensemble.RandomForestClassifier`"


def test_s216_classifier_for_regression_and_clusterer(tmp_path):
    [diag] = _check(tmp_path, "sklearn.svm.SVC", task="regression")
    assert diag[0] == "S216" and diag[4] == "use a regressor such as `sklearn.svm.SVR`"
    [diag] = _check(tmp_path, "sklearn.linear_model.RidgeClassifierCV", task="regression")
    assert diag[4] == "use a regressor such as `sklearn.linear_model.RidgeCV`"
    [diag] = _check(tmp_path, "sklearn.cluster.KMeans")
    assert diag[:3] == ("S216", 27, 12)
    assert diag[3] == "`sklearn.cluster.KMeans` is a clusterer, but the task is `binary_classification`"
    assert diag[4] == "use a classifier such as `sklearn.ensemble.HistGradientBoostingClassifier`"


def test_escaped_param_names_get_their_own_span(tmp_path):
    [diag] = _check(tmp_path, "sklearn.svm.SVC", '{C: 1.0, "a/b": 1}')
    assert diag[:3] == ("S214", 28, 22)

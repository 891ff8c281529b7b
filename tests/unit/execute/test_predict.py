"""The predictor: one pass, guardrails as the evaluate step applies them, and a contract for request rows."""

from __future__ import annotations

import numpy as np
import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.execute.predict import _ARGMAX, Predictor, RequestError, contract  # noqa: E402
from compiler.execute.train import build_pipeline  # noqa: E402

TRAIN = {"task": "binary_classification", "target": "y", "features": ["n", "kind", "day"], "numeric": ["n"],
         "temporal": ["day"], "categorical": ["kind"],
         "preprocessing": {"numeric": {"impute": "median", "scale": "standard"},
                           "categorical": {"impute": "most_frequent", "encode": "onehot", "max_categories": None}},
         "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {}}}  # fmt: skip
INGEST = {"schema": [
    {"name": "n", "type": "integer", "nullable": False, "values": None},
    {"name": "kind", "type": "category", "nullable": True, "values": ["a", "b"]},
    {"name": "day", "type": "date", "nullable": True, "values": None},
    {"name": "score", "type": "float", "nullable": True, "values": None},
    {"name": "y", "type": "boolean", "nullable": False, "values": None}]}  # fmt: skip
PREPARE = {"schema": [{"name": c["name"], "type": c["type"]} for c in INGEST["schema"]]}
EVALUATE = {"task": "binary_classification", "target": "y", "positive_label": None,
            "guardrails": [{"name": "tiny", "when": "n < 1", "predict": False},
                           {"name": "scored", "when": "score > 90", "predict": True}]}  # fmt: skip


def _frame(n: int = 200, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 50, n)
    return pl.DataFrame({"n": x, "kind": rng.choice(["a", "b"], n), "score": rng.uniform(0, 100, n),
                         "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 1, 1) + pl.duration(days=n - 1),
                                              eager=True),
                         "y": (x + rng.normal(0, 8, n)) > 25})  # fmt: skip


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    from compiler.execute.train import fit

    return Predictor(fit(_frame(), TRAIN), contract(INGEST, PREPARE, TRAIN, EVALUATE))


def test_the_contract_holds_the_features_then_the_columns_guardrails_read(predictor):
    names = [c["name"] for c in predictor.columns]
    assert names == ["n", "kind", "day", "score"]
    assert predictor.by_name["n"]["nullable"] is False
    assert predictor.by_name["kind"]["values"] == ["a", "b"]
    assert predictor.spec["policy"] == {"unknown_categories": "reject", "max_rows": 10_000}


def test_guardrails_apply_in_order_and_say_which_decided(predictor):
    df = _frame(50, seed=3).with_columns(pl.Series("n", [0] * 5 + list(range(1, 46))),
                                         pl.Series("score", [95.0] * 2 + [10.0] * 48))
    served = predictor.predict(df)
    raw = predictor.pipeline.predict(df.to_pandas()[["n", "kind", "day"]].assign(
        day=lambda f: f["day"].astype("datetime64[s]").astype("int64").astype(float)))
    expected = raw.copy()
    expected[:5] = False
    expected[:2] = True  # the later guardrail wins where both match
    assert served.labels.tolist() == expected.tolist()
    assert served.decided_by[:6] == ["scored", "scored", "tiny", "tiny", "tiny", None]
    assert served.overrides == {"tiny": 5, "scored": 2}
    assert served.proba[0].tolist() == [0.0, 1.0] and served.proba[3].tolist() == [1.0, 0.0]


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
@pytest.mark.parametrize("name", sorted(_ARGMAX))
def test_one_probability_pass_gives_the_labels_predict_gives(name):
    from sklearn.utils.discovery import all_estimators

    cls = dict(all_estimators("classifier"))[name]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    for labels in (np.array(["no", "yes"]), np.array(["a", "b", "c"])):
        y = labels[(X[:, 0] * 2 + X[:, 1] + rng.normal(0, 0.5, 300) > 0).astype(int) + (X[:, 2] > 1) *
                   (len(labels) - 2)]
        kwargs = {"random_state": 0} if "random_state" in cls().get_params() else {}
        if name == "CategoricalNB" or name in ("MultinomialNB", "ComplementNB"):
            Xf = np.abs(np.round(X * 2)).astype(int)
        else:
            Xf = X
        model = cls(**kwargs).fit(Xf, y)
        assert (model.classes_[np.argmax(model.predict_proba(Xf), axis=1)] == model.predict(Xf)).all(), name


def test_records_and_lists_make_the_same_typed_frame(predictor):
    records = [{"n": 3, "kind": "a", "day": "2024-02-01", "score": 1}, {"n": 0, "kind": None, "day": None,
                                                                        "score": None}]
    lists = [[3.0, "a", "2024-02-01", 1], [0, None, None, None]]  # 3.0: an integer as some JSON writers put it
    a, b = predictor.frame(records), predictor.frame(lists)
    assert a.equals(b)
    assert a.schema == {"n": pl.Int64, "kind": pl.String, "day": pl.Date, "score": pl.Float64}
    assert predictor.predict(a).decided_by == [None, "tiny"]


@pytest.mark.parametrize(("rows", "code", "row", "field"), [
    ({"n": 1}, "wrong_shape", None, None),
    ([], "no_rows", None, None),
    ([{"n": 1, "kind": "a", "day": None, "score": 1, "extra": 2}], "unknown_column", 0, "extra"),
    ([{"n": 1, "kind": "a", "day": None, "score": 1}, {"n": 1, "kind": "a", "day": None}], "missing_column", 1,
     "score"),
    ([[1, "a", None]], "wrong_shape", 0, None),
    ([7], "wrong_shape", 0, None),
    ([{"n": "1", "kind": "a", "day": None, "score": 1}], "wrong_type", 0, "n"),
    ([{"n": 1.5, "kind": "a", "day": None, "score": 1}], "wrong_type", 0, "n"),
    ([{"n": True, "kind": "a", "day": None, "score": 1}], "wrong_type", 0, "n"),
    ([{"n": 1, "kind": "a", "day": "01/02/2024", "score": 1}], "wrong_type", 0, "day"),
    ([{"n": 1, "kind": "a", "day": None, "score": "high"}], "wrong_type", 0, "score"),
    ([{"n": None, "kind": "a", "day": None, "score": 1}], "null_not_allowed", 0, "n"),
    ([{"n": 1, "kind": "a", "day": None, "score": 1}, {"n": 1, "kind": "z", "day": None, "score": 1}],
     "unknown_category", 1, "kind"),
])  # fmt: skip
def test_every_bad_row_is_refused_naming_the_row_and_the_field(predictor, rows, code, row, field):
    with pytest.raises(RequestError) as caught:
        predictor.frame(rows)
    assert (caught.value.code, caught.value.row, caught.value.field) == (code, row, field)
    assert caught.value.status == 400
    body = caught.value.body()
    assert body["code"] == code and body.get("row") == row and body.get("field") == field


def test_too_many_rows_is_a_413_and_unknown_categories_may_be_accepted():
    from compiler.execute.train import fit

    spec = contract(INGEST, PREPARE, TRAIN, EVALUATE, {"max_rows": 2, "unknown_categories": "accept"})
    p = Predictor(fit(_frame(), TRAIN), spec)
    row = {"n": 1, "kind": "zzz", "day": None, "score": 1}
    assert p.frame([row, row]).height == 2  # `zzz` accepted: the encoder sees an unknown category
    with pytest.raises(RequestError) as caught:
        p.frame([row] * 3)
    assert caught.value.status == 413 and caught.value.code == "too_many_rows"


def test_metadata_names_inputs_and_outputs_with_v2_datatypes(predictor):
    meta = predictor.metadata()
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [("n", "INT64"), ("kind", "BYTES"),
                                                                    ("day", "BYTES"), ("score", "FP64")]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "guardrail", "probability_false", "probability_true"]
    assert meta["outputs"][0]["datatype"] == "BOOL"


def test_a_pipeline_without_probabilities_predicts_once():
    train = {**TRAIN, "estimator": {"class": "sklearn.svm.LinearSVC", "params": {}}}
    from compiler.execute.train import fit

    p = Predictor(fit(_frame(), train), contract(INGEST, PREPARE, train, EVALUATE))
    served = p.predict(_frame(20, seed=5))
    assert served.proba is None and len(served.labels) == 20
    assert build_pipeline(train)[-1].__class__.__name__ == "LinearSVC"


def test_a_large_feature_frame_is_one_block_per_dtype_with_the_same_values():
    from compiler.execute.train import CONSOLIDATE_ROWS, to_pandas

    params = {"features": ["a", "kind", "b"], "numeric": ["a", "b"], "temporal": [], "categorical": ["kind"]}
    rows = CONSOLIDATE_ROWS
    df = pl.DataFrame({"a": list(range(rows)), "kind": [None if i % 7 == 0 else f"k{i % 3}" for i in range(rows)],
                       "b": [i / 2 for i in range(rows)]})
    large, small = to_pandas(df, params), to_pandas(df.head(rows - 1), params)
    assert large._mgr.nblocks == 2  # one float block, one object block: what scikit-learn fits faster on
    assert small._mgr.nblocks == 3  # a request's rows: the column arrays as they are, no copy
    assert list(large.columns) == ["a", "kind", "b"]
    assert large.head(rows - 1).equals(small)
    assert large["kind"].iloc[0] is np.nan and large["kind"].iloc[1] == "k1"

"""`charter`'s JSON output (`compiler.gitops.output.dump`): orjson's bytes where it can, the standard library's always.

The reference is what every git-aware command printed before orjson wrote it:
`json.dumps(indent=2, sort_keys=True, ensure_ascii=False, default=str)` of the document with
file names escaped. For any document the two must be the same bytes.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import shown
from compiler.gitops.output import dump


def _reference_escaped(doc):
    if isinstance(doc, str):
        return shown(doc)
    if isinstance(doc, dict):
        return {_reference_escaped(k): _reference_escaped(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_reference_escaped(v) for v in doc]
    return doc


def _reference(doc) -> str:
    return json.dumps(_reference_escaped(doc), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["caf\udce9.yaml", "\u2028", "\x00\x1f\x7f", "é", "\U0001f600"])
           | st.dates().map(date.isoformat) | st.datetimes(max_value=datetime(9999, 1, 1)))
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4)
                    | st.dictionaries(st.integers(-5, 5), inner, max_size=3), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(DOCS)
def test_the_same_bytes_as_the_standard_library(doc):
    assert dump(doc) == _reference(doc)


def test_the_fast_path_is_taken_for_a_plain_document():
    import orjson

    doc = {"b": [1, 2.5, None, True, "caf\udce9"], "a": {"z": 0.001, "é": -3}}
    assert dump(doc) == _reference(doc)
    assert dump(doc) == orjson.dumps(_reference_escaped(doc), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                                     ).decode() + "\n"

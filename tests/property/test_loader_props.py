"""Property tests of the loader: round trips, totality, and positions that resolve."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.load import decode, load_source
from compiler.load.yaml import _resolve_plain


def _safe_probe(text: str) -> bool:
    try:
        return _same_in_yaml11_and_12(text)
    except Exception:  # text that is not a valid plain scalar is quoted by the dumper anyway
        return True

def _same_in_yaml11_and_12(text: str) -> bool:
    # PyYAML's dumper quotes what YAML 1.1 would not read back as a string; a few strings are
    # plain in 1.1 but numbers in 1.2 (`1e3`, `0E0`) and are documented to read as numbers.
    if not text:
        return True
    value = _resolve_plain(text, "p.yaml")
    return isinstance(value, str) or yaml.safe_load(f"k: {text}")["k"] == value


# YAML 1.1 line breaks (NEL, LS, PS) are folded by PyYAML's own dumper and loader alike.
_text = st.text(st.characters(blacklist_characters="\x85\u2028\u2029", blacklist_categories=("Cs",)),
                max_size=20).filter(lambda t: _safe_probe(t))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64), _text,
)
keys = _text.filter(bool)
data = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                    max_leaves=30)


def _load(text: str):
    source, problem = decode("p.yaml", text.encode("utf-8"))
    if problem is not None:
        return [], [problem]
    return load_source(source)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, data, min_size=1, max_size=5))
def test_round_trip_of_safe_dump(value):
    # PyYAML quotes every string that YAML 1.1 would resolve, so our 1.2 reading gives it back.
    for style in (False, True, None):
        text = yaml.safe_dump(value, default_flow_style=style, allow_unicode=True)
        docs, diags = _load(text)
        assert diags == []
        assert [d.data for d in docs] == [value]


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_loader_is_total(text):
    docs, diags = _load(text)  # never raises, whatever the input
    for d in diags:
        assert d.span is not None and d.span.line >= 1 and d.span.col >= 1


@settings(max_examples=200)
@given(st.dictionaries(keys, data, min_size=1, max_size=5))
def test_every_recorded_pointer_resolves(value):
    text = yaml.safe_dump(value, allow_unicode=True)
    [doc], _ = _load(text)
    for pointer in doc.values:
        cur = doc.data
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            cur = cur[int(token)] if isinstance(cur, list) else cur[token]
    assert set(doc.keys) <= set(doc.values)

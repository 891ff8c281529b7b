"""Label keys and values follow Kubernetes' syntax (they are copied into manifests)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from compiler.spec.base import Metadata

_PREFIX = ".".join(["a" * 63] * 4)[:253]  # a DNS subdomain at its 253-character limit


@pytest.mark.parametrize("key", ["team", "A_b.c", "a" * 63, "acme.com/cost-center", f"{_PREFIX.rstrip('.')}/x"])
def test_valid_keys(key):
    Metadata(name="x", labels={key: "v"})


@pytest.mark.parametrize("key", ["", "-x", "x.", "a" * 64, "Acme.com/x", "/x", "a/", "a/b/c", f"{_PREFIX}b/x",
                                 "a_b/x", "ünï"])
def test_invalid_keys(key):
    with pytest.raises(ValidationError, match="is not a Kubernetes label key"):
        Metadata(name="x", labels={key: "v"})


@pytest.mark.parametrize("value", ["", "v", "A-1_b.C", "9" * 63])
def test_valid_values(value):
    Metadata(name="x", labels={"k": value})


@pytest.mark.parametrize("value", ["a b", "-a", "a.", "9" * 64, "@alice", "x/y"])
def test_invalid_values(value):
    with pytest.raises(ValidationError, match="is not a Kubernetes label value"):
        Metadata(name="x", labels={"k": value})

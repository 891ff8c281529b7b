"""The `limits` block of charter.yaml: documented defaults, and ceilings that must be positive."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from compiler.spec.project import Limits


def test_defaults_are_the_documented_ones():
    assert Limits().model_dump(exclude={"data"}) == {"n_estimators": 5000, "max_iter": 100_000, "n_jobs": 8,
                                                     "n_neighbors": 1000, "cv": 20}
    # the data limits are unset here: a source's own, then these, then DATA_LIMIT_DEFAULTS apply
    assert set(Limits().data.model_dump().values()) == {None}


@pytest.mark.parametrize("setting", [{"n_jobs": 0}, {"n_estimators": -1}, {"cv": 1}, {"max_depth": 10}])
def test_bad_ceilings_are_refused(setting):
    with pytest.raises(ValidationError):
        Limits.model_validate(setting)

"""The benchmark generator writes valid specs, so the benchmarks time real work, not an early error.

The generator's README promises `charter validate --strict` reports no problem on its trees; a new
check in the validator (a ceiling on `n_jobs`, a runtime without metrics) breaks that quietly
unless a test runs the validator on a generated tree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from compiler.driver import validate_tree

GEN = Path(__file__).resolve().parents[2] / "benchmarks" / "gen_specs.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_specs", GEN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_specs", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_tree_validates_without_any_diagnostic(tmp_path: Path, seed: int) -> None:
    _generator().generate(tmp_path, 120, seed)
    result = validate_tree(tmp_path)
    assert result.files == 120
    assert [f"{d.code} {d.message}" for d in result.diagnostics] == []

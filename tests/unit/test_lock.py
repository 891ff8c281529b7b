"""requirements/constraints.txt pins every dependency pyproject.toml declares, within its range.

A dependency added to pyproject.toml without `requirements/refresh.sh` would install at
whatever version the index serves that day; this catches it offline.
"""

from __future__ import annotations

import tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO


def pins(path) -> dict[str, list[tuple[str, object]]]:
    found: dict[str, list[tuple[str, object]]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            req = Requirement(line)
            [spec] = req.specifier
            assert spec.operator == "==", line
            found.setdefault(canonicalize_name(req.name), []).append((spec.version, req.marker))
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    return [r for r in reqs if canonicalize_name(r.name) != "charter"]


def test_every_declared_dependency_is_pinned_within_its_range():
    locked = pins(REPO / "requirements/constraints.txt")
    for python in ("3.11", "3.12", "3.13"):
        env = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}
        for req in declared():
            versions = [v for v, marker in locked.get(canonicalize_name(req.name), [])
                        if marker is None or marker.evaluate(env)]
            assert len(versions) == 1, f"{req.name} for Python {python}: run requirements/refresh.sh"
            assert req.specifier.contains(versions[0], prereleases=True), \
                f"{req.name}=={versions[0]} is outside {req.specifier}: run requirements/refresh.sh"


def test_the_build_backend_is_pinned():
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert all("==" in r for r in build), build


def test_airflow_lock_pins_what_its_input_names():
    wanted = [Requirement(line) for line in (REPO / "requirements/airflow.in").read_text().splitlines()
              if line and not line.startswith("#")]
    locked = pins(REPO / "requirements/airflow.txt")
    for req in wanted:
        assert canonicalize_name(req.name) in locked, req.name

"""requirements/constraints.txt pins every dependency pyproject.toml declares, within its range.

A dependency added to pyproject.toml without `requirements/refresh.sh` would install at
whatever version the index serves that day; this catches it offline. The `feast` extra is the
exception: Feast's range for prometheus-client excludes constraints.txt's pin, so it has its own
lock, requirements/feast.txt, which pins the core, the run and serve extras and Feast resolved
together.
"""

from __future__ import annotations

import tomllib

import pytest
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


# extras with a lock of their own (requirements/refresh.sh): its file, and the extras resolved with it
SEPARATE = {"feast": ("feast.txt", ("feast", "serve"))}


def declared(extras: tuple[str, ...] | None = None) -> list[Requirement]:
    """The core's and the named extras' requirements, `charter[x]` self-references followed.

    Without `extras`: every extra but those with a lock of their own.
    """
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    wanted = list(extras if extras is not None else [e for e in optional if e not in SEPARATE])
    reqs = [Requirement(r) for r in project["dependencies"]]
    while wanted:
        for r in map(Requirement, optional[wanted.pop()]):
            if canonicalize_name(r.name) == "charter":
                wanted += sorted(r.extras)
            else:
                reqs.append(r)
    return reqs


def test_every_declared_dependency_is_pinned_within_its_range():
    check_lock("constraints.txt", declared())


@pytest.mark.parametrize("extra", sorted(SEPARATE))
def test_a_separately_locked_extra_is_pinned_with_the_core_and_what_it_pulls_in(extra):
    name, extras = SEPARATE[extra]
    check_lock(name, declared(extras))


def test_constraints_leave_out_the_separately_locked_extras():
    locked = pins(REPO / "requirements/constraints.txt")
    assert not {canonicalize_name(e) for e in SEPARATE} & set(locked)


def check_lock(name: str, reqs: list[Requirement]) -> None:
    locked = pins(REPO / "requirements" / name)
    for python in ("3.11", "3.12", "3.13"):
        env = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}
        for req in reqs:
            versions = [v for v, marker in locked.get(canonicalize_name(req.name), [])
                        if marker is None or marker.evaluate(env)]
            assert len(versions) == 1, f"{req.name} for Python {python}: run requirements/refresh.sh"
            assert req.specifier.contains(versions[0], prereleases=True), \
                f"{req.name}=={versions[0]} is outside {req.specifier}: run requirements/refresh.sh"


def test_the_build_backend_is_pinned():
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert all("==" in r for r in build), build


@pytest.mark.parametrize("name", ["airflow", "feast"])
def test_a_venv_lock_pins_what_its_input_names(name):
    wanted = [Requirement(line) for line in (REPO / f"requirements/{name}.in").read_text().splitlines()
              if line and not line.startswith("#")]
    locked = pins(REPO / f"requirements/{name}.txt")
    for req in wanted:
        assert canonicalize_name(req.name) in locked, req.name

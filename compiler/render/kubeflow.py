"""Target `kubeflow`: a Kubeflow Pipelines v2 pipeline per model, `<out>/kubeflow/<model>.yaml`,
compiled by the kfp SDK's own compiler, so the file is exactly what KFP accepts.

Each IR step is one container component running `charter run MODEL --step STEP` in the
project image, in `/workspace` (the image holds the repository), ordered with `.after()`
from the IR's needs; data-only checks are `<out>/kubeflow/_checks.yaml` (no model name, a DNS label, starts with `_`). Charter caches steps
by content itself, so KFP's own cache is off for every task (it would key on the command
only and skip a step whose specs changed). Steps are separate pods: use an URL
`artifact_store` (`s3://`, `gs://`) that every pod can reach.

The kfp SDK is the optional extra `charter[kubeflow]` (and in `[dev]`); without it this
target raises `TargetUnavailable` with the install command.
"""

from __future__ import annotations

import os
import tempfile

import yaml

from compiler.render.common import TargetUnavailable, image, memoised, step_argv
from compiler.render.header import header


def _kfp():
    try:
        from kfp import compiler, dsl
    except ImportError:
        raise TargetUnavailable("the kubeflow target needs the kfp SDK: pip install 'charter[kubeflow]'") from None
    return compiler, dsl


def _component(dsl, name: str, argv: list[str], img: str):
    def step():
        return dsl.ContainerSpec(image=img, command=argv[:1], args=argv[1:])

    step.__name__ = step.__qualname__ = name.replace("-", "_")  # the component's name in the file
    return dsl.container_component(step)


def _pipeline(dsl, name: str, description: str, tasks: list[tuple[str, list[str], list[str]]], img: str):
    components = {step: _component(dsl, step, argv, img) for step, argv, _ in tasks}

    def pipeline():
        made = {}
        for step, _, needs in tasks:
            task = components[step]()
            task.set_display_name(step)
            task.set_caching_options(False)
            for need in needs:
                task.after(made[need])
            made[step] = task

    pipeline.__name__ = pipeline.__qualname__ = name.replace("-", "_")
    return dsl.pipeline(name=name, description=_one_text(description) or None)(pipeline)


def _one_text(text: str) -> str:
    """kfp copies the description into a `# Description:` comment, continuing it on `\n` only:
    other characters that some YAML readers take for line breaks (CR, NEL, LS, PS) would end
    the comment, so they become spaces."""
    for c in "\r\x85\u2028\u2029":
        text = (text or "").replace(c, " ")
    return text


class _FastYaml:
    """PyYAML as kfp's writer sees it, with libyaml's emitter (same representer, same bytes,
    checked by a test) instead of the pure-Python one that was two thirds of the target's time."""

    def __getattr__(self, name):
        return getattr(yaml, name)

    @staticmethod
    def dump_all(documents, stream=None, **kwargs):
        return yaml.dump_all(documents, stream, Dumper=getattr(yaml, "CDumper", yaml.Dumper), **kwargs)


FAST = True  # tests turn it off to compare with kfp's own writer


def _compile(compiler, fn) -> str:
    from kfp.compiler import pipeline_spec_builder as builder

    fd, path = tempfile.mkstemp(suffix=".yaml", prefix="charter-kfp-")
    os.close(fd)
    original = builder.yaml
    try:
        if FAST:
            builder.yaml = _FastYaml()
        compiler.Compiler().compile(fn, path)
        with open(path, encoding="utf-8") as f:
            return f.read()
    finally:
        builder.yaml = original
        os.unlink(path)


def _kfp_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("kfp")
    except metadata.PackageNotFoundError:
        raise TargetUnavailable("the kubeflow target needs the kfp SDK: pip install 'charter[kubeflow]'") from None


def _one(name: str, description: str, tasks, img: str, version: str) -> str:
    """One pipeline file's body; memoised by content (kfp's compile is the slow part of a
    compile of a large tree, and importing kfp alone takes 0.4 s: a hit needs neither)."""
    def build() -> str:
        compiler, dsl = _kfp()
        return _compile(compiler, _pipeline(dsl, name, description, tasks, img))

    return memoised("kubeflow", [name, description, tasks, img, version], build)


def render(graph, out: str) -> dict[str, str]:
    version = _kfp_version()
    img = image(graph.project)
    files = {}
    for model in graph.models:
        tasks = [(s.name, step_argv(model.name, s.name), [n.split("/", 1)[1] for n in s.needs]) for s in model.steps]
        body = _one(f"charter-{model.name}", model.description, tasks, img, version)
        files[f"{out}/kubeflow/{model.name}.yaml"] = header(model.sources) + body
    if graph.checks:
        tasks = [(f"check-{c.name}", step_argv(c.name, "", check=True), []) for c in graph.checks]
        body = _one("charter-checks", "Data checks of sources and suites no model uses.", tasks, img, version)
        sources = sorted({s for c in graph.checks for s in c.sources})
        files[f"{out}/kubeflow/_checks.yaml"] = header(sources) + body
    return dict(sorted(files.items()))

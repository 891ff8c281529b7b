"""Target `kubeflow`: a Kubeflow Pipelines v2 pipeline per model, `<out>/kubeflow/<model>.yaml`,
and `<out>/kubeflow/_checks.yaml` for the data-only checks (no model can take that name: a
DNS label does not start with `_`).

The kfp SDK builds and compiles each pipeline: one container component per IR step, running
`charter run MODEL --step STEP --root /workspace` in the project image (KFP has no
working-directory field), ordered with `.after()` from the IR's needs. `Compiler().compile`
would then turn the compiled `PipelineSpec` into a dict and write it with PyYAML after kfp's
`# PIPELINE DEFINITION` comments; this module does the same in memory with the same kfp
functions, but writes the dict with `dump_yaml`, which quotes what a YAML 1.2 reader (and
KFP's Go backend) would take for a number, such as a model named `1e3` in a command, and is
four times faster. A test checks that `Compiler().compile` gives the same data, and the same
bytes for the example. Charter's header follows kfp's comments, for kfp's loader.

Charter caches steps by content itself, so KFP's cache is off for every task: it keys on a
task's command and inputs, which stay the same when the specs change. Steps are separate
pods: use an URL `artifact_store` (`s3://`, `gs://`) that every pod can reach.

The kfp SDK is the optional extra `charter[kubeflow]` (and in `[dev]`); without it this
target raises `TargetUnavailable` with the install command.
"""

from __future__ import annotations

import functools
import hashlib
import json
import zlib
from contextlib import contextmanager
from types import SimpleNamespace

from compiler.render.common import WORKDIR, TargetUnavailable, dump_yaml, image, memoised, step_argv
from compiler.render.header import header

_INSTALL = "the kubeflow target needs the kfp SDK: pip install 'charter[kubeflow]'"
CHECKS_FILE, CHECKS_NAME = "_checks.yaml", "charter-checks"
CHECKS_DESCRIPTION = "Data checks of sources and suites no model uses."
_BUCKETS = 16

Task = tuple[str, tuple[str, ...], tuple[str, ...]]  # display name, argv, names of the tasks it needs


def render(graph, out: str) -> dict[str, str]:
    version = _kfp_version()
    img = _plain(image(graph.project))
    pipelines = {}  # file name -> (sources, pipeline name, description, tasks)
    for model in graph.models:
        tasks = tuple((s.name, _argv(model.name, s.name), tuple(n.split("/", 1)[1] for n in s.needs))
                      for s in model.steps)
        pipelines[f"{model.name}.yaml"] = (model.sources, pipeline_name(model.name), model.description, tasks)
    if graph.checks:
        tasks = tuple((f"check-{c.name}", _argv(c.name, None), ()) for c in graph.checks)
        sources = [s for c in graph.checks for s in c.sources]
        pipelines[CHECKS_FILE] = (sources, CHECKS_NAME, CHECKS_DESCRIPTION, tasks)
    buckets: dict[int, list[str]] = {}
    for file in sorted(pipelines):
        buckets.setdefault(zlib.crc32(file.encode()) % _BUCKETS, []).append(file)
    files = {}
    for group in buckets.values():
        bodies = _pipeline_files([pipelines[f][1:] for f in group], img, version)
        for file, (kfp_comments, spec) in zip(group, bodies, strict=True):
            # kfp's loader (`load_component_from_file`) reads the description from the
            # file's third line: kfp's comments come first, then the header, then the spec.
            files[f"{out}/kubeflow/{file}"] = kfp_comments + header(pipelines[file][0]) + spec
    return dict(sorted(files.items()))


def pipeline_name(model: str) -> str:
    """`charter-<model>`, unique in KFP: kfp collapses runs of `-` in a pipeline's name, so a
    model name holding `--` (or the model `checks`) also gets a hash of itself: `a--b` and
    `a-b` stay two pipelines, and the data checks keep theirs."""
    name = f"charter-{model}"
    if "--" not in model and name != CHECKS_NAME:
        return name
    return f"charter-{'-'.join(filter(None, model.split('-')))}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def _argv(name: str, step: str | None) -> tuple[str, ...]:
    # KFP has no working-directory field: `--root` says where the image holds the repository.
    return (*step_argv(name, step or "", check=step is None), "--root", WORKDIR)


def _plain(text: str) -> str:
    """The image. kfp turns `{{channel:...}}` in it into a KFP placeholder, and KFP's driver
    resolves an image that is one; a validated image (an OCI reference) holds neither brace."""
    if "{{" in text or "}}" in text:
        raise ValueError(f"refusing to put {text!r} where KFP expands `{{{{...}}}}`")
    return text


def _inert(text: str) -> str:
    """The description, which kfp also copies into its `# Description:` comment, continued
    after each line break: any other non-printable character (validation rejects them, a
    hand-made IR might hold them) would make the file unreadable as YAML, so it becomes an
    escape, as in `ascii()`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else ascii(c)[1:-1] for c in text)


def _pipeline_files(pipelines: list[tuple[str, str, tuple[Task, ...]]], img: str, version: str) -> list[list[str]]:
    """The bodies of some pipeline files, memoised together by content: kfp is most of the
    time of a large compile, and importing it alone takes 0.4 s; a cache hit needs neither.
    Files go to `_BUCKETS` groups by a hash of their name, which a new model does not move: an
    edit compiles one group again, and a first compile writes 16 cache entries, not 168."""

    def build() -> str:
        kfp = _kfp()
        with _names_memoised(kfp.utils):
            return json.dumps([_compile(kfp, name, description, tasks, img) for name, description, tasks in pipelines])

    return json.loads(memoised("kubeflow", [pipelines, img, version], build))


def _compile(kfp, name: str, description: str, tasks: tuple[Task, ...], img: str) -> list[str]:
    """The `# PIPELINE DEFINITION` comments and the spec, as kfp's `Compiler().compile` writes them."""
    pipeline = _pipeline(kfp, name, _inert(description), tasks, img)
    doc = kfp.json_format.MessageToDict(pipeline.pipeline_spec)
    return [kfp.builder.extract_comments_from_pipeline_spec(doc, pipeline.description), dump_yaml(_sorted(doc))]


def _pipeline(kfp, name: str, description: str, tasks: tuple[Task, ...], img: str):
    components = {step: _component(kfp, step, argv, img) for step, argv, _ in tasks}

    def pipeline():  # no docstring: kfp would take it for the description
        made = {}
        for step, _, needs in tasks:
            task = components[step]()
            task.set_display_name(step)
            task.set_caching_options(False)
            task.after(*(made[need] for need in needs))
            made[step] = task

    pipeline.__name__ = pipeline.__qualname__ = name.replace("-", "_")
    return kfp.dsl.pipeline(name=name, description=description or None)(pipeline)


def _component(kfp, name: str, argv: tuple[str, ...], img: str):
    """What `@dsl.container_component` builds, without its reading of a Python function's
    signature and docstring (a sixth of the target's time; the component has no inputs)."""
    container = kfp.structures.ContainerSpecImplementation(image=img, command=list(argv[:1]), args=list(argv[1:]))
    spec = kfp.structures.ComponentSpec(name=name, implementation=kfp.structures.Implementation(container=container))
    return kfp.ContainerComponent(spec, None)  # the function is only for running locally


@contextmanager
def _names_memoised(utils):
    """A pure kfp function, remembered while compiling: kfp cleans every task name of a DAG again
    for each of its tasks (quadratic: 28,000 regex calls for 167 checks)."""
    original = utils.maybe_rename_for_k8s
    utils.maybe_rename_for_k8s = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        utils.maybe_rename_for_k8s = original


def _sorted(value):
    """Keys sorted, as kfp's writer does (`sort_keys=True`); `dump_yaml` keeps the given order."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _kfp() -> SimpleNamespace:
    try:
        from google.protobuf import json_format
        from kfp import dsl
        from kfp.compiler import pipeline_spec_builder
        from kfp.dsl import structures, utils
        from kfp.dsl.container_component_class import ContainerComponent
    except ImportError:
        raise TargetUnavailable(_INSTALL) from None
    return SimpleNamespace(dsl=dsl, builder=pipeline_spec_builder, json_format=json_format, structures=structures,
                           utils=utils, ContainerComponent=ContainerComponent)


def _kfp_version() -> str:
    """Part of every file (`sdkVersion`), so part of the cache key; read without importing kfp."""
    from importlib import metadata

    try:
        return metadata.version("kfp")
    except metadata.PackageNotFoundError:
        raise TargetUnavailable(_INSTALL) from None

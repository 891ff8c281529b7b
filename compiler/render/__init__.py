"""Render stage: PipelineGraph -> Bundle (repo-relative path -> text), one module per target.

Input: the IR only (import-linter forbids spec, load, validate and config here). Output: a
`Bundle`, a pure, deterministic function of the IR and the Charter version: sorted paths, no
timestamps, a header on every file saying it is generated and from which specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from compiler.render.registry import TARGETS, load_target


@dataclass(frozen=True, slots=True)
class Bundle:
    """The intermediate state between the IR and the files on disk: path -> text, sorted."""

    files: dict[str, str] = field(default_factory=dict)

    def merged(self, other: dict[str, str]) -> Bundle:
        clash = set(self.files) & set(other)
        if clash:  # two targets writing one file is a bug in a target, not in the specs
            raise ValueError(f"targets write the same file: {sorted(clash)}")
        return Bundle(dict(sorted({**self.files, **other}.items())))


def render_graph(graph, targets: list[str], out: str, versions: dict[str, str] | None = None,
                 helper: Helper | None = None) -> Bundle:
    """Render the given targets; `out` is the output folder, relative to the repository.

    `versions` (model -> promoted version, from `charter.lock`) is what deployment configs serve;
    it reaches renderers as `graph.project["versions"]`. `helper` is a second process started
    earlier (see `Helper`); without one, a large tree starts it here.
    """
    if versions:
        graph = replace(graph, project={**graph.project, "versions": dict(sorted(versions.items()))})
    heavy = [t for t in targets if t in _HEAVY] if len(graph.models) >= _PARALLEL_FROM and can_fork() else []
    if not heavy:
        return _render(graph, targets, out)
    # On a large tree, the kfp SDK (0.4 s to import, then its compiler) renders in a second
    # process while this one renders the other targets: the same files, on both cores.
    from compiler.render import common

    own = helper is None
    helper = helper or Helper()
    try:
        pending = helper.pool.submit(_render_with_cache, common.CACHE_DIR, graph, heavy, out)
        bundle = _render(graph, [t for t in targets if t not in heavy], out)
        return bundle.merged(pending.result().files)
    finally:
        if own:
            helper.close()


class Helper:
    """A second process for rendering, forked now and already importing the kfp SDK.

    The import then overlaps the parsing and validation of a large tree (`charter compile` starts
    one when the IR cache misses on a large tree).
    """

    def __init__(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        self.pool.submit(_warm_up)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _warm_up() -> None:
    try:
        import kfp.compiler  # noqa: F401 - imported for its side effect: the module cache
        import kfp.dsl  # noqa: F401
    except ImportError:
        pass  # the kubeflow target will say what to install


def _render_with_cache(cache_dir, graph, targets: list[str], out: str) -> Bundle:
    from compiler.render import common

    common.set_cache_dir(cache_dir)
    return _render(graph, targets, out)


_HEAVY = ("kubeflow",)
_PARALLEL_FROM = 30  # models; below this a second process costs more than it saves


def can_fork() -> bool:
    import sys

    return sys.platform.startswith("linux")  # fork is the safe, fast start method only there


def _render(graph, targets: list[str], out: str) -> Bundle:
    bundle = Bundle()
    for name in targets:
        bundle = bundle.merged(load_target(name)(graph, out))
    return bundle


__all__ = ["TARGETS", "Bundle", "Helper", "render_graph"]

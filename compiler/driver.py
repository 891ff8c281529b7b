"""Runs the stages in order for one source tree and returns what they produced.

Input: a root folder and the paths to check. Output: `ValidateResult` (sources for snippets,
the SpecSet, every diagnostic sorted, and the spans to redact in output).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.config import Settings, load_settings
from compiler.diagnostics import Diagnostic, Severity, Span, sort_key
from compiler.load import discover, load_documents
from compiler.spec import SpecSet
from compiler.validate import validate_documents

if TYPE_CHECKING:
    from compiler.ir.cache import Previous
    from compiler.ir.graph import PipelineGraph


@dataclass(frozen=True, slots=True)
class ValidateResult:
    """Everything `charter validate` reports, in a stable order."""

    settings: Settings
    sources: dict[str, str]
    specset: SpecSet
    diagnostics: tuple[Diagnostic, ...]
    redactions: tuple[Span, ...]
    files: int
    missing: tuple[str, ...] = ()

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a tree is loaded, validated and built.

    Those stages allocate hundreds of thousands of small objects that all stay alive (documents,
    positions, models), so every generational collection walks them for nothing: a fifth of a
    large compile. Reference counting still frees everything; the collector resumes after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def validate_tree(root: Path, paths: Sequence[Path] = (), *, beside_specs: bool = True,
                  later: list[Callable[[], object]] | None = None) -> ValidateResult:
    """Load, check and cross-check every spec under `paths` (default: the project's folders).

    `beside_specs=False` skips the checks that read other files of the repository (a Feast
    registry), for a tree that holds only the specs. With `later`, the parse memo's write is
    appended to it rather than done (the caller writes its caches together, `charter compile`).
    """
    with _collector_paused():
        return _validate_tree(root, paths, beside_specs, later)


def _validate_tree(root: Path, paths: Sequence[Path] = (), beside_specs: bool = True,
                   later: list[Callable[[], object]] | None = None) -> ValidateResult:
    settings, diags = load_settings(root)
    targets = list(paths) or [root / p for p in settings.project.spec.specs]
    files, missing = discover(targets, root)
    config = (root / "charter.yaml").resolve()
    files = [f for f in files if f != config]
    from compiler.load.memo import ParseMemo

    memo = ParseMemo.load(root)
    sources, documents, load_diags = load_documents(files, root, memo)
    if later is None:
        memo.save(root)
    else:
        later.append(lambda: memo.save(root))
    diags.extend(load_diags)
    from compiler.ir.memo import file_digests
    from compiler.validate.memo import RuleMemo

    rules = RuleMemo.load(root, file_digests({s.path: s.text for s in sources}))
    specset, problems = validate_documents(documents, settings.project, settings.document,
                                           root if beside_specs else None, rules)
    diags.extend(problems)
    from compiler.validate.rules.text import redactions

    ordered = tuple(sorted(diags, key=sort_key))
    texts = {s.path: s.text for s in sources}
    if settings.source is not None:
        texts[settings.source.path] = settings.source.text
    masked = tuple(redactions(ordered, texts, rules.comment_secrets))
    rules.save(root)
    return ValidateResult(settings, texts, specset, ordered, masked, len(files), tuple(missing))


def compile_tree(root: Path, *, beside_specs: bool = True, previous: Previous | None = None,
                 later: list[Callable[[], object]] | None = None) -> tuple[ValidateResult, PipelineGraph | None]:
    """Validate, then build the IR when there are no errors (None otherwise).

    `previous` (the IR cache's entry for an earlier tree) gives back the pipelines whose specs did
    not change, and keeps what the cache is to remember of this build (`compiler/ir/memo.py`).
    `later`: as for `validate_tree`.
    """
    result = validate_tree(root, beside_specs=beside_specs, later=later)
    if result.errors or result.missing:
        return result, None
    from compiler.ir import build_graph
    from compiler.ir.memo import file_digests

    memo = previous.memo(file_digests(result.sources)) if previous is not None else None
    with _collector_paused():
        graph = build_graph(result.specset, result.settings.project, memo)
    return result, graph

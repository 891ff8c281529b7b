"""Semantic rules' findings reused per spec while what they read is unchanged: an edit re-checks what it touched.

A rule of one document at a time (`check_document(doc)`, the scan for secrets and unsafe text)
is keyed by the document's content alone.

A rule with a `SUBJECT` kind and a `check_one(ctx, spec)` checks one spec of that kind at a time,
reading that spec's document, and other specs only through `ctx.specset.get(kind, name)`. Its
diagnostics for a spec are then a function of the subject's content and of every spec it looked
up. The memo keeps them by rule and subject content (the digest of its file's path and text,
and its place in the file), with the content of every lookup it made (`None` for a name that
found nothing); a later run reuses them when every lookup finds the same again. A check that
reads the SpecSet any other way (by kind, or all of it) is not memoised.

`.charter/cache/rules.pickle`, keyed by Charter's code and the Python version; pickle, because
entries hold diagnostics, and it is this checkout's own output like every cache in `.charter/`.
A missing, damaged or foreign file is ignored, and so is a damaged entry.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from compiler.atomic import write_atomic
from compiler.codeid import code_fingerprint
from compiler.diagnostics import Diagnostic
from compiler.load.document import Document
from compiler.spec import Spec, SpecSet
from compiler.validate.context import Context

MEMO = Path(".charter") / "cache" / "rules.pickle"
FORMAT = 1
Entry = tuple[tuple[tuple[str, str, "str | None"], ...], tuple[Diagnostic, ...]]


def _stamp() -> str:
    return f"{FORMAT}:{sys.version}:{code_fingerprint()}"


class _Recording:
    """A SpecSet seen by one check: lookups by name recorded, any wider read noted."""

    def __init__(self, specset: SpecSet) -> None:
        self._specset = specset
        self.seen: dict[tuple[str, str], Spec | None] = {}
        self.wide = False

    def get(self, kind: str, name: str) -> Spec | None:
        found = self._specset.get(kind, name)
        self.seen[(kind, name)] = found
        return found

    def of_kind(self, kind: str) -> Iterator[Spec]:
        self.wide = True
        return self._specset.of_kind(kind)

    def names(self, kind: str) -> list[str]:
        self.wide = True
        return self._specset.names(kind)

    def __iter__(self) -> Iterator[Spec]:
        self.wide = True
        return iter(self._specset)

    def __len__(self) -> int:
        self.wide = True
        return len(self._specset)

    def __getattr__(self, name: str):  # anything else of the SpecSet: read, and not memoised
        self.wide = True
        return getattr(self._specset, name)


class RuleMemo:
    def __init__(self, digests: Mapping[str, str], entries: dict[str, Any] | None = None) -> None:
        self._digests = digests
        self._old: dict[str, Any] = entries or {}  # slot -> Entry (a file's comment positions for "comments")
        self._new: dict[str, Any] = {}
        self.checked = 0  # subjects checked in this run (misses)

    @classmethod
    def load(cls, root: Path, digests: Mapping[str, str]) -> RuleMemo:
        try:
            stamp, entries = pickle.loads((root / MEMO).read_bytes())
            if stamp != _stamp() or not isinstance(entries, dict):
                return cls(digests)
            return cls(digests, entries)
        except Exception:  # noqa: BLE001 - any damage (unpickling raises many kinds): check everything
            return cls(digests)

    def save(self, root: Path) -> None:
        if not self.checked and self._new.keys() == self._old.keys():
            return
        try:
            write_atomic(root / MEMO, pickle.dumps((_stamp(), self._new), protocol=pickle.HIGHEST_PROTOCOL),
                         durable=False)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            pass  # a read-only checkout (or a value pickle cannot write) just checks again next time

    def _id(self, spec: Spec | None) -> str | None:
        if spec is None:
            return None
        digest = self._digests.get(spec.file)
        return None if digest is None else f"{digest}:{spec.index}"

    def comment_secrets(self, path: str, text: str) -> list[tuple[int, int]]:
        """`diagnostics.secrets.comment_secrets` of a file, by the digest of its path and text."""
        from compiler.diagnostics.secrets import comment_secrets

        digest = self._digests.get(path)
        slot = f"comments\0{digest}"
        found = self._old.get(slot) if digest is not None else None
        if found is not None:
            try:
                recorded, known = found
                lines = [(int(line), int(col)) for line, col in known]
                if recorded == ():
                    self._new[slot] = found
                    return lines
            except (TypeError, ValueError):
                pass  # a damaged entry: scan again
        lines = comment_secrets(text)
        if digest is not None:
            self._new[slot] = ((), tuple(lines))
            self.checked += 1
        return lines

    def run_documents(self, rule: str, documents: Iterable[Document],
                      check_document: Callable[[Document], Iterable[Diagnostic]]) -> Iterator[Diagnostic]:
        """A rule of one document at a time (`check_document`): its findings by the document's content."""
        for doc in documents:
            digest = self._digests.get(doc.file)
            slot = f"{rule}\0{digest}:{doc.index}" if digest is not None else None
            found = self._old.get(slot) if slot is not None else None
            if slot is not None and found is not None:
                try:
                    recorded, known = found
                    if recorded == () and all(isinstance(d, Diagnostic) for d in known):
                        self._new[slot] = found
                        yield from known
                        continue
                except (TypeError, ValueError):
                    pass  # a damaged entry: check again
            diags = tuple(check_document(doc))
            self.checked += 1
            yield from diags
            if slot is not None:
                self._new[slot] = ((), diags)

    def run(self, rule: str, ctx: Context, subjects: Iterable[Spec],
            check_one: Callable[[Context, Spec], Iterable[Diagnostic]]) -> Iterator[Diagnostic]:
        recording = _Recording(ctx.specset)
        seen_by = replace(ctx, specset=recording)  # type: ignore[arg-type]  # a SpecSet to the rule
        for spec in subjects:
            own = self._id(spec)
            slot = f"{rule}\0{own}"
            found = self._old.get(slot) if own is not None else None
            if found is not None:
                try:
                    recorded, known = found
                    if all(self._id(ctx.specset.get(kind, name)) == content for kind, name, content in recorded):
                        self._new[slot] = found
                        yield from known
                        continue
                except (TypeError, ValueError):
                    pass  # a damaged entry: check again
            recording.seen.clear()
            recording.wide = False
            diags = tuple(check_one(seen_by, spec))
            self.checked += 1
            yield from diags
            if own is None or recording.wide:
                continue
            reads: list[tuple[str, str, str | None]] = []
            for (kind, name), looked_up in recording.seen.items():
                content = self._id(looked_up)
                if looked_up is not None and content is None:
                    break  # a spec of no known file: not memoised
                reads.append((kind, name, content))
            else:
                self._new[slot] = (tuple(reads), diags)


__all__ = ["MEMO", "RuleMemo"]

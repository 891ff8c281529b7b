"""Semantic diff: what changed in the specs, by resource and by field, not by line.

Resources are matched by `kind/name`; a resource whose name changed but whose content did
not is a rename, one whose file changed is a move. Inside a resource, mappings are compared
key by key and lists of mappings by their natural identity (a column's `name`, a gate's
metric and slice, a rule's type and columns), so reordering a list is no change and an
edited gate reads `spec.gates[roc_auc].min: 0.7 -> 0.75`, not "item 0 changed".
"""

from __future__ import annotations

import marshal
import re
from dataclasses import dataclass, field
from typing import Any, cast

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>", "__bool__": lambda self: False})()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed value: `op` is add, remove or change; `before`/`after` are MISSING when absent."""

    path: str
    op: str
    before: Any
    after: Any
    keys: tuple = ()  # the path as a tuple of keys/identities, for rules

    def to_dict(self) -> dict:
        """For output: literal secrets (as `charter validate` finds them) become `<redacted>`.

        Plans and diffs end up in pull request comments and CI logs.
        """
        from compiler.diagnostics.secrets import redact

        key = next((k for k in reversed(self.keys) if isinstance(k, str)), None)
        d: dict[str, object] = {"path": self.path, "op": self.op}
        if self.before is not MISSING:
            d["before"] = redact(self.before, key)
        if self.after is not MISSING:
            d["after"] = redact(self.after, key)
        return d


@dataclass(slots=True)
class ResourceChange:
    """One resource's change: action create, delete, update, rename, move or no-op."""

    address: str
    kind: str
    name: str
    action: str
    file: str | None
    previous_file: str | None = None
    previous_name: str | None = None
    changes: list[FieldChange] = field(default_factory=list)


_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _fmt_key(key: object) -> str:
    return f".{key}" if isinstance(key, str) and _SAFE_KEY.match(key) else f"[{key!r}]"


def _fmt_ident(ident: object) -> str:
    text = str(ident)
    return f"[{text}]" if re.fullmatch(r"[A-Za-z0-9_@:(),.+-]+", text) else f"[{text!r}]"


def format_path(keys: tuple) -> str:
    out = ""
    for k in keys:
        out += _fmt_ident(k[1]) if isinstance(k, tuple) else _fmt_key(k)
    return out.lstrip(".")


def identity(item: object) -> str | None:
    """The natural identity of a list item, or None when it has none."""
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("name"), str):
        return item["name"]
    if isinstance(item.get("id"), str):  # a gate or waiver with an explicit id
        return item["id"]
    if isinstance(item.get("metric"), str):  # a gate: metric, slice, and which kind of bound
        ident = item["metric"]
        if isinstance(item.get("slice"), str):
            ident += "@" + item["slice"]
        return ident + (":drop" if "max_drop" in item else "")
    if isinstance(item.get("rule"), str):  # a validation rule: type and columns
        cols = item.get("column", item.get("columns"))
        cols = ",".join(map(str, cols)) if isinstance(cols, list) else cols
        return f"{item['rule']}({cols})" if cols is not None else str(item["rule"])
    return None  # e.g. one-key cleaning steps (`{rename: {...}}`): their order matters, compare by position


def _keyed(items: list) -> dict[str, Any] | None:
    keys = [identity(i) for i in items]
    if None in keys or len(set(keys)) != len(keys):
        return None
    return dict(zip(cast(list[str], keys), items, strict=True))  # no None: ruled out just above


def _identical(before: Any, after: Any) -> bool:
    """Equal with the same types and key order: the same marshal bytes (version 2 has no
    back-references, which depend on how objects are shared), else the same repr (a date).

    Five times faster than comparing reprs, which walked every unchanged subtree in Python's
    string building: a fifth of a 400-commit `charter history`.
    """  # noqa: D205 - two sentences
    try:
        return marshal.dumps(before, 2) == marshal.dumps(after, 2)
    except ValueError:  # a type marshal does not write (YAML's dates and times)
        return repr(before) == repr(after)


def diff_values(before: Any, after: Any, keys: tuple = ()) -> list[FieldChange]:
    """Every changed leaf between two plain-data values, in a stable order."""
    # `_same` in Python on every level made a history of 400 commits spend most of its time
    # comparing unchanged subtrees again at each depth. Python's own `==` (in C) rules out most
    # at once; equal values with equal reprs are the same types too (`False` and `0` print
    # apart). Anything else (NaN, -0.0, keys in another order) goes the exact way.
    if before == after:
        if _identical(before, after) or _same(before, after):
            return []
    elif not isinstance(before, (dict, list)) and _same(before, after):
        return []  # NaN is NaN
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldChange] = []
        for k in list(before) + [k for k in after if k not in before]:
            if k not in after:
                out.append(FieldChange(format_path((*keys, k)), "remove", before[k], MISSING, (*keys, k)))
            elif k not in before:
                out.append(FieldChange(format_path((*keys, k)), "add", MISSING, after[k], (*keys, k)))
            else:
                out.extend(diff_values(before[k], after[k], (*keys, k)))
        return out
    if isinstance(before, list) and isinstance(after, list):
        kb, ka = _keyed(before), _keyed(after)
        if kb is not None and ka is not None:
            out = []
            for ident in list(kb) + [i for i in ka if i not in kb]:
                at = (*keys, ("id", ident))
                if ident not in ka:
                    out.append(FieldChange(format_path(at), "remove", kb[ident], MISSING, at))
                elif ident not in kb:
                    out.append(FieldChange(format_path(at), "add", MISSING, ka[ident], at))
                else:
                    out.extend(diff_values(kb[ident], ka[ident], at))
            return out
        if all(not isinstance(v, (dict, list)) for v in before + after):  # a list of scalars: a set edit
            if sorted(map(_scalar_key, before)) == sorted(map(_scalar_key, after)):
                return []  # reordered only
        if len(before) == len(after) and all(isinstance(v, (dict, list)) for v in before + after):
            out = []
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                out.extend(diff_values(b, a, (*keys, ("id", i))))
            return out
    op = "change"
    return [FieldChange(format_path(keys), op, before, after, keys)]


def _scalar_key(v: Any) -> str:
    if isinstance(v, float) and v == 0.0:
        v = 0.0  # -0.0 is 0.0, as `_same` says
    return f"{type(v).__name__}:{v!r}"


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down.

    Python says `False == 0` and `1 == 1.0`; in a spec those are different values.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and a != a and b != b)  # NaN is NaN


def _body(data: dict) -> dict:
    """A resource's content without its name, to recognise renames."""
    body = dict(data)
    meta = dict(body.get("metadata") or {})
    meta.pop("name", None)
    body["metadata"] = meta
    return body


def diff_resources(before: dict, after: dict) -> list[ResourceChange]:
    """Compare two `address -> Resource` maps; the result is sorted by address."""
    changes: list[ResourceChange] = []
    gone = {a: r for a, r in before.items() if a not in after}
    new = {a: r for a, r in after.items() if a not in before}
    for addr in sorted(set(before) & set(after)):
        b, a = before[addr], after[addr]
        fields = diff_values(b.data, a.data)
        moved = b.file != a.file
        if fields or moved:
            action = "update" if fields else "move"
            changes.append(ResourceChange(addr, a.kind, a.name, action, a.file, b.file if moved else None,
                                          None, fields))
    for addr, res in sorted(new.items()):
        match = next((g for g in sorted(gone)
                      if gone[g].kind == res.kind and _same(_body(gone[g].data), _body(res.data))), None)
        if match is not None:
            old = gone.pop(match)
            changes.append(ResourceChange(addr, res.kind, res.name, "rename", res.file,
                                          old.file if old.file != res.file else None, old.name,
                                          diff_values(old.data, res.data)))
        else:
            changes.append(ResourceChange(addr, res.kind, res.name, "create", res.file,
                                          changes=[FieldChange("", "add", MISSING, res.data, ())]))
    for addr, res in sorted(gone.items()):
        changes.append(ResourceChange(addr, res.kind, res.name, "delete", None, res.file,
                                      changes=[FieldChange("", "remove", res.data, MISSING, ())]))
    return sorted(changes, key=lambda c: c.address)


def apply(data: Any, change: FieldChange) -> Any:
    """`data` with one change applied (used by the property tests to check diffs are exact)."""
    import copy

    if not change.keys:
        return copy.deepcopy(change.after)
    out = copy.deepcopy(data)
    node = out
    for k in change.keys[:-1]:
        node = _child(node, k)
    last = change.keys[-1]
    if isinstance(last, tuple):
        idx = _index(node, last[1])
        if change.op == "remove":
            del node[idx]
        elif change.op == "add":
            node.append(copy.deepcopy(change.after))
        else:
            node[idx] = copy.deepcopy(change.after)
    elif change.op == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(change.after)
    return out


def _index(items: list, ident: object) -> int:
    if isinstance(ident, int) and _keyed(items) is None:
        return ident
    for i, item in enumerate(items):
        if identity(item) == ident:
            return i
    return ident if isinstance(ident, int) else len(items)


def _child(node: Any, key: object) -> Any:
    if isinstance(key, tuple):
        return node[_index(node, key[1])]
    return node[key]

"""The lineage graph of a model, from its data to its deployments, laid out as SVG geometry.

DataSource -> ValidationSuite -> Model (with the DataSources of its evaluation windows) ->
MetricSet -> RolloutPolicy -> each environment in order -> monitoring. Columns are the longest
path from a source, rows keep declaration order: a deterministic layout with no Graphviz. This
module only computes boxes and edges; the template draws them, escaping every label.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 150, 50, 30, 16, 8
_CHARS = 21  # characters of a label that fit in a box; the full text is the box's tooltip


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str  # the spec kind or stage, also the CSS class of the box
    label: str
    detail: str
    x: int = 0
    y: int = 0

    @property
    def right(self) -> int:
        return self.x + WIDTH

    @property
    def mid(self) -> int:
        return self.y + HEIGHT // 2

    @property
    def short(self) -> str:
        return _clip(self.label)

    @property
    def short_detail(self) -> str:
        return _clip(self.detail)


@dataclass(frozen=True, slots=True)
class Lineage:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[Node, Node], ...]
    width: int
    height: int
    box: tuple[int, int] = (WIDTH, HEIGHT)


def _clip(text: str) -> str:
    return text if len(text) <= _CHARS else text[: _CHARS - 1] + "…"


def _deployed(strategy: dict) -> str:
    return "KServe InferenceService" if strategy["type"] == "direct" else f"Argo Rollout ({strategy['type']})"


def lineage(model) -> Lineage:
    ingest, validate = model.step("ingest").params, model.step("validate").params
    evaluate, gate = model.step("evaluate").params, model.step("gate").params
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []

    def add(key: str, kind: str, label: str, detail: str) -> str:
        nodes.setdefault(key, Node(key, kind, label, detail))
        return key

    last = add("source", "DataSource", ingest["source"], f"{ingest['format']} {ingest.get('path') or ''}".strip())
    if validate.get("suite"):
        suite = add("suite", "ValidationSuite", validate["suite"], f"{len(validate['rules'])} rule(s)")
        edges.append((last, suite))
        last = suite
    estimator = model.step("train").params["estimator"]["class"].rsplit(".", 1)[-1]
    me = add("model", "Model", model.name, estimator)
    edges.append((last, me))
    for w in evaluate.get("windows") or []:
        if isinstance(w.get("source"), dict):
            key = add(f"window-{w['name']}", "DataSource", w["source"]["source"], f"window {w['name']}")
            edges.append((key, me))
    sets = sorted({g["metric_set"] for g in gate["gates"]})
    ends = [add(f"ms-{name}", "MetricSet", name, f"{sum(g['metric_set'] == name for g in gate['gates'])} gate(s)")
            for name in sets] or [me]
    edges += [(me, e) for e in ends if e != me]
    for r, rollout in enumerate(model.rollouts):
        runtime = ((rollout.get("serving") or {}).get("runtime")) or "charter"
        prev = add(f"rollout-{r}", "RolloutPolicy", rollout["name"], f"serving: {runtime}")
        edges += [(e, prev) for e in ends]
        for env in rollout["environments"]:
            key = add(f"env-{r}-{env['name']}", "Environment", env["name"], _deployed(env["strategy"]))
            edges.append((prev, key))
            prev = key
        if model.monitoring and model.monitoring.get("enabled", True):
            drift = model.monitoring["drift"]
            mon = add(f"monitor-{r}", "Monitoring", f"monitor {model.monitoring['schedule']}",
                      f"drift {drift['method']} > {drift['alert_above']}")
            edges.append((prev, mon))
    return _layout(nodes, edges)


def _layout(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> Lineage:
    column = dict.fromkeys(nodes, 0)
    for _ in nodes:  # longest path from a source; the graph is a DAG of at most a few dozen nodes
        for a, b in edges:
            column[b] = max(column[b], column[a] + 1)
    rows: dict[int, int] = {}
    placed: dict[str, Node] = {}
    for key, node in nodes.items():  # insertion order: the order the specs declare
        c = column[key]
        r = rows.get(c, 0)
        rows[c] = r + 1
        placed[key] = Node(node.id, node.kind, node.label, node.detail, PAD + c * (WIDTH + GAP_X),
                           PAD + r * (HEIGHT + GAP_Y))
    width = PAD * 2 + (max(column.values()) + 1) * (WIDTH + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values()) * (HEIGHT + GAP_Y) - GAP_Y
    return Lineage(tuple(placed.values()), tuple((placed[a], placed[b]) for a, b in edges), width, height)

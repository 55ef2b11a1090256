"""The lineage graph: data sources → feature views → on-demand views → feature services, and its layout.

Nodes are ``"kind/name"`` (``feature_view/driver_hourly_stats``); an edge ``a → b`` means ``b`` reads
``a``. A push source's batch source feeds the push source. The layout is a layered DAG drawn left to
right: each node's column is the longest path from a node with no inputs, and the order inside a column
comes from a few barycenter sweeps (each node placed near the mean position of its neighbours in the
column before, then after), which keeps most edges short and uncrossed. The browser only draws the
coordinates computed here (``static/app.js``).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from ladle.errors import NotFound
from ladle.registry.state import RegistryState
from ladle.ui.catalog import Snapshot

__all__ = ["COLUMN_WIDTH", "ROW_HEIGHT", "Graph", "graph_of", "layout"]

#: horizontal distance between columns and vertical distance between rows, in SVG units
COLUMN_WIDTH = 270
ROW_HEIGHT = 54
_SWEEPS = 4


@dataclass(frozen=True)
class Graph:
    """Nodes (``id → {kind, name, ...}``) and edges ``(from, to)``, in a stable order."""

    nodes: dict[str, dict[str, Any]]
    edges: list[tuple[str, str]]

    def neighbourhood(self, nodes: list[str], project: str) -> Graph:
        """``nodes`` with everything upstream and downstream of them (their whole lineage)."""
        for node in nodes:
            if node not in self.nodes:
                raise NotFound("lineage node", node, project, known=self.nodes)
        ups, downs = defaultdict(list), defaultdict(list)
        for a, b in self.edges:
            downs[a].append(b)
            ups[b].append(a)
        keep = set(nodes)
        for node in nodes:
            keep |= _reach(node, ups) | _reach(node, downs)
        return Graph(
            {k: v for k, v in self.nodes.items() if k in keep},
            [(a, b) for a, b in self.edges if a in keep and b in keep],
        )


def _reach(start: str, step: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = deque([start])
    while todo:
        for nxt in step.get(todo.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _source_node(nodes: dict[str, dict[str, Any]], edges: set[tuple[str, str]], spec: dict[str, Any]) -> str:
    """The node of a (possibly only embedded) source spec, adding it and its batch source when new."""
    node = f"data_source/{spec.get('name', '')}"
    nodes.setdefault(node, {"kind": "data_source", "name": spec.get("name", ""), "type": spec.get("type", "")})
    batch = spec.get("batch_source")
    if isinstance(batch, dict):
        edges.add((_source_node(nodes, edges, batch), node))
    return node


def _build(state: RegistryState) -> Graph:
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()
    for _, stored in sorted(state.objects["data_sources"].items()):
        _source_node(nodes, edges, stored.spec)
    for name, stored in sorted(state.objects["feature_views"].items()):
        view = f"feature_view/{name}"
        nodes[view] = {"kind": "feature_view", "name": name, "type": stored.spec.get("view_type") or "batch"}
        edges.add((_source_node(nodes, edges, stored.spec.get("source") or {}), view))
    for name, stored in sorted(state.objects["on_demand_feature_views"].items()):
        odfv = f"on_demand_feature_view/{name}"
        nodes[odfv] = {"kind": "on_demand_feature_view", "name": name, "type": stored.spec.get("mode", "")}
        for source in stored.spec.get("sources") or []:
            if "feature_view" in source:
                edges.add((f"feature_view/{source['feature_view']}", odfv))
            elif isinstance(source.get("request_source"), dict):
                edges.add((_source_node(nodes, edges, source["request_source"]), odfv))
    for name, stored in sorted(state.objects["feature_services"].items()):
        service = f"feature_service/{name}"
        nodes[service] = {"kind": "feature_service", "name": name, "type": ""}
        for projection in stored.spec.get("features") or []:
            kind = "on_demand_feature_view" if projection.get("on_demand") else "feature_view"
            edges.add((f"{kind}/{projection['name']}", service))
    for a, b in edges:  # a reference to an object that is not registered still shows, marked as such
        for end in (a, b):
            if end not in nodes:
                kind, _, name = end.partition("/")
                nodes[end] = {"kind": kind, "name": name, "type": "missing"}
    return Graph(dict(sorted(nodes.items())), sorted(edges))


def graph_of(snapshot: Snapshot) -> Graph:
    """The whole lineage graph of a registry snapshot (built once per snapshot)."""
    graph: Graph = snapshot.cached("lineage", lambda: _build(snapshot.state))
    return graph


def _columns(graph: Graph) -> dict[str, int]:
    """Each node's column: the longest path to it from a node without inputs (Kahn's order)."""
    inputs: dict[str, int] = dict.fromkeys(graph.nodes, 0)
    outs = defaultdict(list)
    for a, b in graph.edges:
        outs[a].append(b)
        inputs[b] += 1
    column = dict.fromkeys(graph.nodes, 0)
    ready = deque(n for n, count in inputs.items() if count == 0)
    while ready:
        node = ready.popleft()
        for nxt in outs[node]:
            column[nxt] = max(column[nxt], column[node] + 1)
            inputs[nxt] -= 1
            if inputs[nxt] == 0:
                ready.append(nxt)
    return column


def _order(graph: Graph, column: dict[str, int]) -> list[list[str]]:
    """Nodes per column, ordered by barycenter sweeps (down then up) starting from name order."""
    width = max(column.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(width)]
    for node in graph.nodes:
        layers[column[node]].append(node)
    ups, downs = defaultdict(list), defaultdict(list)
    for a, b in graph.edges:
        downs[a].append(b)
        ups[b].append(a)
    for sweep in range(_SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, width) if forward else range(width - 2, -1, -1)
        for i in indices:
            reference = layers[i - 1] if forward else layers[i + 1]
            position = {n: p for p, n in enumerate(reference)}
            links = ups if forward else downs

            def centre(node: str, current: int, links: Any = links, position: Any = position) -> float:
                seen = [position[n] for n in links[node] if n in position]
                return sum(seen) / len(seen) if seen else float(current)

            layers[i] = [n for _, n in sorted((centre(n, p), n) for p, n in enumerate(layers[i]))]
    return layers


def layout(graph: Graph) -> dict[str, Any]:
    """``{"nodes": [{id, kind, name, type, x, y}], "edges": [{from, to}], "width", "height"}``; columns are
    centred vertically on the tallest one."""
    column = _columns(graph)
    layers = _order(graph, column)
    tallest = max((len(layer) for layer in layers), default=0)
    nodes = []
    for i, layer in enumerate(layers):
        offset = (tallest - len(layer)) * ROW_HEIGHT / 2
        for row, node in enumerate(layer):
            nodes.append({"id": node, **graph.nodes[node], "x": i * COLUMN_WIDTH, "y": offset + row * ROW_HEIGHT})
    return {
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in graph.edges],
        "width": len(layers) * COLUMN_WIDTH,
        "height": tallest * ROW_HEIGHT,
    }

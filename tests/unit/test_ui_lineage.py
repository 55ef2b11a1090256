"""The UI's lineage graph and its layered layout, against brute-force references on random registries, and
the pages in a built wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ladle.registry.state import RegistryState, StoredObject
from ladle.ui.catalog import Snapshot
from ladle.ui.lineage import COLUMN_WIDTH, ROW_HEIGHT, Graph, graph_of, layout

SRC = Path(__file__).resolve().parents[2] / "src"


def _source(name: str, batch: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "data_source", "name": name, "type": "file", "path": f"{name}.parquet", "tags": {}}
    if batch is not None:
        spec = {**spec, "type": "push", "batch_source": _source(batch)}
    return spec


def _state(sources: int, views: list[int], odfvs: list[list[int]], services: list[list[int]]) -> RegistryState:
    """Sources s0.., views v_i reading source views[i], on-demand views o_j reading views odfvs[j], services
    f_k reading views (index < len(views)) or on-demand views (index >= len(views)) services[k]."""
    state = RegistryState.empty("p")
    put = state.objects
    for s in range(sources):
        put["data_sources"][f"s{s}"] = StoredObject({**_source(f"s{s}")}, "h", "t", "t")
    for i, s in enumerate(views):
        spec = {"kind": "feature_view", "name": f"v{i}", "source": _source(f"s{s}"), "schema": [], "tags": {}}
        put["feature_views"][f"v{i}"] = StoredObject(spec, "h", "t", "t")
    for j, reads in enumerate(odfvs):
        spec = {"kind": "on_demand_feature_view", "name": f"o{j}", "schema": [], "tags": {},
                "sources": [{"feature_view": f"v{i}"} for i in reads]}  # fmt: skip
        put["on_demand_feature_views"][f"o{j}"] = StoredObject(spec, "h", "t", "t")
    for k, reads in enumerate(services):
        projections = [
            {"name": f"v{i}", "on_demand": False}
            if i < len(views)
            else {"name": f"o{i - len(views)}", "on_demand": True}
            for i in reads
        ]
        spec = {"kind": "feature_service", "name": f"f{k}", "features": projections, "tags": {}}
        put["feature_services"][f"f{k}"] = StoredObject(spec, "h", "t", "t")
    return state


@st.composite
def registries(draw: st.DrawFn) -> RegistryState:
    sources = draw(st.integers(1, 5))
    views = draw(st.lists(st.integers(0, sources - 1), min_size=1, max_size=8))
    odfvs = draw(st.lists(st.lists(st.integers(0, len(views) - 1), min_size=1, max_size=3, unique=True), max_size=4))
    targets = len(views) + len(odfvs)
    services = draw(st.lists(st.lists(st.integers(0, targets - 1), min_size=1, max_size=4, unique=True), max_size=4))
    return _state(sources, views, odfvs, services)


def _longest_path_column(graph: Graph) -> dict[str, int]:
    """Brute force: each node's column is the longest path reaching it (every path enumerated)."""
    ups: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        ups[b].append(a)

    def depth(node: str) -> int:
        return max((depth(u) + 1 for u in ups[node]), default=0)

    return {n: depth(n) for n in graph.nodes}


@settings(deadline=None)
@given(registries())
def test_layout_columns_are_longest_paths_and_nodes_never_overlap(state: RegistryState) -> None:
    graph = graph_of(Snapshot(state))
    laid = layout(graph)
    at = {n["id"]: n for n in laid["nodes"]}
    assert set(at) == set(graph.nodes)
    expected = _longest_path_column(graph)
    assert {n: at[n]["x"] // COLUMN_WIDTH for n in at} == expected
    for a, b in graph.edges:
        assert at[a]["x"] < at[b]["x"]
    assert len({(n["x"], n["y"]) for n in laid["nodes"]}) == len(laid["nodes"])
    for n in laid["nodes"]:
        assert 0 <= n["y"] <= laid["height"] - ROW_HEIGHT and 0 <= n["x"] < laid["width"]


@settings(deadline=None)
@given(registries(), st.data())
def test_an_objects_lineage_is_what_reaches_it_and_what_it_reaches(state: RegistryState, data: st.DataObject) -> None:
    graph = graph_of(Snapshot(state))
    node = data.draw(st.sampled_from(sorted(graph.nodes)))
    edges = set(graph.edges)

    def closure(start: str, forward: bool) -> set[str]:
        found, changed = {start}, True
        while changed:
            more = {b if forward else a for a, b in edges if (a if forward else b) in found}
            changed = not more <= found
            found |= more
        return found

    keep = closure(node, True) | closure(node, False)
    part = graph.neighbourhood([node], "p")
    assert set(part.nodes) == keep
    assert set(part.edges) == {(a, b) for a, b in edges if a in keep and b in keep}


def test_graph_edges_of_each_kind() -> None:
    state = _state(2, [0, 1], [[0, 1]], [[0, 2], [1]])
    state.objects["data_sources"]["p0"] = StoredObject(_source("p0", batch="s1"), "h", "t", "t")
    graph = graph_of(Snapshot(state))
    assert set(graph.edges) == {
        ("data_source/s0", "feature_view/v0"),
        ("data_source/s1", "feature_view/v1"),
        ("data_source/s1", "data_source/p0"),
        ("feature_view/v0", "on_demand_feature_view/o0"),
        ("feature_view/v1", "on_demand_feature_view/o0"),
        ("feature_view/v0", "feature_service/f0"),
        ("on_demand_feature_view/o0", "feature_service/f0"),
        ("feature_view/v1", "feature_service/f1"),
    }


def test_a_reference_to_an_unregistered_object_is_a_missing_node() -> None:
    state = _state(1, [0], [], [[0]])
    state.objects["feature_services"]["f0"].spec["features"].append({"name": "gone", "on_demand": False})
    graph = graph_of(Snapshot(state))
    assert graph.nodes["feature_view/gone"] == {"kind": "feature_view", "name": "gone", "type": "missing"}


def test_wheel_ships_the_pages(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"  # built from a copy: setuptools leaves build/ and egg-info behind
    shutil.copytree(SRC, checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(SRC.parent / name, checkout / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run([*command, str(checkout)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("ladle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = {f"ladle/ui/static/{name}" for name in ("index.html", "app.js", "app.css")}
    assert pages <= names
    for page in pages:
        assert zipfile.ZipFile(wheel).read(page) == (SRC / page).read_bytes()

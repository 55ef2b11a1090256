"""Imports run downward only: no module of ``src/ladle`` imports from a layer above its own.

The layers, top to bottom (docs/architecture.md draws them)::

    front-ends     cli/, server/, stream/, ui/         the ``ladle`` command, the HTTP server, the stream worker, the web UI
    top level      ladle (__init__), store, client     what users import
    capabilities   retrieval/, ingest/, repo/, registry/, windows/, versions/, check/, backends/catalog
    config         config                              feature_store.yaml, read by the registry and the backend table
    backend table  backends/tables, backends/plugins   names and class paths to backend classes, loaded lazily
    backends       offline/, online/
    definitions    definitions/
    foundation     common/, drivers/, errors, types

Imports within one layer are allowed (a capability may use another). ``TYPE_CHECKING``-only and
in-function imports count like any other: they are still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("front-ends", ("ladle.cli", "ladle.server", "ladle.stream", "ladle.ui")),
    ("top level", ("ladle", "ladle.store", "ladle.client")),
    (
        "capabilities",
        (
            "ladle.retrieval",
            "ladle.ingest",
            "ladle.repo",
            "ladle.registry",
            "ladle.backends",
            "ladle.windows",
            "ladle.versions",
            "ladle.check",
        ),
    ),
    ("config", ("ladle.config",)),
    ("backend table", ("ladle.backends.tables", "ladle.backends.plugins")),
    ("backends", ("ladle.offline", "ladle.online")),
    ("definitions", ("ladle.definitions",)),
    ("foundation", ("ladle.common", "ladle.drivers", "ladle.errors", "ladle.types")),
]

#: imports forbidden even though they run downward
FORBIDDEN = {("ladle.config", "ladle.offline"), ("ladle.config", "ladle.online")}

#: (importer, imported) arrows allowed to break the rules: none since the backend tables (issue 11); keep it empty
ALLOWED_FOR_NOW: set[tuple[str, str]] = set()


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the longest package prefix of ``module``."""
    best, depth = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    assert best >= 0, f"module {module} is in no layer: add its package to LAYERS"
    return best


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every ladle module ``path`` imports, wherever the import statement is."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from ladle import errors` imports the module ladle.errors
                sub = f"{base}.{alias.name}"
                out.add(sub if (SRC / sub.replace(".", "/")).with_suffix(".py").exists() else base)
    return {m for m in out if m == "ladle" or m.startswith("ladle.")}


def _edges() -> set[tuple[str, str]]:
    edges = set()
    for path in sorted((SRC / "ladle").rglob("*.py")):
        if "templates" in path.relative_to(SRC / "ladle").parts:
            continue  # files of a user's repo that `ladle init` writes, not ladle's code
        module = _module_name(path)
        edges.update((module, imported) for imported in _imports(path, module))
    return edges


def _breaks_rules(importer: str, imported: str) -> bool:
    if layer_of(imported) < layer_of(importer):
        return True
    return any(importer == a and (imported == b or imported.startswith(b + ".")) for a, b in FORBIDDEN)


def test_no_module_imports_from_a_layer_above_it() -> None:
    wrong = {(a, b) for a, b in _edges() if _breaks_rules(a, b)} - ALLOWED_FOR_NOW
    described = sorted(f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})" for a, b in wrong)
    assert described == []


def test_the_layer_rule_sees_upward_imports(tmp_path: Path) -> None:
    """The checker itself: a definition importing the store, a backend importing the registry, and imports
    hidden under TYPE_CHECKING or inside a function are all caught."""
    assert _breaks_rules("ladle.definitions.entity", "ladle.store")
    assert _breaks_rules("ladle.online.redis", "ladle.registry.registry")
    assert _breaks_rules("ladle.config", "ladle.online.redis")
    assert not _breaks_rules("ladle.store", "ladle.retrieval.historical")
    assert not _breaks_rules("ladle.ingest.push", "ladle.registry")  # one layer
    hidden = tmp_path / "hidden.py"
    hidden.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ladle.store import FeatureStore\n"
        "def later():\n    from ladle import errors\n"
    )
    found = _imports(hidden, "ladle.definitions.hidden")
    assert found == {"ladle.store", "ladle.errors"}
    assert [m for m in found if _breaks_rules("ladle.definitions.hidden", m)] == ["ladle.store"]

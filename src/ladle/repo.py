"""Loading a feature repo: import every ``*.py`` file and collect the definitions it creates."""

from __future__ import annotations

import fnmatch
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ladle.definitions import (
    DataSource,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    Project,
    PushSource,
)
from ladle.errors import RepoLoadError
from ladle.feast_compat import install_feast_aliases

__all__ = ["RepoContents", "load_repo", "repo_files"]

_SKIP_DIRS = {"__pycache__", "venv", ".venv", "env", "site-packages", "node_modules", "build", "dist"}
IGNORE_FILES = (".ladleignore", ".feastignore")


@dataclass
class RepoContents:
    """Every definition found in a repo, by kind."""

    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)
    on_demand_feature_views: list[OnDemandFeatureView] = field(default_factory=list)
    feature_services: list[FeatureService] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)

    def by_kind(self) -> dict[str, list[Any]]:
        """The lists keyed by the registry's kind names."""
        return {
            "projects": self.projects,
            "entities": self.entities,
            "data_sources": self.data_sources,
            "feature_views": self.feature_views,
            "on_demand_feature_views": self.on_demand_feature_views,
            "feature_services": self.feature_services,
        }

    @classmethod
    def from_objects(cls, objects: list[Any]) -> RepoContents:
        """Sort definition objects into kinds; sources used by views are added too."""
        out = cls()
        collector = _Collector()
        for obj in objects:
            collector.add(obj, "<apply>")
        collector.fill(out)
        return out


class _Collector:
    """Identity-deduplicated definitions, remembering which file defined each."""

    def __init__(self) -> None:
        self.seen: dict[int, Any] = {}
        self.where: dict[tuple[str, str], tuple[Any, str]] = {}

    def add(self, obj: Any, file: str) -> None:
        kind = _kind(obj)
        if kind is None or id(obj) in self.seen:
            return
        self.seen[id(obj)] = obj
        key = (kind, obj.name)
        if key in self.where:
            other, other_file = self.where[key]
            if other.to_dict() != obj.to_dict():
                raise RepoLoadError(
                    f"two different {kind.rstrip('s').replace('_', ' ')}s are named '{obj.name}': "
                    f"one in {other_file}, one in {file} (rename one of them)"
                )
            return
        self.where[key] = (obj, file)
        if isinstance(obj, FeatureView):
            self.add(obj.source, file)
        if isinstance(obj, PushSource):
            self.add(obj.batch_source, file)
        if isinstance(obj, FeatureView):
            for e in obj.entity_objects:
                self.add(e, file)

    def fill(self, out: RepoContents) -> None:
        lists = out.by_kind()
        for (kind, _name), (obj, _file) in self.where.items():
            lists[kind].append(obj)


def _kind(obj: Any) -> str | None:
    if isinstance(obj, Entity):
        return "entities"
    if isinstance(obj, FeatureView):
        return "feature_views"
    if isinstance(obj, OnDemandFeatureView):
        return "on_demand_feature_views"
    if isinstance(obj, FeatureService):
        return "feature_services"
    if isinstance(obj, DataSource) and obj.source_type != "request":
        return "data_sources"
    if isinstance(obj, Project):
        return "projects"
    return None


def _ignore_patterns(repo: Path) -> list[str]:
    patterns: list[str] = []
    for name in IGNORE_FILES:
        f = repo / name
        if f.exists():
            for line in f.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    patterns.append(line.rstrip("/"))
    return patterns


def _ignored(rel: Path, patterns: list[str]) -> bool:
    text = rel.as_posix()
    for p in patterns:
        if fnmatch.fnmatch(text, p) or fnmatch.fnmatch(text, p + "/*") or any(
            fnmatch.fnmatch(part, p) for part in rel.parts
        ):
            return True
    return False


def repo_files(repo: Path) -> list[Path]:
    """The repo's Python files, minus ignored, hidden and virtualenv folders, in a stable order."""
    patterns = _ignore_patterns(repo)
    out = []
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo)
        if any(part.startswith(".") or part in _SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if _ignored(rel, patterns):
            continue
        out.append(path)
    return out


def _import(path: Path, repo: Path) -> Any:
    rel = path.relative_to(repo).with_suffix("")
    module_name = ".".join(rel.parts)
    if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None) == str(path):
        del sys.modules[module_name]  # re-import: the file may have changed since the last load
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RepoLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise RepoLoadError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except Exception as exc:
        del sys.modules[module_name]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = f":{frames[-1].lineno}" if frames else ""
        raise RepoLoadError(f"{path}{line}: {type(exc).__name__}: {exc}") from exc
    return module


def load_repo(repo_path: Path) -> RepoContents:
    """Import the repo's files (with the repo on sys.path) and collect its definitions."""
    repo = Path(repo_path).resolve()
    install_feast_aliases()
    # Repo files import each other by module name (`from driver_views import driver_fv`).
    for stale in [m for m, mod in sys.modules.items() if str(getattr(mod, "__file__", "") or "").startswith(str(repo) + "/")]:
        del sys.modules[stale]
    added = str(repo) not in sys.path
    if added:
        sys.path.insert(0, str(repo))
    collector = _Collector()
    try:
        for path in repo_files(repo):
            module = _import(path, repo)
            for value in list(vars(module).values()):
                collector.add(value, str(path.relative_to(repo)))
    finally:
        if added:
            sys.path.remove(str(repo))
    out = RepoContents()
    collector.fill(out)
    return out

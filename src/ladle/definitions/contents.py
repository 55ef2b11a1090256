"""``RepoContents``: a set of definitions sorted by kind, and the collector that builds it.

Both the repo loader (objects found in a repo's files) and ``FeatureStore.apply([...])`` (objects given
in code) collect definitions here, so the registry depends on this module and never on the loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ladle.definitions.entity import Entity
from ladle.definitions.feature_service import FeatureService
from ladle.definitions.feature_view import FeatureView
from ladle.definitions.kinds import KIND_CLASS_NAMES, kind_of
from ladle.definitions.on_demand import OnDemandFeatureView
from ladle.definitions.project import Project
from ladle.definitions.sources import DataSource
from ladle.errors import InvalidDefinition, InvalidRequest

__all__ = ["KIND_PLURALS", "Definition", "RepoContents", "collector"]

Definition = Entity | DataSource | FeatureView | OnDemandFeatureView | FeatureService | Project

KIND_PLURALS = {
    "projects": "projects",
    "data_sources": "data sources",
    "entities": "entities",
    "feature_views": "feature views",
    "on_demand_feature_views": "on-demand feature views",
    "feature_services": "feature services",
}


@dataclass
class RepoContents:
    """Every definition of a repo, by kind (each name once per kind)."""

    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)
    on_demand_feature_views: list[OnDemandFeatureView] = field(default_factory=list)
    feature_services: list[FeatureService] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)

    def by_kind(self) -> dict[str, list[Any]]:
        """The lists keyed by the registry's kind names (``entities``, ``feature_views``, ...)."""
        return {
            "projects": self.projects,
            "data_sources": self.data_sources,
            "entities": self.entities,
            "feature_views": self.feature_views,
            "on_demand_feature_views": self.on_demand_feature_views,
            "feature_services": self.feature_services,
        }

    def objects(self) -> list[Definition]:
        """Every definition, kind by kind."""
        return [o for objs in self.by_kind().values() for o in objs]

    @classmethod
    def from_objects(cls, objects: Iterable[Any]) -> RepoContents:
        """Sort definition objects into kinds (what ``FeatureStore.apply([...])`` is given).

        The data sources and entities the given views use are included, as when loading a repo.
        Raises :class:`~ladle.errors.InvalidDefinition` for two different objects with one name and
        :class:`~ladle.errors.InvalidRequest` for something that is not a definition.
        """

        def conflict(kind: str, name: str, first: str, second: str) -> Exception:
            return InvalidDefinition(
                KIND_CLASS_NAMES[kind],
                name,
                f"two different {KIND_PLURALS[kind]} have this name",
                "give each a distinct name",
            )

        collector = _Collector(conflict)
        for obj in objects:
            if kind_of(obj) is None:
                raise InvalidRequest(
                    f"cannot apply {obj!r}: expected an Entity, data source, FeatureView, OnDemandFeatureView, "
                    "FeatureService or Project"
                )
            collector.add(obj, "apply")
        return collector.contents()


def _projected(obj: Any) -> bool:
    p = getattr(obj, "projection", None)
    return p is not None and (p.features is not None or bool(p.name_alias) or bool(p.join_key_map))


class _Collector:
    """Definitions seen so far: identity-deduplicated, one per (kind, name), remembering where each came from."""

    def __init__(self, conflict: Callable[[str, str, str, str], Exception]) -> None:
        self._conflict = conflict
        self._seen: dict[int, Any] = {}  # id -> object (kept alive so ids stay unique)
        self._by_key: dict[tuple[str, str], tuple[Any, str]] = {}

    def add(self, obj: Any, origin: str) -> None:
        kind = kind_of(obj)
        if kind is None or id(obj) in self._seen:
            return
        self._seen[id(obj)] = obj
        key = (kind, obj.name)
        if key in self._by_key:
            other, other_origin = self._by_key[key]
            if other.to_dict() != obj.to_dict():
                raise self._conflict(kind, obj.name, other_origin, origin)
            if _projected(other) and not _projected(obj):
                self._by_key[key] = (obj, other_origin)  # keep the view itself, not a projection of it
        else:
            self._by_key[key] = (obj, origin)
        self._add_used(obj, origin)

    def _add_used(self, obj: Any, origin: str) -> None:
        """What ``obj`` uses and must be registered with it: sources, push batch sources, entities."""
        if isinstance(obj, FeatureView):
            self.add(obj.source, origin)
            for entity in obj.entity_objects:
                self.add(entity, origin)
        elif isinstance(obj, OnDemandFeatureView):
            for request in obj.request_sources:
                self.add(request, origin)
        if isinstance(obj, DataSource) and obj.batch is not obj:
            self.add(obj.batch, origin)

    def contents(self) -> RepoContents:
        out = RepoContents()
        lists = out.by_kind()
        for (kind, _name), (obj, _origin) in self._by_key.items():
            lists[kind].append(obj)
        return out


def collector(conflict: Callable[[str, str, str, str], Exception]) -> _Collector:
    """A collector that raises ``conflict(kind, name, first origin, second origin)`` for two different
    objects with one name."""
    return _Collector(conflict)

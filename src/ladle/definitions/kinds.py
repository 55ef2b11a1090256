"""The kinds of definition, named once: registry keys, singular names, class names, and ``kind_of``."""

from __future__ import annotations

from typing import Any

from ladle.definitions.entity import Entity
from ladle.definitions.feature_service import FeatureService
from ladle.definitions.feature_view import FeatureView
from ladle.definitions.on_demand import OnDemandFeatureView
from ladle.definitions.project import Project
from ladle.definitions.sources import DataSource

__all__ = ["KINDS", "KIND_CLASS_NAMES", "KIND_SINGULAR", "kind_of"]

#: object kinds, in dependency order (what an object refers to comes before it)
KINDS: tuple[str, ...] = (
    "projects",
    "data_sources",
    "entities",
    "feature_views",
    "on_demand_feature_views",
    "feature_services",
)
#: kind key -> the ``kind`` value of that object's ``to_dict()``
KIND_SINGULAR: dict[str, str] = {
    "projects": "project",
    "data_sources": "data_source",
    "entities": "entity",
    "feature_views": "feature_view",
    "on_demand_feature_views": "on_demand_feature_view",
    "feature_services": "feature_service",
}
#: kind key -> the class users write
KIND_CLASS_NAMES: dict[str, str] = {
    "projects": "Project",
    "data_sources": "DataSource",
    "entities": "Entity",
    "feature_views": "FeatureView",
    "on_demand_feature_views": "OnDemandFeatureView",
    "feature_services": "FeatureService",
}
_CLASSES: tuple[tuple[type, str], ...] = (
    (Entity, "entities"),
    (DataSource, "data_sources"),
    (FeatureView, "feature_views"),
    (OnDemandFeatureView, "on_demand_feature_views"),
    (FeatureService, "feature_services"),
    (Project, "projects"),
)


def kind_of(obj: Any) -> str | None:
    """The kind key of a definition object (``"feature_views"``), or None for anything else."""
    for cls, kind in _CLASSES:
        if isinstance(obj, cls):
            return kind
    return None

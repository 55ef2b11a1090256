"""ladle: a fast, correct, Feast-compatible feature store."""

from __future__ import annotations

from ladle.definitions import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    ParquetFormat,
    Project,
    PushSource,
    RequestSource,
    on_demand_feature_view,
)
from ladle.types import ValueType

__version__ = "0.1.0"

__all__ = [
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureView",
    "Field",
    "FileSource",
    "OnDemandFeatureView",
    "ParquetFormat",
    "Project",
    "PushSource",
    "RequestSource",
    "ValueType",
    "__version__",
    "on_demand_feature_view",
]

"""Definitions: plain objects describing entities, sources, views and services (no I/O)."""

from __future__ import annotations

from ladle.definitions.entity import Entity
from ladle.definitions.feature_service import FeatureService
from ladle.definitions.feature_view import FeatureView, FeatureViewProjection
from ladle.definitions.field import Feature, Field
from ladle.definitions.on_demand import OnDemandFeatureView, on_demand_feature_view
from ladle.definitions.project import Project
from ladle.definitions.sources import (
    DataSource,
    FileFormat,
    FileSource,
    ParquetFormat,
    PostgreSQLSource,
    PushSource,
    RequestSource,
    SavedDatasetFileStorage,
    source_from_dict,
)
from ladle.definitions.spark_source import SavedDatasetSparkStorage, SparkSource

__all__ = [
    "DataSource",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FileFormat",
    "FileSource",
    "OnDemandFeatureView",
    "ParquetFormat",
    "PostgreSQLSource",
    "Project",
    "PushSource",
    "RequestSource",
    "SavedDatasetFileStorage",
    "SavedDatasetSparkStorage",
    "SparkSource",
    "on_demand_feature_view",
    "source_from_dict",
]

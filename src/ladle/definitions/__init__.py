"""Definitions: plain objects describing entities, sources, views and services (no I/O)."""

from __future__ import annotations

from ladle.definitions.entity import Entity
from ladle.definitions.external_sources import (
    AthenaSource,
    BigQuerySource,
    ExternalSource,
    MsSqlServerSource,
    OracleSource,
    RedshiftSource,
    SnowflakeSource,
    TrinoSource,
)
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
from ladle.definitions.transformation import PandasTransformation, PythonTransformation, Transformation

__all__ = [
    "AthenaSource",
    "BigQuerySource",
    "DataSource",
    "Entity",
    "ExternalSource",
    "Feature",
    "FeatureService",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FileFormat",
    "FileSource",
    "MsSqlServerSource",
    "OnDemandFeatureView",
    "OracleSource",
    "PandasTransformation",
    "ParquetFormat",
    "PostgreSQLSource",
    "Project",
    "PushSource",
    "PythonTransformation",
    "RedshiftSource",
    "RequestSource",
    "SavedDatasetFileStorage",
    "SavedDatasetSparkStorage",
    "SnowflakeSource",
    "SparkSource",
    "Transformation",
    "TrinoSource",
    "on_demand_feature_view",
    "source_from_dict",
]

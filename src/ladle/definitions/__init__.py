"""Definitions: plain objects describing entities, sources, views and services (no I/O)."""

from __future__ import annotations

from ladle.definitions.aggregation import Aggregation
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
from ladle.definitions.stream_feature_view import (
    BatchFeatureView,
    StreamFeatureView,
    batch_feature_view,
    stream_feature_view,
)
from ladle.definitions.stream_sources import (
    AvroFormat,
    JsonFormat,
    KafkaSource,
    KinesisSource,
    ProtoFormat,
    RedisStreamSource,
    StreamFormat,
    StreamSource,
)
from ladle.definitions.transformation import PandasTransformation, PythonTransformation, Transformation

__all__ = [
    "Aggregation",
    "AthenaSource",
    "AvroFormat",
    "BatchFeatureView",
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
    "JsonFormat",
    "KafkaSource",
    "KinesisSource",
    "MsSqlServerSource",
    "OnDemandFeatureView",
    "OracleSource",
    "PandasTransformation",
    "ParquetFormat",
    "PostgreSQLSource",
    "Project",
    "ProtoFormat",
    "PushSource",
    "PythonTransformation",
    "RedisStreamSource",
    "RedshiftSource",
    "RequestSource",
    "SavedDatasetFileStorage",
    "SavedDatasetSparkStorage",
    "SnowflakeSource",
    "SparkSource",
    "StreamFeatureView",
    "StreamFormat",
    "StreamSource",
    "Transformation",
    "TrinoSource",
    "batch_feature_view",
    "on_demand_feature_view",
    "source_from_dict",
    "stream_feature_view",
]

"""ladle: a fast, correct, Feast-compatible feature store."""

from __future__ import annotations

import importlib
from typing import Any

from ladle.definitions import (
    Aggregation,
    AthenaSource,
    AvroFormat,
    BatchFeatureView,
    BigQuerySource,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    JsonFormat,
    KafkaSource,
    KinesisSource,
    MsSqlServerSource,
    OnDemandFeatureView,
    OracleSource,
    PandasTransformation,
    ParquetFormat,
    PostgreSQLSource,
    Project,
    ProtoFormat,
    PushSource,
    PythonTransformation,
    RedisStreamSource,
    RedshiftSource,
    RequestSource,
    SnowflakeSource,
    SparkSource,
    StreamFeatureView,
    TrinoSource,
    batch_feature_view,
    on_demand_feature_view,
    stream_feature_view,
)
from ladle.types import ValueType

__version__ = "0.1.0"

_LAZY = {
    "FeatureStore": ("ladle.store", "FeatureStore"),
    "PushMode": ("ladle.ingest.push", "PushMode"),
    "RepoConfig": ("ladle.config", "RepoConfig"),
    "FieldStatus": ("ladle.retrieval.online_read", "FieldStatus"),
}


def __getattr__(name: str) -> Any:
    # FeatureStore pulls in DuckDB and pandas; definition files that only need Entity etc. stay light.
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ladle' has no attribute {name!r}")


__all__ = [
    "Aggregation",
    "AthenaSource",
    "AvroFormat",
    "BatchFeatureView",
    "BigQuerySource",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Field",
    "FieldStatus",
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
    "PushMode",
    "PushSource",
    "PythonTransformation",
    "RedisStreamSource",
    "RedshiftSource",
    "RepoConfig",
    "RequestSource",
    "SnowflakeSource",
    "SparkSource",
    "StreamFeatureView",
    "TrinoSource",
    "ValueType",
    "__version__",
    "batch_feature_view",
    "on_demand_feature_view",
    "stream_feature_view",
]

"""SparkSource and the Spark settings, without starting Spark: arguments, registry round trip, Feast import
path, feature_store.yaml keys, and the error when pyspark is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ladle.config import parse_repo_config
from ladle.definitions import SavedDatasetSparkStorage, SparkSource, source_from_dict
from ladle.errors import InvalidConfig, InvalidDefinition, MissingExtra


@pytest.mark.parametrize(
    "source",
    [
        SparkSource(
            name="by_table",
            table="db.driver_stats",
            timestamp_field="ts",
            created_timestamp_column="created",
            field_mapping={"conv": "conv_rate"},
            description="d",
            tags={"team": "x"},
            owner="me",
        ),
        SparkSource(table="db.driver_stats", timestamp_field="ts"),
        SparkSource(name="by_query", query="SELECT * FROM db.t WHERE ok", timestamp_field="ts"),
        SparkSource(name="by_path", path="s3a://bucket/stats", file_format="parquet", timestamp_field="ts"),
    ],
)
def test_spark_source_round_trips_through_the_registry_form(source: SparkSource) -> None:
    data = source.to_dict()
    assert data["type"] == "spark"
    again = source_from_dict(data)
    assert isinstance(again, SparkSource)
    assert again.to_dict() == data


def test_spark_source_arguments_are_checked() -> None:
    with pytest.raises(InvalidDefinition, match="exactly one of table=, query= or path="):
        SparkSource(name="x", table="t", query="SELECT 1")
    with pytest.raises(InvalidDefinition, match="exactly one of table=, query= or path="):
        SparkSource(name="x")
    with pytest.raises(InvalidDefinition, match="needs file_format="):
        SparkSource(name="x", path="/data/x")
    with pytest.raises(InvalidDefinition, match="file_format= goes with path= only"):
        SparkSource(name="x", table="t", file_format="parquet")
    with pytest.raises(InvalidDefinition, match="give it a name="):
        SparkSource(query="SELECT 1")
    assert SparkSource(name="x", path="/d", file_format="CSV").file_format == "csv"
    storage = SavedDatasetSparkStorage(table_name="db.training")
    assert storage.spark_source.table == "db.training"


def test_feast_import_path_resolves_to_ladle() -> None:
    from ladle.repo.feast_compat import install_feast_aliases

    install_feast_aliases()
    if not type(sys.modules["feast"]).__name__.startswith("_FeastStandIn"):
        pytest.skip("the real Feast is installed")
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (  # type: ignore[import-not-found]
        SavedDatasetSparkStorage as FeastStorage,
    )
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
        SparkSource as FeastSparkSource,
    )

    assert FeastSparkSource is SparkSource
    assert FeastStorage is SavedDatasetSparkStorage


def test_yaml_keys() -> None:
    config = parse_repo_config(
        {
            "project": "p",
            "offline_store": {
                "type": "spark",
                "spark_conf": {
                    "spark.master": "spark://h:7077",
                    "spark.sql.shuffle.partitions": 8,
                    "spark.sql.adaptive.enabled": True,
                },
                "staging_location": "s3a://bucket/tmp",
                "region": "us-east-1",
            },
            "batch_engine": {"type": "spark", "partitions": 16},
        },
        Path("."),
    )
    assert config.offline_store.type == "spark"
    assert config.offline_store.spark_conf == {
        "spark.master": "spark://h:7077",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "true",
    }
    assert (config.batch_engine.type, config.batch_engine.partitions) == ("spark", 16)
    with pytest.raises(InvalidConfig, match=r"unknown key 'offline_store\.spark_master'"):
        parse_repo_config({"project": "p", "offline_store": {"type": "spark", "spark_master": "x"}}, Path("."))
    with pytest.raises(InvalidConfig, match=r"batch_engine\.type"):
        parse_repo_config({"project": "p", "batch_engine": {"type": "flink"}}, Path("."))


def test_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig

    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(MissingExtra, match=r'pip install "ladle\[spark\]"'):
        SparkOfflineStore(SparkOfflineStoreConfig(), Path("."))

"""After ``store.apply([...])`` the caller's own objects carry what apply inferred (Feast does the same: a
notebook reads ``fv.features`` right after applying a view declared without a schema); a failed apply leaves
them untouched, and the registry never shares an object with the caller."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle import Aggregation, Entity, FeatureView, Field, FileSource, PushSource, StreamFeatureView
from ladle.errors import InvalidDefinition
from ladle.store import FeatureStore
from ladle.types import Float64, Int64


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo: Path = make_repo({})
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
                "rate": [0.5],
                "trips": pa.array([3], pa.int64()),
            }
        ),
        repo / "data/stats.parquet",
    )
    return FeatureStore(repo_path=repo)


def test_apply_fills_the_callers_view_and_source(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="stats", path="data/stats.parquet")  # no timestamp_field: inferred
    fv = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=1), source=source)  # no schema
    assert fv.features == [] and source.timestamp_field == ""
    store.apply([driver, fv])
    assert [(f.name, f.dtype) for f in fv.features] == [("rate", Float64), ("trips", Int64)]
    assert [(f.name, f.dtype) for f in fv.entity_columns] == [("driver_id", Int64)]
    assert source.timestamp_field == "ts" and fv.source is source
    fv.schema.append(Field(name="extra", dtype=Int64))  # the caller's objects are not the registry's
    assert [f.name for f in store.get_feature_view("stats").features] == ["rate", "trips"]


def test_apply_fills_a_windowed_views_output_types(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    push = PushSource(name="stats_push", batch_source=FileSource(name="stats", path="data/stats.parquet"))
    sfv = StreamFeatureView(
        name="trips_1h",
        entities=[driver],
        ttl=timedelta(hours=2),
        source=push,
        aggregations=[Aggregation(column="trips", function="max", time_window=timedelta(hours=1))],
    )
    store.apply([driver, sfv])
    assert [(f.name, f.dtype) for f in sfv.features] == [("max_trips_3600s", Int64)]
    assert push.batch_source.timestamp_field == "ts"


def test_a_failed_apply_leaves_the_callers_objects_alone(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="stats", path="data/stats.parquet")
    bad = FeatureView(
        name="bad", entities=[driver], source=source, schema=[Field(name="nope", dtype=Int64)], ttl=timedelta(0)
    )
    with pytest.raises(InvalidDefinition):
        store.apply([driver, bad])
    assert source.timestamp_field == "" and [f.name for f in bad.features] == ["nope"]

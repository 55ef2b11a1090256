"""The older Feast spellings from the seed tutorial (Feature, ValueType, join_key=, batch_source=,
entities by name) load unchanged, and the entity-aliasing feature service from it works."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ladle.store import FeatureStore

LOCATION_VIEW = """
from feast import Entity, Feature, FeatureView, FileSource, ValueType

location = Entity(name="location", join_key="location_id", value_type=ValueType.INT64)
location_stats_fv = FeatureView(
    name="location_stats",
    entities=["location"],
    features=[
        Feature(name="temperature", dtype=ValueType.INT32)
    ],
    batch_source=FileSource(path="data/location_stats.parquet", event_timestamp_column="event_timestamp"),
)
"""

SERVICE = """
from feast import FeatureService
from location_stats_feature_view import location_stats_fv

temperatures_fs = FeatureService(
    name="temperatures",
    features=[
        location_stats_fv
            .with_name("origin_stats")
            .with_join_key_map(
                {"location_id": "origin_id"}
            ),
        location_stats_fv
            .with_name("destination_stats")
            .with_join_key_map(
                {"location_id": "destination_id"}
            ),
    ],
)
"""


def test_seed_entity_aliasing_repo(make_repo) -> None:
    repo = make_repo({"location_stats_feature_view.py": LOCATION_VIEW, "temperatures_feature_service.py": SERVICE})
    t0 = datetime(2026, 7, 1, tzinfo=timezone.utc)
    pq.write_table(
        pa.table(
            {
                "location_id": pa.array([1, 2], pa.int64()),
                "event_timestamp": pa.array([t0, t0], pa.timestamp("us", tz="UTC")),
                "temperature": pa.array([21, 35], pa.int32()),
            }
        ),
        repo / "data/location_stats.parquet",
    )
    store = FeatureStore(repo_path=repo)
    diff = store.apply_repo()
    assert {c.name for c in diff.added} >= {"location", "location_stats", "temperatures"}
    assert store.get_entity("location").join_key == "location_id"
    trips = pd.DataFrame({"origin_id": [1, 2], "destination_id": [2, 1], "event_timestamp": [t0, t0]})
    df = store.get_historical_features(
        trips, store.get_feature_service("temperatures"), full_feature_names=True
    ).to_df()
    assert df["origin_stats__temperature"].tolist() == [21, 35]
    assert df["destination_stats__temperature"].tolist() == [35, 21]
    assert str(df["origin_stats__temperature"].dtype) == "int32"
    store.materialize(t0, t0)
    online = store.get_online_features(
        "temperatures", [{"origin_id": 1, "destination_id": 2}], full_feature_names=True
    ).to_dict()
    assert online["origin_stats__temperature"] == [21]
    assert online["destination_stats__temperature"] == [35]

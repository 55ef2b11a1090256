"""get_historical_features through FeatureStore: the user's story, with asserted values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.errors import FeatureNotFound, InvalidRequest, NotFound
from ladle.store import FeatureStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)

REPO = """
from datetime import timedelta

import pandas as pd

from ladle import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, on_demand_feature_view
from ladle.types import Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
location = Entity(name="location", join_keys=["location_id"])

stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(hours=3),
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64),
            Field(name="city", dtype=String)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts",
                      created_timestamp_column="created", field_mapping={"conv": "conv_rate"}),
)

temps = FeatureView(
    name="location_stats",
    entities=[location],
    ttl=None,
    schema=[Field(name="temperature", dtype=Int64)],
    source=FileSource(name="loc_src", path="data/locations.parquet", timestamp_field="ts"),
)

global_stats = FeatureView(
    name="global_stats",
    entities=[],
    schema=[Field(name="total_trips", dtype=Int64)],
    source=FileSource(name="global_src", path="data/global.parquet", timestamp_field="ts"),
)

req = RequestSource(name="req", schema=[Field(name="bonus", dtype=Float64)])

@on_demand_feature_view(sources=[stats, req], schema=[Field(name="conv_plus_bonus", dtype=Float64)])
def adjusted(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"conv_plus_bonus": inputs["conv_rate"].astype("float64") + inputs["bonus"]})

@on_demand_feature_view(sources=[stats], schema=[Field(name="trips_doubled", dtype=Int64)], mode="python")
def doubled(inputs):
    return {"trips_doubled": [None if t is None else t * 2 for t in inputs["trips"]]}

svc = FeatureService(
    name="model_v1",
    features=[stats[["conv_rate"]], temps.with_name("origin").with_join_key_map({"location_id": "origin_id"}),
              temps.with_name("dest").with_join_key_map({"location_id": "dest_id"})],
)
"""


def r3(values) -> list[float | None]:
    return [None if pd.isna(v) else round(float(v), 3) for v in values]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo: Path = make_repo({"features.py": REPO})
    utc = pa.timestamp("us", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 1, 1, 2, 2], pa.int64()),
                "ts": pa.array([at(0), at(1), at(1), at(0), at(2)], utc),
                "created": pa.array([at(0), at(1), at(1.5), at(0), None], utc),
                "conv": pa.array([0.1, 0.2, 0.3, 0.5, 0.6], pa.float64()),
                "trips": pa.array([10, 20, None, 50, 60], pa.int64()),
                "city": ["a", "b", "c", "d", "e"],
            }
        ),
        repo / "data/stats.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "location_id": pa.array([7, 8, 7], pa.int64()),
                "ts": pa.array([at(0), at(0), at(5)], utc),
                "temperature": pa.array([20, 30, 25], pa.int64()),
            }
        ),
        repo / "data/locations.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "ts": pa.array([at(0), at(2)], utc),
                "total_trips": pa.array([100, 200], pa.int64()),
            }
        ),
        repo / "data/global.parquet",
    )
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    return s


def entity_df(rows: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "event_timestamp": [at(r[1]) for r in rows],
            "label": list(range(len(rows))),
        }
    )


def test_point_in_time_values_order_and_types(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.2), (2, 1.0), (1, 0.5), (3, 1.0), (1, 5.0), (1, 1.2)])
    df = store.get_historical_features(
        edf, ["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city"]
    ).to_df()
    assert list(df.columns) == ["driver_id", "event_timestamp", "label", "conv_rate", "trips", "city"]
    assert df["label"].tolist() == [0, 1, 2, 3, 4, 5]  # caller's order, duplicates kept
    # row 0: two rows at ts=1 -> the later created (1.5) wins -> conv 0.3, trips null
    assert r3(df["conv_rate"])[:3] == [0.3, 0.5, 0.1]
    assert df["trips"].tolist()[:3] == [pd.NA, 50, 10] or df["trips"].isna().tolist()[:3] == [True, False, False]
    assert pd.isna(df["conv_rate"][3])  # key absent
    assert pd.isna(df["conv_rate"][4])  # newest candidate (ts=1) is 4h old, ttl 3h
    assert df["conv_rate"].dtype == "float32"
    assert str(df["trips"].dtype) == "Int64"  # stays an integer despite nulls
    assert df["city"].tolist()[:3] == ["c", "d", "a"]
    assert df["event_timestamp"].equals(edf["event_timestamp"])


def test_full_feature_names_and_clash(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.2)]).assign(origin_id=[7], dest_id=[8])
    table = store.get_historical_features(edf, ["driver_stats:conv_rate"], full_feature_names=True).to_arrow()
    assert "driver_stats__conv_rate" in table.column_names
    with pytest.raises(InvalidRequest, match="full_feature_names=True"):
        store.get_historical_features(edf, store.get_feature_service("model_v1"))


def test_feature_service_with_aliases(store: FeatureStore) -> None:
    edf = entity_df([(1, 6.0), (2, 1.0)]).assign(origin_id=[7, 8], dest_id=[8, 7])
    df = store.get_historical_features(edf, "model_v1", full_feature_names=True).to_df()
    assert df["origin__temperature"].tolist() == [25, 30]
    assert df["dest__temperature"].tolist() == [30, 20]
    assert pd.isna(df["driver_stats__conv_rate"][0])  # outside ttl
    assert r3(df["driver_stats__conv_rate"])[1] == 0.5


def test_view_without_entities_joins_on_time(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.0), (9, 3.0), (1, -1.0)])
    df = store.get_historical_features(edf, ["global_stats:total_trips"]).to_df()
    assert df["total_trips"].tolist()[:2] == [100, 200]
    assert pd.isna(df["total_trips"][2])


def test_on_demand_views_pandas_and_python(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.2), (2, 0.5)]).assign(bonus=[1.0, 2.0])
    df = store.get_historical_features(
        edf, ["adjusted:conv_plus_bonus", "doubled:trips_doubled", "driver_stats:trips"]
    ).to_df()
    assert r3(df["conv_plus_bonus"]) == [1.3, 2.5]
    assert pd.isna(df["trips_doubled"][0]) and df["trips_doubled"][1] == 100
    assert "conv_rate" not in df.columns  # fetched for the on-demand view only


def test_on_demand_needs_request_column(store: FeatureStore) -> None:
    with pytest.raises(InvalidRequest, match="bonus"):
        store.get_historical_features(entity_df([(1, 1.0)]), ["adjusted:conv_plus_bonus"])


def test_entity_df_kinds(store: FeatureStore, tmp_path: Path) -> None:
    edf = entity_df([(1, 1.2), (2, 1.0)])
    expected = [0.3, 0.5]
    arrow = store.get_historical_features(pa.Table.from_pandas(edf), ["driver_stats:conv_rate"]).to_arrow()
    assert [round(x, 3) for x in arrow.column("conv_rate").to_pylist()] == expected
    import polars as pl

    pol = store.get_historical_features(pl.from_pandas(edf), ["driver_stats:conv_rate"]).to_polars()
    assert [round(x, 3) for x in pol["conv_rate"].to_list()] == expected
    pq.write_table(pa.Table.from_pandas(edf), store.repo_path / "data/labels.parquet")
    sql = "SELECT driver_id, event_timestamp FROM 'data/labels.parquet' ORDER BY label"
    from_sql = store.get_historical_features(sql, ["driver_stats:conv_rate"]).to_df()
    assert r3(from_sql["conv_rate"]) == expected


def test_naive_entity_timestamps_are_utc(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.2)])
    edf["event_timestamp"] = edf["event_timestamp"].dt.tz_localize(None)
    df = store.get_historical_features(edf, ["driver_stats:conv_rate"]).to_df()
    assert round(float(df["conv_rate"][0]), 3) == 0.3


def test_filter_by_created_timestamp(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.2), (1, 1.6)])
    df = store.get_historical_features(edf, ["driver_stats:conv_rate"], filter_by_created_timestamp=True).to_df()
    # at 1.2 the row created at 1.5 is not known yet: the one created at 1.0 is used
    assert r3(df["conv_rate"]) == [0.2, 0.3]


def test_user_errors(store: FeatureStore) -> None:
    edf = entity_df([(1, 1.0)])
    with pytest.raises(InvalidRequest, match="'feature_view:feature'"):
        store.get_historical_features(edf, ["driver_stats.conv_rate"])
    with pytest.raises(NotFound, match="feature view 'nope'"):
        store.get_historical_features(edf, ["nope:x"])
    with pytest.raises(
        FeatureNotFound, match="unknown feature 'nope' in 'driver_stats:nope': feature view 'driver_stats'"
    ):
        store.get_historical_features(edf, ["driver_stats:nope"])
    with pytest.raises(InvalidRequest, match=r"lacks column\(s\) \['driver_id'\]"):
        store.get_historical_features(edf.drop(columns=["driver_id"]), ["driver_stats:conv_rate"])
    with pytest.raises(InvalidRequest, match="no timestamp column"):
        store.get_historical_features(edf.drop(columns=["event_timestamp"]), ["driver_stats:conv_rate"])
    with pytest.raises(InvalidRequest, match="must be a pandas DataFrame"):
        store.get_historical_features([1, 2], ["driver_stats:conv_rate"])

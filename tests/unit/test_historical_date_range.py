"""``store.get_historical_features(features=..., start_date=, end_date=)`` without an entity_df, through
FeatureStore on DuckDB: the rows, the defaults, and the errors a user meets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.errors import InvalidRequest
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, RequestSource, on_demand_feature_view
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
rider = Entity(name="rider", join_keys=["rider_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(hours=3),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
)
trips = FeatureView(
    name="trips", entities=[driver], ttl=timedelta(hours=10),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="trips", dtype=Int64)],
    source=FileSource(name="trips_src", path="data/trips.parquet", timestamp_field="ts"),
)
riders = FeatureView(
    name="riders", entities=[rider], ttl=timedelta(hours=10),
    schema=[Field(name="rider_id", dtype=Int64), Field(name="score", dtype=Int64)],
    source=FileSource(name="riders_src", path="data/riders.parquet", timestamp_field="ts"),
)
req = RequestSource(name="req", schema=[Field(name="bonus", dtype=Float64)])

@on_demand_feature_view(sources=[stats, req], schema=[Field(name="boosted", dtype=Float64)], mode="python")
def boosted(inputs):
    return {"boosted": [r + b for r, b in zip(inputs["rate"], inputs["bonus"])]}
"""


def h(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def write(path: str, key: str, feature: str, rows: list[tuple[int, datetime, object]], kind: pa.DataType) -> None:
    pq.write_table(
        pa.table(
            {
                key: pa.array([r[0] for r in rows], pa.int64()),
                "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
                feature: pa.array([r[2] for r in rows], kind),
            }
        ),
        path,
    )


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({"features.py": REPO})
    write(
        str(repo / "data/stats.parquet"),
        "driver_id",
        "rate",
        [(1, h(2), 0.1), (1, h(9), 0.9), (2, h(1), 0.2)],
        pa.float64(),
    )
    write(str(repo / "data/trips.parquet"), "driver_id", "trips", [(1, h(5), 5), (2, h(20), 20)], pa.int64())
    write(str(repo / "data/riders.parquet"), "rider_id", "score", [(7, h(1), 70)], pa.int64())
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    return s


def test_explicit_range_gives_every_key_and_time_in_it(store: FeatureStore) -> None:
    job = store.get_historical_features(features=["stats:rate", "trips:trips"], start_date=h(6), end_date=NOW)
    table = job.to_arrow()
    assert table.column_names == ["driver_id", "event_timestamp", "rate", "trips"]
    assert [tuple(r.values()) for r in table.to_pylist()] == [
        (1, h(5), None, 5),  # rate's row 4 h earlier is past its 3 h ttl
        (1, h(2), 0.1, 5),
        (2, h(1), 0.2, None),  # driver 2's trips row is 20 h old
    ]


def test_defaults_end_now_and_start_at_the_largest_ttl(store: FeatureStore) -> None:
    df = store.get_historical_features(features=["stats:rate", "trips:trips"]).to_df()
    # the window is now - 10 h (trips' ttl) .. now: the 20 h-old row is out, the 9 h-old one in
    assert sorted(df["event_timestamp"].dt.to_pydatetime()) == [h(9), h(5), h(2), h(1)]
    only_end = store.get_historical_features(features=["stats:rate"], end_date=h(1.5)).to_df()
    assert list(only_end["event_timestamp"].dt.to_pydatetime()) == [h(2)]  # [end - 3 h, end]


def test_errors_name_the_fix(store: FeatureStore) -> None:
    with pytest.raises(InvalidRequest, match="share their join keys"):
        store.get_historical_features(features=["stats:rate", "riders:score"], start_date=h(5))
    with pytest.raises(InvalidRequest, match="request data"):
        store.get_historical_features(features=["boosted:boosted"], start_date=h(5))
    with pytest.raises(InvalidRequest, match="not both"):
        store.get_historical_features(entity_df="SELECT 1", features=["stats:rate"], start_date=h(5))
    with pytest.raises(InvalidRequest, match="after end_date"):
        store.get_historical_features(features=["stats:rate"], start_date=NOW, end_date=h(1))
    with pytest.raises(InvalidRequest, match="needs features"):
        store.get_historical_features(start_date=h(1))

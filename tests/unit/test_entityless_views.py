"""A feature view with ``entities=[]`` (one value for the whole project), through FeatureStore: training
data, materialize, push, write_to_online_store and online reads, on SQLite and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import REDIS_URL, redis_ping
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, PushSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
totals_src = FileSource(name="totals_src", path="data/totals.parquet", timestamp_field="ts")
totals_push = PushSource(name="totals_push", batch_source=totals_src)
totals = FeatureView(name="totals", entities=[], ttl=timedelta(days=2),
                     schema=[Field(name="rides", dtype=Int64), Field(name="mean_rate", dtype=Float64)], source=totals_push)
stats_src = FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts")
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=2),
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)], source=stats_src)
"""


def _online_yaml(kind: str, project: str) -> str:
    if kind == "sqlite":
        return "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
    redis_ping().close()  # Redis answers (or the service rule)
    return f"online_store:\n  type: redis\n  connection_string: {REDIS_URL}\n"


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, make_repo) -> Iterator[FeatureStore]:
    project = f"entityless_{uuid.uuid4().hex[:8]}"
    yaml = (
        f"project: {project}\nregistry: data/registry.db\nprovider: local\n"
        f"{_online_yaml(request.param, project)}offline_store:\n  type: duckdb\n"
    )
    repo: Path = make_repo({"features.py": REPO}, yaml=yaml)
    utc = pa.timestamp("us", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "ts": pa.array([NOW - timedelta(hours=h) for h in (30, 20, 10)], utc),
                "rides": pa.array([1, 2, 3], pa.int64()),
                "mean_rate": [0.1, 0.2, 0.3],
            }
        ),
        repo / "data/totals.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 2], pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=1)] * 2, utc),
                "rate": [0.5, 0.6],
            }
        ),
        repo / "data/stats.parquet",
    )
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    yield s
    s.teardown()
    s.close()


def test_training_data_gets_the_value_as_of_each_row(store: FeatureStore) -> None:
    entity_df = pd.DataFrame(
        {
            "driver_id": [1, 2, 1, 2],
            "event_timestamp": [NOW - timedelta(hours=h) for h in (25, 15, 5, 40)],
        }
    )
    df = store.get_historical_features(entity_df, ["totals:rides", "totals:mean_rate", "stats:rate"]).to_df()
    assert df["rides"].tolist()[:3] == [1, 2, 3] and pd.isna(df["rides"].iloc[3])
    assert df["mean_rate"].tolist()[:3] == [0.1, 0.2, 0.3]


def test_every_online_row_gets_the_one_stored_value(store: FeatureStore) -> None:
    store.materialize(NOW - timedelta(days=3), NOW)
    resp = store.get_online_features(
        ["totals:rides", "stats:rate"], [{"driver_id": 1}, {"driver_id": 2}, {"driver_id": 9}]
    )
    assert resp.to_dict() == {"driver_id": [1, 2, 9], "rides": [3, 3, 3], "rate": [0.5, 0.6, None]}
    assert resp.statuses["rides"] == ["PRESENT"] * 3
    assert resp.to_df()["rides"].tolist() == [3, 3, 3]
    # only entity-less features: one value per entity row, whatever the rows hold (here: nothing)
    alone = store.get_online_features(["totals:mean_rate"], [{}, {}])
    assert alone.to_dict() == {"mean_rate": [0.3, 0.3]}
    assert store.get_online_features(["totals:rides"], {}).to_dict() == {"rides": []}


def test_push_and_write_to_online_store_replace_the_value(store: FeatureStore) -> None:
    store.materialize(NOW - timedelta(days=3), NOW)
    store.push("totals_push", pd.DataFrame({"ts": [NOW], "rides": [10], "mean_rate": [1.0]}))
    assert store.get_online_features(["totals:rides"], [{}]).to_dict() == {"rides": [10]}
    written = store.write_to_online_store(
        "totals",
        pd.DataFrame(
            {"ts": [NOW + timedelta(seconds=1), NOW - timedelta(hours=1)], "rides": [11, 99], "mean_rate": [1.1, 9.9]}
        ),
    )
    assert written == 2
    assert store.get_online_features(["totals:rides", "totals:mean_rate"], [{}]).to_dict() == {
        "rides": [11],
        "mean_rate": [1.1],
    }

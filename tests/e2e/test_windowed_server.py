"""``ladle serve`` with windowed aggregations, as a user drives it: a StreamFeatureView over a push source
is materialized, read over HTTP with statuses (mixed with a plain and an on-demand view), changed by one
pushed event in the very next read, and unchanged by a replay of that event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from server_helpers import Server, result, serving

from ladle import FeatureStore

DEFINITIONS = """
from datetime import timedelta
import pandas as pd
from ladle import (Aggregation, Entity, FeatureView, Field, FileSource, PushSource, StreamFeatureView,
                   on_demand_feature_view)
from ladle.types import Array, Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
events = FileSource(name="events", path="data/events", timestamp_field="ts")
push = PushSource(name="txn_push", batch_source=events)
last_amount = FeatureView(name="last_amount", entities=[user], ttl=timedelta(days=1), source=events,
                          schema=[Field(name="amount", dtype=Float64)])
txn = StreamFeatureView(
    name="txn", entities=[user], ttl=timedelta(hours=2), source=push,
    schema=[Field(name="txn_count_1h", dtype=Int64), Field(name="txn_sum_1h", dtype=Float64),
            Field(name="recent_amounts", dtype=Array(Float64))],
    aggregations=[
        Aggregation(column="amount", function="count", time_window=timedelta(hours=1), name="txn_count_1h"),
        Aggregation(column="amount", function="sum", time_window=timedelta(hours=1), name="txn_sum_1h"),
        Aggregation(column="amount", function="last_2", time_window=timedelta(hours=2), name="recent_amounts"),
    ],
)

@on_demand_feature_view(sources=[txn], schema=[Field(name="avg_1h", dtype=Float64)])
def averaged(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"avg_1h": df["txn_sum_1h"] / df["txn_count_1h"]})
"""
FEATURES = ["txn:txn_count_1h", "txn:txn_sum_1h", "txn:recent_amounts", "last_amount:amount", "averaged:avg_1h"]


@pytest.fixture(scope="module")
def now() -> datetime:
    """Taken when the module's tests start, not when it is imported: windows are measured from the read time,
    so a clock read at collection would let events age out while the rest of the suite runs."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> Path:
    repo = tmp_path_factory.mktemp("windowed") / "repo"
    (repo / "data/events").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array([1, 1, 1], pa.int64()),
                "ts": pa.array([now - timedelta(minutes=m) for m in (10, 50, 90)], pa.timestamp("us", tz="UTC")),
                "amount": pa.array([2.0, 3.0, 5.0]),
            }
        ),
        repo / "data/events/part-0.parquet",
    )
    (repo / "feature_store.yaml").write_text(
        "project: windowed_server\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
    )
    (repo / "features.py").write_text(DEFINITIONS)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    store.materialize(now - timedelta(days=1), now)
    store.close()
    return repo


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[Server]:
    with serving(repo) as server:
        yield server


def _read(server: Server) -> dict[str, dict[str, list[object]]]:
    response = server.post("/get-online-features", {"features": FEATURES, "entities": {"user_id": [1, 2]}})
    assert response.status_code == 200, response.text
    return result(response.json())


def test_windowed_features_over_http_with_statuses(server: Server) -> None:
    got = _read(server)
    assert got["txn_count_1h"]["values"] == [2, 0]
    assert got["txn_count_1h"]["statuses"] == ["PRESENT", "PRESENT"]  # an empty window counts 0
    assert got["txn_sum_1h"]["values"] == [5.0, None]
    assert got["txn_sum_1h"]["statuses"] == ["PRESENT", "NULL_VALUE"]
    assert got["recent_amounts"]["values"] == [[3.0, 2.0], None]
    assert got["amount"]["values"] == [2.0, None]
    assert got["amount"]["statuses"] == ["PRESENT", "NOT_FOUND"]
    assert got["avg_1h"]["values"][0] == 2.5


def test_a_pushed_event_is_in_the_next_read_and_a_replay_is_not_counted(server: Server, now: datetime) -> None:
    event = {"user_id": [1], "ts": [(now - timedelta(minutes=1)).isoformat()], "amount": [10.0]}
    for _ in range(2):  # the second push replays the first
        response = server.post("/push", {"push_source_name": "txn_push", "df": event, "to": "online"})
        assert response.status_code == 200, response.text
        got = _read(server)
        assert got["txn_count_1h"]["values"] == [3, 0]
        assert got["txn_sum_1h"]["values"] == [15.0, None]
        assert got["recent_amounts"]["values"] == [[2.0, 10.0], None]

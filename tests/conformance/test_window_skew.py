"""The skew invariant with windowed aggregations, on every offline x online store pair, through FeatureStore:
after materializing, after pushes and after a replayed push, the online value of every aggregate at read
time t equals the historical value for an entity row at t (mixed with a plain view and an on-demand view)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.store import FeatureStore
from services import PG_DSN, postgres_admin
from spark_support import spark_session

DEFINITIONS = """
from datetime import timedelta
import pandas as pd
from ladle import (Aggregation, Entity, FeatureView, Field, FileSource, PostgreSQLSource, PushSource, SparkSource,
                   StreamFeatureView, on_demand_feature_view)
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
source = {source}
push = PushSource(name="txn_push", batch_source=source)
plain = FeatureView(name="plain", entities=[driver], ttl=timedelta(hours=12), source=source,
                    schema=[Field(name="trips", dtype=Int64)])
H = timedelta(hours=1)
txn = StreamFeatureView(
    name="txn", entities=[driver], ttl=timedelta(hours=6), source=push,
    aggregations=[
        Aggregation(column="amount", function="count", time_window=H, name="n_1h"),
        Aggregation(column="amount", function="sum", time_window=H, name="sum_1h"),
        Aggregation(column="amount", function="mean", time_window=6 * H, name="mean_6h"),
        Aggregation(column="amount", function="min", time_window=6 * H, name="min_6h"),
        Aggregation(column="amount", function="max", time_window=H, name="max_1h"),
        Aggregation(column="amount", function="std", time_window=6 * H, name="std_6h"),
        Aggregation(column="trips", function="sum", time_window=6 * H, name="trips_6h"),
        Aggregation(column="trips", function="count_distinct", time_window=6 * H, name="distinct_trips_6h"),
        Aggregation(column="trips", function="last", time_window=6 * H, name="last_trips"),
        Aggregation(column="trips", function="last_3", time_window=6 * H, name="last3_trips"),
    ],
)

@on_demand_feature_view(sources=[txn], schema=[Field(name="n_plus_one", dtype=Int64)])
def bumped(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({{"n_plus_one": df["n_1h"] + 1}})
"""
FEATURES = [
    "txn:n_1h",
    "txn:sum_1h",
    "txn:mean_6h",
    "txn:min_6h",
    "txn:max_1h",
    "txn:std_6h",
    "txn:trips_6h",
    "txn:distinct_trips_6h",
    "txn:last_trips",
    "txn:last3_trips",
    "plain:trips",
    "bumped:n_plus_one",
]
KEYS = list(range(13))  # 12 has no events at all


def _rows(now: datetime) -> pa.Table:
    """Events at whole minutes, never within 10 minutes of a whole hour before ``now`` (window edges are
    whole hours), so the read a few seconds after ``now`` sees the same windows as training at ``now``."""
    rng = np.random.default_rng(7)
    # distinct (key, time) pairs: the plain view's latest row is then never a tie
    pairs = sorted({(int(k), int(h) * 60 + int(m)) for k, h, m in rng.integers([0, 0, 10], [12, 8, 51], (300, 3))})
    n = len(pairs)
    ts = [now - timedelta(minutes=m) for _, m in pairs]
    amount = [None if rng.random() < 0.1 else float(a) for a in rng.integers(0, 50, n) / 4.0]
    return pa.table(
        {
            "driver_id": pa.array([k for k, _ in pairs], pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(amount, pa.float64()),
            "trips": pa.array(rng.integers(0, 6, n), pa.int64()),
        }
    )


def _offline(kind: str, repo: Path, rows: pa.Table, schema: str | None) -> tuple[str, str]:
    if kind in ("duckdb", "spark"):
        (repo / "data/events").mkdir(parents=True)
        pq.write_table(rows, repo / "data/events/part-0.parquet")
        if kind == "spark":
            spark_session()
            return "offline_store:\n  type: spark\n", (
                "SparkSource(name='events', path='data/events', file_format='parquet', timestamp_field='ts')"
            )
        return "offline_store:\n  type: duckdb\n", "FileSource(name='events', path='data/events', timestamp_field='ts')"
    admin = postgres_admin()
    admin.execute(
        f'CREATE TABLE "{schema}".events (driver_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE PRECISION, trips BIGINT)'
    )
    with admin.cursor() as cur, cur.copy(f'COPY "{schema}".events FROM STDIN') as copy:
        for row in zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True):
            copy.write_row(row)
    admin.close()
    return (
        f'offline_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n',
        f"PostgreSQLSource(name='events', table='{schema}.events', timestamp_field='ts')",
    )


def _online(kind: str, request: pytest.FixtureRequest, schema: str | None) -> str:
    if kind == "sqlite":
        return "online_store:\n  type: sqlite\n  path: data/online.db\n"
    if kind == "redis":
        return "online_store:\n  type: redis\n  connection_string: 127.0.0.1:6379\n"
    if kind == "postgres":
        return f'online_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n'
    return f"online_store:\n  type: dynamodb\n  endpoint_url: {request.getfixturevalue('moto_endpoint')}\n"


def _plain(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if v is pd.NA or v is None:
        return None
    return v.item() if isinstance(v, np.generic) else v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # float sums may differ in the last bits
    return bool(a == b)


def _check(store: FeatureStore, label: str, features: list[str] = FEATURES, empty_key: bool = False) -> None:
    at = datetime.now(UTC)
    served = store.get_online_features(features, {"driver_id": KEYS})
    trained = store.get_historical_features(
        pd.DataFrame({"driver_id": KEYS, "event_timestamp": [at] * len(KEYS)}), features
    ).to_df()
    got = served.to_dict()
    statuses = served.statuses
    for ref in features:
        col = ref.split(":")[1]
        expected = [_plain(v) for v in trained[col].tolist()]
        actual = [_plain(v) for v in got[col]]
        bad = [(k, e, a) for k, e, a in zip(KEYS, expected, actual, strict=True) if not _same(e, a)]
        assert not bad, (label, col, bad)
        if not ref.startswith("plain:"):
            assert "NOT_FOUND" not in statuses[col], (label, col)
    if empty_key:  # key 12 has no events: an empty window, not a missing key
        assert got["n_1h"][12] == 0 and statuses["n_1h"][12] == "PRESENT"
        assert got["sum_1h"][12] is None and statuses["sum_1h"][12] == "NULL_VALUE"


@pytest.mark.parametrize("online", ["sqlite", "redis", "postgres", "dynamodb"])
@pytest.mark.parametrize("offline", ["duckdb", "postgres", "spark"])
def test_windowed_online_equals_historical(
    offline: str, online: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    schema = None
    if "postgres" in (offline, online):
        schema = f"ladle_wskew_{uuid.uuid4().hex[:8]}"
        postgres_admin().execute(f'CREATE SCHEMA "{schema}"')
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    offline_yaml, source = _offline(offline, repo, _rows(now), schema)
    (repo / "feature_store.yaml").write_text(
        f"project: wskew{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        + offline_yaml
        + _online(online, request, schema)
    )
    (repo / "features.py").write_text(DEFINITIONS.format(source=source))
    store = FeatureStore(repo_path=repo)
    try:
        store.apply_repo()
        store.materialize(now - timedelta(days=1), now)
        _check(store, "after materialize", empty_key=True)
        pushed = pd.DataFrame(
            {
                "driver_id": [3, 3, 12],
                "ts": [now - timedelta(minutes=2)] * 2 + [now - timedelta(minutes=3)],
                "amount": [100.0, 2.5, 7.0],
                "trips": [9, 9, 1],
            }
        )
        store.push("txn_push", pushed, to="online_and_offline")
        # the plain view reads the batch source: online it changes at the next materialization
        _check(store, "after a push", [f for f in FEATURES if not f.startswith("plain:")])
        store.push("txn_push", pushed, to="online")  # a replay: counted once
        store.materialize(now - timedelta(days=1), now)  # the pushed events again, from the offline store
        _check(store, "after a replay")
    finally:
        store.teardown()
        store.close()
        if schema is not None:
            postgres_admin().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

"""The training/serving skew invariant on every offline and online store pair, through FeatureStore:
after materializing up to T, the online value of every key equals the historical value at T."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import PG_DSN, REDIS_URL, postgres_admin, spark_session
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

DEFINITIONS = """
from datetime import timedelta
from ladle import Entity, FeatureView, Field, FileSource, PostgreSQLSource, SparkSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
source = {source}
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(hours=6), source=source,
                    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)])
"""


def _rows() -> pa.Table:
    rng = np.random.default_rng(3)
    n = 200
    ts = [NOW - timedelta(minutes=int(m)) for m in rng.integers(1, 600, n)]
    return pa.table(
        {
            "driver_id": pa.array(rng.integers(0, 15, n), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "created": pa.array(
                [t + timedelta(seconds=int(s)) for t, s in zip(ts, rng.integers(0, 3, n), strict=True)],
                pa.timestamp("us", tz="UTC"),
            ),
            "rate": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n))),
            "trips": pa.array(rng.integers(0, 100, n), pa.int64()),
        }
    )


def _offline(kind: str, repo: Path, rows: pa.Table, schema: str | None) -> tuple[str, str]:
    if kind == "spark":
        spark_session()  # the store reuses the active session
        pq.write_table(rows, repo / "data/stats.parquet")
        return (
            "offline_store:\n  type: spark\n",
            "SparkSource(name='stats_src', path='data/stats.parquet', file_format='parquet', "
            "timestamp_field='ts', created_timestamp_column='created')",
        )
    if kind == "duckdb":
        pq.write_table(rows, repo / "data/stats.parquet")
        return (
            "offline_store:\n  type: duckdb\n",
            "FileSource(name='stats_src', path='data/stats.parquet', timestamp_field='ts', "
            "created_timestamp_column='created')",
        )
    with contextlib.closing(postgres_admin()) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".stats (driver_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, '
            "rate DOUBLE PRECISION, trips BIGINT)"
        )
        with conn.cursor() as cur, cur.copy(f'COPY "{schema}".stats FROM STDIN') as copy:
            for row in zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True):
                copy.write_row(row)
    return (
        f'offline_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n',
        "PostgreSQLSource(name='stats_src', table='stats', timestamp_field='ts', created_timestamp_column='created')",
    )


def _online(kind: str, request: pytest.FixtureRequest, schema: str | None) -> str:
    if kind == "sqlite":
        return "online_store:\n  type: sqlite\n  path: data/online.db\n"
    if kind == "redis":
        request.getfixturevalue("redis_client")  # Redis answers (or the service rule)
        return f"online_store:\n  type: redis\n  connection_string: {REDIS_URL}\n"
    if kind == "postgres":
        return f'online_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n'
    endpoint = request.getfixturevalue("moto_endpoint")
    return f"online_store:\n  type: dynamodb\n  endpoint_url: {endpoint}\n"


@pytest.mark.parametrize("online", ["sqlite", "redis", "postgres", "dynamodb"])
@pytest.mark.parametrize("offline", ["duckdb", "postgres", "spark"])
def test_online_equals_historical_after_materialize(
    offline: str, online: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    schema = request.getfixturevalue("pg_schema") if "postgres" in (offline, online) else None
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    rows = _rows()
    offline_yaml, source = _offline(offline, repo, rows, schema)
    project = f"skew{uuid.uuid4().hex[:8]}"
    (repo / "feature_store.yaml").write_text(
        f"project: {project}\nregistry: data/registry.db\nprovider: local\n"
        + offline_yaml
        + _online(online, request, schema)
    )
    (repo / "features.py").write_text(DEFINITIONS.format(source=source))
    store = FeatureStore(repo_path=repo)
    try:
        store.apply_repo()
        store.materialize(NOW - timedelta(days=1), NOW)
        keys = list(range(17))
        features = ["stats:rate", "stats:trips"]
        served = store.get_online_features(features, {"driver_id": keys}).to_dict()
        trained = store.get_historical_features(
            pd.DataFrame({"driver_id": keys, "event_timestamp": [NOW] * len(keys)}), features
        ).to_df()
        for col in ("rate", "trips"):
            expected = [None if pd.isna(v) else v for v in trained[col].tolist()]
            got = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in served[col]]
            assert got == expected, (offline, online, col)
    finally:
        store.teardown()
        store.close()

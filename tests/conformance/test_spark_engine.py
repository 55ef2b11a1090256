"""The Spark batch engine (``batch_engine: {type: spark}``), as a user runs it through FeatureStore: executors
write the latest row per key into SQLite, Redis and PostgreSQL; afterwards the online answer equals the
historical one (the skew invariant), a newer value pushed meanwhile survives a re-run (newer wins), and the
registry records every interval exactly as the local engine does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import PG_DSN, REDIS_URL, spark_session
from ladle.errors import InvalidConfig
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

DEFINITIONS = """
from datetime import timedelta
from ladle import Entity, FeatureView, Field, SparkSource
from ladle.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(hours=6),
    source=SparkSource(name="stats_src", path="data/stats", file_format="parquet", timestamp_field="ts",
                       created_timestamp_column="created", field_mapping={"conv": "rate"}),
    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64), Field(name="city", dtype=String)],
)
"""


def _rows() -> pa.Table:
    rng = np.random.default_rng(11)
    n = 400
    ts = [NOW - timedelta(minutes=int(m)) for m in rng.integers(1, 600, n)]
    trips = rng.integers(0, 100, n)
    return pa.table(
        {
            "driver_id": pa.array(rng.integers(0, 40, n), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "created": pa.array(
                [t + timedelta(seconds=int(s)) for t, s in zip(ts, rng.integers(0, 3, n), strict=True)],
                pa.timestamp("us", tz="UTC"),
            ),
            "conv": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n))),
            "trips": pa.array([None if t % 13 == 0 else int(t) for t in trips], pa.int64()),
            "city": pa.array([f"city-{t % 7} ✓" for t in trips]),
        }
    )


def _online_yaml(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return "online_store:\n  type: sqlite\n  path: data/online.db\n"
    if kind == "redis":
        request.getfixturevalue("redis_client")  # Redis answers (or the service rule)
        return f"online_store:\n  type: redis\n  connection_string: {REDIS_URL}\n"
    schema = request.getfixturevalue("pg_schema")
    return f'online_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n'


def _repo(tmp_path: Path, online_yaml: str, engine: str = "spark", offline: str = "spark") -> Path:
    repo = tmp_path / "repo"
    (repo / "data" / "stats").mkdir(parents=True)
    pq.write_table(_rows(), repo / "data" / "stats" / "part-0.parquet")
    (repo / "feature_store.yaml").write_text(
        f"project: sparkeng{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        f"offline_store:\n  type: {offline}\n"
        + online_yaml
        + f"batch_engine:\n  type: {engine}\n  partitions: 3\n  batch_size: 50\n"
    )
    (repo / "features.py").write_text(DEFINITIONS)
    return repo


def _plain(values: list[object]) -> list[object]:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v for v in values]


@pytest.mark.services  # Spark, whatever the online store
@pytest.mark.parametrize("online", ["sqlite", "redis", "postgres"])
def test_spark_engine_materializes_like_the_local_engine(
    online: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    spark_session()
    store = FeatureStore(repo_path=_repo(tmp_path, _online_yaml(online, request)))
    keys = list(range(42))
    features = ["stats:rate", "stats:trips", "stats:city"]
    try:
        store.apply_repo()
        start = NOW - timedelta(days=1)
        results = store.materialize(start, NOW)
        assert [(r.view, r.rows) for r in results] == [("stats", 40)]
        assert store.registry.materialization_intervals("stats") == [(start, NOW)]
        assert store.registry.materialized_until("stats") == NOW

        # the skew invariant: online at NOW == historical at NOW
        served = store.get_online_features(features, {"driver_id": keys}).to_dict()
        trained = store.get_historical_features(
            pd.DataFrame({"driver_id": keys, "event_timestamp": [NOW] * len(keys)}), features
        ).to_df()
        for name in ("rate", "trips", "city"):
            assert _plain(served[name]) == _plain(trained[name].tolist()), (online, name)

        # newer wins: a value pushed after the source's newest row survives re-materialization
        store.write_to_online_store(
            "stats",
            pd.DataFrame(
                {
                    "driver_id": [3],
                    "ts": [NOW + timedelta(hours=1)],
                    "created": [NOW + timedelta(hours=1)],
                    "rate": [123.5],
                    "trips": [7],
                    "city": ["pushed"],
                }
            ),
        )
        store.materialize(start, NOW)
        again = store.get_online_features(features, {"driver_id": [3, 4]}).to_dict()
        assert again["rate"][0] == 123.5 and again["city"][0] == "pushed"
        assert _plain([again["rate"][1]]) == _plain([trained["rate"][4]])

        # incremental: starts where the last run ended and is recorded the same way
        later = NOW + timedelta(minutes=5)
        (result,) = store.materialize_incremental(later)
        assert (result.start, result.end) == (NOW, later)
        assert store.registry.materialized_until("stats") == later
    finally:
        store.teardown()
        store.close()


def test_spark_engine_needs_the_spark_offline_store(tmp_path: Path) -> None:
    store = FeatureStore(
        repo_path=_repo(tmp_path, "online_store:\n  type: sqlite\n  path: data/online.db\n", offline="duckdb")
    )
    (store.repo_path / "features.py").write_text(
        DEFINITIONS.replace(
            'SparkSource(name="stats_src", path="data/stats", file_format="parquet",',
            'FileSource(name="stats_src", path="data/stats",',
        ).replace("SparkSource", "FileSource")
    )
    try:
        store.apply_repo()
        with pytest.raises(InvalidConfig, match="batch_engine type 'spark' needs offline_store type 'spark'"):
            store.materialize(NOW - timedelta(days=1), NOW)
    finally:
        store.teardown()
        store.close()

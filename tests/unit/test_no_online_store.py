"""``online_store: null`` (an offline-only repo) and a 0-byte registry file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.config import load_repo_config
from ladle.errors import InvalidRequest
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, PushSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="stats_src", path="data/stats", timestamp_field="ts")
push_src = PushSource(name="stats_push", batch_source=src)
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=1),
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)], source=push_src)
"""

YAML = """\
project: offline_only
registry: data/registry.db
provider: local
online_store: null
offline_store:
  type: duckdb
"""


@pytest.fixture
def repo(make_repo) -> Path:
    repo: Path = make_repo({"features.py": REPO}, yaml=YAML)
    (repo / "data/stats").mkdir()
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
                "rate": [0.5],
            }
        ),
        repo / "data/stats/part-0.parquet",
    )
    return repo


def test_null_online_store_is_accepted(repo: Path) -> None:
    assert load_repo_config(repo).online_store is None


def test_offline_calls_work_and_online_calls_name_the_setting(repo: Path) -> None:
    store = FeatureStore(repo_path=repo)
    assert {c.name for c in store.apply_repo().added} >= {"stats", "driver"}
    assert not (repo / "data/online_store.db").exists()
    row = pd.DataFrame({"driver_id": [1], "ts": [NOW], "rate": [0.7]})
    store.push("stats_push", row, to="offline")
    df = store.get_historical_features(
        pd.DataFrame({"driver_id": [1], "event_timestamp": [NOW]}), ["stats:rate"]
    ).to_df()
    assert df["rate"].tolist() == [0.7]
    calls = {
        "get_online_features": lambda: store.get_online_features(["stats:rate"], [{"driver_id": 1}]),
        "materialize": lambda: store.materialize(NOW - timedelta(days=1), NOW),
        "materialize_incremental": lambda: store.materialize_incremental(NOW),
        "write_to_online_store": lambda: store.write_to_online_store("stats", row),
        "push": lambda: store.push("stats_push", row, to="online_and_offline"),
    }
    for what, call in calls.items():
        with pytest.raises(
            InvalidRequest, match=rf"{what}.* needs an online store, but feature_store.yaml sets `online_store: null`"
        ):
            call()
    assert len(pq.read_table(repo / "data/stats").to_pylist()) == 2  # the refused push appended nothing
    store.teardown()
    assert not (repo / "data/registry.db").exists()


def test_a_zero_byte_registry_file_is_a_new_empty_registry(repo: Path) -> None:
    (repo / "data/registry.db").write_bytes(b"")
    store = FeatureStore(repo_path=repo)
    assert store.list_feature_views() == [] and store.registry.version == 0
    store.apply_repo()
    assert [v.name for v in FeatureStore(repo_path=repo).list_feature_views()] == ["stats"]

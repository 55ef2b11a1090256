"""Feast's feature view versions on ladle's registry history: v0, v1 ... per contract change, ``view@vN:feature``
references read offline and (for the active version) online, and pinning a view to a version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.errors import FeatureNotFound, InvalidDefinition, InvalidRequest, RepoLoadError
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days={ttl}),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64){extra}],
    source=FileSource(name="src", path="data/stats.parquet", timestamp_field="ts"),{pin}
)
"""
TRIPS = ', Field(name="trips", dtype=Int64)'


def define(repo: Path, ttl: int = 1, extra: str = "", pin: str = "") -> None:
    (repo / "features.py").write_text(REPO.format(ttl=ttl, extra=extra, pin=f"\n    version={pin!r}," if pin else ""))


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({"features.py": ""})
    define(repo)
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 2], pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=1)] * 2, pa.timestamp("us", tz="UTC")),
                "rate": pa.array([0.5, 0.7]),
                "trips": pa.array([5, 7], pa.int64()),
            }
        ),
        repo / "data/stats.parquet",
    )
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    return s


def versions(store: FeatureStore) -> tuple[int, list[int]]:
    record = store.registry.feature_view_versions("stats")
    return record["active"], [v["version"] for v in record["versions"]]


def three_states(store: FeatureStore) -> None:
    assert versions(store) == (0, [0])
    define(store.repo_path, ttl=2)  # cosmetic: v0 updated in place
    store.apply_repo()
    assert versions(store) == (0, [0])
    define(store.repo_path, ttl=2, extra=TRIPS)  # a contract change: v1
    store.apply_repo()
    assert versions(store) == (1, [0, 1])


ENTITIES = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [NOW, NOW]})


def test_versioned_refs_read_offline(store: FeatureStore) -> None:
    three_states(store)
    df = store.get_historical_features(ENTITIES, ["stats@v0:rate", "stats@v1:trips"]).to_df()
    assert df["rate"].tolist() == [0.5, 0.7] and df["trips"].tolist() == [5, 7]
    full = store.get_historical_features(ENTITIES, ["stats@v0:rate", "stats:rate"], full_feature_names=True).to_df()
    assert full["stats@v0__rate"].tolist() == full["stats__rate"].tolist() == [0.5, 0.7]
    with pytest.raises(FeatureNotFound, match="trips"):
        store.get_historical_features(ENTITIES, ["stats@v0:trips"])  # v0 had no trips
    with pytest.raises(InvalidRequest, match=r"no version v9.*versions: v0, v1"):
        store.get_historical_features(ENTITIES, ["stats@v9:rate"])


def test_versioned_refs_online_only_for_the_active_version(store: FeatureStore) -> None:
    three_states(store)
    store.materialize_incremental(NOW)
    got = store.get_online_features(["stats@v1:trips"], [{"driver_id": 1}]).to_dict()
    assert got["trips"] == [5]
    with pytest.raises(InvalidRequest, match=r"not the active version.*version='v0'"):
        store.get_online_features(["stats@v0:rate"], [{"driver_id": 1}])


def test_pinning_serves_an_earlier_version_online_and_offline(store: FeatureStore) -> None:
    three_states(store)
    define(store.repo_path, ttl=2, extra=TRIPS, pin="v0")
    store.apply_repo()
    assert versions(store) == (0, [0, 1])  # pinning adds no version
    view = store.get_feature_view("stats")
    assert [f.name for f in view.features] == ["rate"] and view.version == "v0"
    store.materialize_incremental(NOW)
    assert store.get_online_features(["stats@v0:rate"], [{"driver_id": 2}]).to_dict()["rate"] == [0.7]
    assert store.get_online_features(["stats:rate"], [{"driver_id": 2}]).to_dict()["rate"] == [0.7]
    with pytest.raises(FeatureNotFound):
        store.get_historical_features(ENTITIES, ["stats:trips"])

    define(store.repo_path, ttl=3, extra=TRIPS, pin="v0")  # a definition change together with the pin
    with pytest.raises(InvalidDefinition, match=r"pinned to v0.*changed in the same apply"):
        store.apply_repo()

    define(store.repo_path, ttl=2, extra=TRIPS)  # back to latest
    store.apply_repo()
    assert versions(store) == (1, [0, 1])
    assert [f.name for f in store.get_feature_view("stats").features] == ["rate", "trips"]


def test_a_bad_pin_is_a_definition_error(store: FeatureStore) -> None:
    define(store.repo_path, pin="2")
    with pytest.raises(RepoLoadError, match=r"features.py, line 8: .*version must be 'latest' or 'v<N>'"):
        store.apply_repo()

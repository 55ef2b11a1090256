"""A mistyped name says what is registered and suggests the closest one (issue 9, item 4).

Before: a typo in a view name inside a feature reference said "none are registered" while views existed.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import RepoFactory
from ladle.errors import MAX_LISTED_NAMES, FeatureNotFound, NotFound, did_you_mean
from ladle.store import FeatureStore

REPO = """
from datetime import timedelta
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
source = FileSource(name="driver_stats_source", path="data/stats.parquet", timestamp_field="ts")
push = PushSource(name="driver_stats_push", batch_source=source)
driver_hourly_stats = FeatureView(name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=1), source=source,
                                  schema=[Field(name="conv_rate", dtype=Float64), Field(name="trips", dtype=Int64)])
customer_profile = FeatureView(name="customer_profile", entities=[driver], ttl=timedelta(days=1), source=push,
                               schema=[Field(name="conv_rate", dtype=Float64)])
svc = FeatureService(name="driver_activity_v1", features=[driver_hourly_stats])

@on_demand_feature_view(sources=[driver_hourly_stats], schema=[Field(name="doubled", dtype=Float64)])
def doubled_rate(df):
    import pandas as pd
    return pd.DataFrame({"doubled": df["conv_rate"] * 2})
"""


@pytest.fixture
def store(make_repo: RepoFactory) -> FeatureStore:
    repo = make_repo({"features.py": REPO})
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
                "conv_rate": [0.5],
                "trips": pa.array([3], pa.int64()),
            }
        ),
        repo / "data/stats.parquet",
    )
    fs = FeatureStore(repo_path=repo)
    fs.apply_repo()
    return fs


def message(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value)


def test_unknown_view_in_a_reference_suggests_the_closest_and_lists_views(store: FeatureStore) -> None:
    with pytest.raises(NotFound) as exc:
        store.get_online_features(["driver_hourly_stat:conv_rate"], [{"driver_id": 1}])
    assert message(exc) == (
        "unknown feature view 'driver_hourly_stat' in 'driver_hourly_stat:conv_rate' of project 'test_project'; "
        "did you mean 'driver_hourly_stats'? registered feature views: customer_profile, doubled_rate, "
        "driver_hourly_stats (check the name, or run `ladle apply`)"
    )
    with pytest.raises(NotFound) as exc:  # the same message on the historical path
        store.get_historical_features(
            pa.table({"driver_id": [1], "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC"))}),
            ["driver_hourly_stat:conv_rate"],
        )
    assert "did you mean 'driver_hourly_stats'?" in message(exc)


def test_unknown_feature_of_a_known_view(store: FeatureStore) -> None:
    with pytest.raises(FeatureNotFound) as exc:
        store.get_online_features(["driver_hourly_stats:conv_rat"], [{"driver_id": 1}])
    assert message(exc) == (
        "unknown feature 'conv_rat' in 'driver_hourly_stats:conv_rat': feature view 'driver_hourly_stats' of "
        "project 'test_project' has no such feature; did you mean 'conv_rate'? its features are: conv_rate, trips"
    )
    with pytest.raises(FeatureNotFound, match="did you mean 'doubled'"):
        store.get_online_features(["doubled_rate:double"], [{"driver_id": 1}])


def test_unknown_service_push_source_entity_and_data_source(store: FeatureStore) -> None:
    with pytest.raises(NotFound) as exc:
        store.get_feature_service("driver_activity")
    assert message(exc) == (
        "unknown feature service 'driver_activity' of project 'test_project'; did you mean 'driver_activity_v1'? "
        "registered feature services: driver_activity_v1 (check the name, or run `ladle apply`)"
    )
    with pytest.raises(NotFound) as exc:
        store.push("driver_stats_pus", pa.table({"driver_id": [1]}))
    assert message(exc) == (
        "unknown push source 'driver_stats_pus' of project 'test_project'; did you mean 'driver_stats_push'? "
        "registered push sources: driver_stats_push (check the name, or run `ladle apply`)"
    )
    with pytest.raises(
        NotFound, match=r"unknown entity 'drivers' .*did you mean 'driver'\? registered entities: driver"
    ):
        store.get_entity("drivers")
    with pytest.raises(
        NotFound,
        match=r"did you mean 'driver_stats_source'\? registered data sources: "
        "driver_stats_push, driver_stats_source",
    ):
        store.get_data_source("driver_stats_sourc")
    with pytest.raises(
        NotFound,
        match=r"unknown feature view 'nope' .*; registered feature views: customer_profile, "
        r"driver_hourly_stats \(",
    ):  # nothing close: no guess
        store.materialize_incremental(pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py() + timedelta(days=1), ["nope"])


def test_nothing_registered_and_long_lists(make_repo: RepoFactory) -> None:
    store = FeatureStore(repo_path=make_repo({}))
    with pytest.raises(NotFound) as exc:
        store.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": 1}])
    assert message(exc) == (
        "unknown feature view 'driver_hourly_stats' in 'driver_hourly_stats:conv_rate' of project 'test_project'; "
        "no feature views are registered (run `ladle apply`)"
    )
    names = [f"view_{i:02d}" for i in range(MAX_LISTED_NAMES + 5)]
    text = str(NotFound("feature view", "view_99", "p", names))
    assert f"registered feature views: {', '.join(names[:MAX_LISTED_NAMES])} (+5 more)" in text
    assert did_you_mean("Driver", ["driver", "customer"]) == "driver"
    assert did_you_mean("zzz", ["driver", "customer"]) is None

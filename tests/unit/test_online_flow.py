"""Materialize, online reads, push and the training/serving skew invariant, through FeatureStore."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.errors import InvalidRequest
from ladle.ingest.push import PushMode
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, PushSource, RequestSource, on_demand_feature_view
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="stats_src", path="data/stats", timestamp_field="ts", created_timestamp_column="created")
push_src = PushSource(name="stats_push", batch_source=src)

stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(hours=6),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=push_src,
)
forever = FeatureView(
    name="driver_forever", entities=[driver], ttl=None,
    schema=[Field(name="rate", dtype=Float64)], source=src,
)
req = RequestSource(name="req", schema=[Field(name="add", dtype=Float64)])

@on_demand_feature_view(sources=[stats, req], schema=[Field(name="rate_plus", dtype=Float64)], mode="python")
def plus(inputs):
    return {"rate_plus": [None if r is None else r + a for r, a in zip(inputs["rate"], inputs["add"])]}
"""


def write_source(repo: Path, rows: pd.DataFrame, name: str = "part-0.parquet") -> None:
    folder = repo / "data/stats"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.set_column(
        table.schema.get_field_index("ts"), "ts", table.column("ts").cast(pa.timestamp("us", tz="UTC"))
    )
    table = table.set_column(
        table.schema.get_field_index("created"), "created", table.column("created").cast(pa.timestamp("us", tz="UTC"))
    )
    pq.write_table(table, folder / name)


def random_rows(seed: int, keys: int = 20, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = [NOW - timedelta(minutes=int(m)) for m in rng.integers(1, 60 * 10, n)]
    return pd.DataFrame(
        {
            "driver_id": rng.integers(0, keys, n),
            "ts": ts,
            "created": [t + timedelta(seconds=int(s)) for t, s in zip(ts, rng.integers(0, 3, n), strict=True)],
            "rate": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
            "trips": rng.integers(0, 100, n),
        }
    )


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({"features.py": REPO})
    write_source(repo, random_rows(1))
    s = FeatureStore(repo_path=repo)
    s.apply_repo()
    return s


def test_training_serving_skew_invariant(store: FeatureStore) -> None:
    """After materializing up to T, the online value of every key equals the historical value at T."""
    store.materialize(NOW - timedelta(days=2), NOW)
    keys = list(range(22))  # 20, 21 never appear
    features = ["driver_stats:rate", "driver_stats:trips", "driver_forever:rate"]
    online = store.get_online_features(features, {"driver_id": keys}, full_feature_names=True).to_dict()
    hist = store.get_historical_features(
        pd.DataFrame({"driver_id": keys, "event_timestamp": [NOW] * len(keys)}), features, full_feature_names=True
    ).to_df()
    for col in ("driver_stats__rate", "driver_stats__trips", "driver_forever__rate"):
        expected = [None if pd.isna(v) else v for v in hist[col].tolist()]
        got = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in online[col]]
        assert got == expected, col
    assert online["driver_id"] == keys


def test_statuses(store: FeatureStore, make_repo) -> None:
    old = NOW - timedelta(hours=8)
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [100, 101, 102],
                "ts": [NOW, NOW, old],
                "created": [NOW, NOW, old],
                "rate": [0.5, None, 0.7],
                "trips": [1, 2, 3],
            }
        ),
    )
    resp = store.get_online_features(["driver_stats:rate"], [{"driver_id": i} for i in (100, 101, 102, 999)])
    assert resp.to_dict()["rate"] == [0.5, None, None, None]
    assert resp.statuses["rate"] == ["PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    lenient = make_repo(
        {"features.py": REPO},
        yaml=(store.repo_path / "feature_store.yaml")
        .read_text()
        .replace("path: data/online_store.db", "path: data/online_store.db\n  enforce_ttl: false"),
        name="lenient",
    )
    write_source(lenient, random_rows(1))
    s2 = FeatureStore(repo_path=lenient)
    s2.apply_repo()
    s2.write_to_online_store(
        "driver_stats", pd.DataFrame({"driver_id": [102], "ts": [old], "created": [old], "rate": [0.7], "trips": [3]})
    )
    resp2 = s2.get_online_features(["driver_stats:rate"], {"driver_id": [102]})
    assert resp2.to_dict()["rate"] == [0.7] and resp2.statuses["rate"] == ["PRESENT"]


def test_materialize_incremental_and_idempotence(store: FeatureStore) -> None:
    first = store.materialize_incremental(NOW)
    assert {r.view for r in first} == {"driver_stats", "driver_forever"}
    by_view = {r.view: r for r in first}
    assert by_view["driver_stats"].start == NOW - timedelta(hours=6)
    assert by_view["driver_forever"].start == datetime(1970, 1, 1, tzinfo=UTC)
    before = store.get_online_features(["driver_forever:rate"], {"driver_id": list(range(20))}).to_dict()
    second = store.materialize_incremental(NOW)
    assert all(r.start == NOW and r.rows == 0 for r in second)
    store.materialize(NOW - timedelta(days=3), NOW)  # re-running an old interval changes nothing
    after = store.get_online_features(["driver_forever:rate"], {"driver_id": list(range(20))}).to_dict()
    assert before == after


def test_newer_wins_across_write_paths(store: FeatureStore) -> None:
    store.materialize(NOW - timedelta(days=1), NOW)
    future = NOW + timedelta(minutes=1)
    store.push(
        "stats_push",
        pd.DataFrame({"driver_id": [1], "ts": [future], "created": [future], "rate": [42.0], "trips": [7]}),
    )
    store.materialize(NOW - timedelta(days=1), NOW)  # older rows must not overwrite the push
    got = store.get_online_features(["driver_stats:rate", "driver_stats:trips"], {"driver_id": [1]}).to_dict()
    assert got == {"driver_id": [1], "rate": [42.0], "trips": [7]}
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [1, 1],
                "ts": [future - timedelta(hours=1), future + timedelta(seconds=1)],
                "created": [future, future],
                "rate": [1.0, 2.0],
                "trips": [1, 2],
            }
        ),
    )
    got = store.get_online_features(["driver_stats:rate"], {"driver_id": [1]}).to_dict()
    assert got["rate"] == [2.0]


def test_push_offline_reaches_training_data(store: FeatureStore) -> None:
    t = NOW + timedelta(minutes=5)
    store.push(
        "stats_push",
        pd.DataFrame({"driver_id": [5], "ts": [t], "created": [t], "rate": [9.5], "trips": [99]}),
        to=PushMode.OFFLINE,
    )
    hist = store.get_historical_features(
        pd.DataFrame({"driver_id": [5], "event_timestamp": [t]}), ["driver_stats:rate"]
    ).to_df()
    assert hist["rate"].tolist() == [9.5]
    online = store.get_online_features(["driver_stats:rate"], {"driver_id": [5]}).to_dict()
    assert online["rate"] != [9.5]  # offline only
    store.push(
        "stats_push",
        pd.DataFrame({"driver_id": [5], "ts": [t], "created": [t], "rate": [9.5], "trips": [99]}),
        to="online_and_offline",
    )
    assert store.get_online_features(["driver_stats:rate"], {"driver_id": [5]}).to_dict()["rate"] == [9.5]


def test_push_online_and_offline_checks_everything_before_writing(store: FeatureStore) -> None:
    """A frame the offline source cannot take (here: no 'created' column, which online does not need) is
    refused before the online write, so online and offline never disagree."""
    t = NOW + timedelta(minutes=7)
    before = store.get_online_features(["driver_stats:rate"], {"driver_id": [6]}).to_dict()["rate"]
    with pytest.raises(InvalidRequest, match=r"lack column\(s\) \['created'\] of the offline source"):
        store.push(
            "stats_push",
            pd.DataFrame({"driver_id": [6], "ts": [t], "rate": [7.25], "trips": [70]}),
            to=PushMode.ONLINE_AND_OFFLINE,
        )
    assert store.get_online_features(["driver_stats:rate"], {"driver_id": [6]}).to_dict()["rate"] == before
    hist = store.get_historical_features(
        pd.DataFrame({"driver_id": [6], "event_timestamp": [t]}), ["driver_stats:rate"]
    ).to_df()
    assert hist["rate"].tolist() != [7.25]


def test_on_demand_online_with_request_data(store: FeatureStore) -> None:
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {"driver_id": [1, 2], "ts": [NOW, NOW], "created": [NOW, NOW], "rate": [0.5, None], "trips": [1, 2]}
        ),
    )
    got = store.get_online_features(
        ["plus:rate_plus"], [{"driver_id": 1, "add": 1.0}, {"driver_id": 2, "add": 2.0}]
    ).to_dict()
    assert got["rate_plus"] == [1.5, None]
    with pytest.raises(InvalidRequest, match="request data 'add'"):
        store.get_online_features(["plus:rate_plus"], [{"driver_id": 1}])


def test_online_user_errors(store: FeatureStore) -> None:
    with pytest.raises(InvalidRequest, match=r"lack join key\(s\) \['driver_id'\]"):
        store.get_online_features(["driver_stats:rate"], [{"driver": 1}])
    with pytest.raises(InvalidRequest, match="wrong type"):
        store.get_online_features(["driver_stats:rate"], [{"driver_id": "abc"}])
    with pytest.raises(InvalidRequest, match="lack column"):
        store.push("stats_push", pd.DataFrame({"driver_id": [1], "ts": [NOW]}))
    with pytest.raises(InvalidRequest, match="push mode"):
        store.push("stats_push", pd.DataFrame({"driver_id": [1]}), to="sideways")


def test_online_table_is_readable_like_feast(store: FeatureStore) -> None:
    store.materialize(NOW - timedelta(days=1), NOW)
    con = sqlite3.connect(store.repo_path / "data/online_store.db")
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(test_project_driver_stats)")]
    finally:
        con.close()
    assert "rate" in cols and "trips" in cols


def test_push_to_a_source_no_view_reads_is_an_error(store: FeatureStore) -> None:
    from ladle import FileSource, PushSource

    orphan = PushSource(
        name="orphan_push", batch_source=FileSource(name="orphan_src", path="data/stats", timestamp_field="ts")
    )
    store.apply([orphan])
    for mode in ("online", "offline", "online_and_offline"):
        with pytest.raises(InvalidRequest, match="push source 'orphan_push' is not the source of any feature view"):
            store.push("orphan_push", pd.DataFrame({"driver_id": [1], "ts": [NOW], "rate": [1.0]}), to=mode)
    from ladle import Entity, FeatureView

    offline_only = FeatureView(
        name="offline_only", entities=[Entity(name="driver", join_keys=["driver_id"])], source=orphan, online=False
    )
    store.apply([offline_only])
    with pytest.raises(InvalidRequest, match=r"feeds only views with online=False \(offline_only\)"):
        store.push("orphan_push", pd.DataFrame({"driver_id": [1], "ts": [NOW], "rate": [1.0]}))
    store.push(
        "orphan_push",
        pd.DataFrame({"driver_id": [1], "ts": [NOW], "created": [NOW], "rate": [1.0], "trips": [1]}),
        to="offline",
    )


def test_write_of_no_rows_is_a_no_op(store: FeatureStore) -> None:
    assert store.write_to_online_store("driver_stats", pd.DataFrame()) == 0
    assert (
        store.write_to_online_store("driver_stats", pd.DataFrame({"driver_id": [], "ts": [], "rate": [], "trips": []}))
        == 0
    )
    store.push("stats_push", pd.DataFrame(), to="online")
    assert store.get_online_features(["driver_stats:rate"], {"driver_id": [1]}).statuses["rate"] == ["NOT_FOUND"]


def test_a_newer_row_of_only_nulls_keeps_the_stored_values(store: FeatureStore) -> None:
    later = NOW + timedelta(minutes=1)
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {"driver_id": [1, 2], "ts": [NOW, NOW], "created": [NOW, NOW], "rate": [0.5, 0.6], "trips": [5, 6]}
        ),
    )
    written = store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [1, 2],
                "ts": [later, later],
                "created": [later, later],
                "rate": [None, None],
                "trips": pd.array([None, 7], dtype="Int64"),
            }
        ),
    )
    assert written == 1  # key 1's row is all null: skipped; key 2's partial null is a value
    got = store.get_online_features(["driver_stats:rate", "driver_stats:trips"], {"driver_id": [1, 2]})
    assert got.to_dict() == {"driver_id": [1, 2], "rate": [0.5, None], "trips": [5, 7]}
    store.push(
        "stats_push",
        pd.DataFrame(
            {
                "driver_id": [2],
                "ts": [later],
                "created": [later + timedelta(seconds=1)],
                "rate": [None],
                "trips": pd.array([None], dtype="Int64"),
            }
        ),
    )
    assert store.get_online_features(["driver_stats:trips"], {"driver_id": [2]}).to_dict()["trips"] == [7]
    # asked for: the nulls are written
    store.push(
        "stats_push",
        pd.DataFrame(
            {
                "driver_id": [2],
                "ts": [later],
                "created": [later + timedelta(seconds=1)],
                "rate": [None],
                "trips": pd.array([None], dtype="Int64"),
            }
        ),
        write_all_null_rows=True,
    )
    store.write_to_online_store(
        "driver_stats",
        pd.DataFrame(
            {
                "driver_id": [1],
                "ts": [later],
                "created": [later],
                "rate": [None],
                "trips": pd.array([None], dtype="Int64"),
            }
        ),
        write_all_null_rows=True,
    )
    got = store.get_online_features(["driver_stats:rate", "driver_stats:trips"], {"driver_id": [1, 2]})
    assert got.to_dict() == {"driver_id": [1, 2], "rate": [None, None], "trips": [None, None]}
    assert got.statuses["trips"] == ["NULL_VALUE", "NULL_VALUE"]


def test_materialize_refuses_an_end_in_the_future(store: FeatureStore) -> None:
    """An end far ahead would be recorded as where the next incremental run starts, skipping real data."""
    from datetime import datetime as dt

    with pytest.raises(InvalidRequest, match="is in the future"):
        store.materialize(NOW - timedelta(days=1), dt(9999, 12, 31))
    with pytest.raises(InvalidRequest, match="is in the future"):
        store.materialize_incremental(dt.now(UTC) + timedelta(hours=1))
    assert store.registry.materialized_until("driver_stats") is None or store.registry.materialized_until(
        "driver_stats"
    ) <= dt.now(UTC)
    store.materialize_incremental(dt.now(UTC) + timedelta(minutes=1))  # within the clock-skew allowance


@pytest.mark.parametrize("keys", [[True, False], ["1", "2"]])
def test_historical_keys_follow_the_online_typing_rule(store: FeatureStore, keys: list[object]) -> None:
    with pytest.raises(InvalidRequest, match="entity column 'driver_id' has a value of the wrong type"):
        store.get_online_features(["driver_stats:rate"], {"driver_id": keys})
    entity_df = pd.DataFrame({"driver_id": keys, "event_timestamp": [NOW, NOW]})
    with pytest.raises(InvalidRequest, match="entity column 'driver_id' has a value of the wrong type"):
        store.get_historical_features(entity_df, ["driver_stats:rate"])

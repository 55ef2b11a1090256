"""FeatureStore.apply with objects (Feast's programmatic style), deletions, and what online tables follow."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle import Entity, FeatureView, Field, FileSource
from ladle.errors import InvalidDefinition, NotFound
from ladle.store import FeatureStore
from ladle.types import Float64, Int64


def tables(repo: Path) -> set[str]:
    con = sqlite3.connect(repo / "data/online_store.db")
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({})
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
                "rate": [0.5],
                "trips": pa.array([3], pa.int64()),
            }
        ),
        repo / "data/stats.parquet",
    )
    return FeatureStore(repo_path=repo)


def view(name: str, driver: Entity, **kw) -> FeatureView:
    return FeatureView(
        name=name,
        entities=[driver],
        ttl=timedelta(days=1),
        source=FileSource(path="data/stats.parquet", timestamp_field="ts"),
        **kw,
    )


def test_apply_objects_adds_and_keeps_others(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    a = view("a", driver, schema=[Field(name="rate", dtype=Float64)])
    diff = store.apply([driver, a])
    assert {(c.kind, c.name) for c in diff.added} >= {("entity", "driver"), ("feature_view", "a")}
    b = view("b", driver)  # schema inferred from the source
    store.apply(b)
    assert sorted(v.name for v in store.list_feature_views()) == ["a", "b"]
    assert [f.name for f in store.get_feature_view("b").features] == ["rate", "trips"]
    assert {"test_project_a", "test_project_b"} <= tables(store.repo_path)
    store.apply([], objects_to_delete=[a])
    assert [v.name for v in store.list_feature_views()] == ["b"]
    assert "test_project_a" not in tables(store.repo_path)
    with pytest.raises(NotFound):
        store.get_feature_view("a")


def test_apply_rejects_bad_view_and_writes_nothing(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver, schema=[Field(name="rate", dtype=Float64)])])
    registry_file = store.repo_path / "data/registry.db"
    before = registry_file.read_bytes()
    with pytest.raises(InvalidDefinition, match="feature 'nope' is not a column of source"):
        store.apply(view("c", driver, schema=[Field(name="nope", dtype=Int64)]))
    with pytest.raises(InvalidDefinition, match="is declared Int64, but column 'rate'"):
        store.apply(view("d", driver, schema=[Field(name="rate", dtype=Int64)]))
    assert registry_file.read_bytes() == before


def test_materialize_before_apply_says_what_to_do(store: FeatureStore) -> None:
    from datetime import datetime, timezone

    from ladle.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="no feature views registered; run `ladle apply` first"):
        store.materialize_incremental(datetime.now(timezone.utc))


def test_two_entities_of_one_view_sharing_a_join_key_are_rejected(store: FeatureStore) -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    rider = Entity(name="rider", join_keys=["driver_id"])
    both = FeatureView(
        name="both",
        entities=[driver, rider],
        ttl=timedelta(days=1),
        source=FileSource(path="data/stats.parquet", timestamp_field="ts"),
    )
    with pytest.raises(
        InvalidDefinition, match=r"FeatureView 'both'.*entities 'driver' and 'rider' both have join key 'driver_id'"
    ):
        store.apply([driver, rider, both])
    assert store.registry.version == 0
    # apply still works, and each entity alone is fine
    store.apply([view("a", driver), view("b", rider)])
    assert [v.name for v in store.list_feature_views()] == ["a", "b"]


def test_an_entity_value_type_contradicting_its_join_key_field_is_rejected(store: FeatureStore) -> None:
    from ladle.types import String, ValueType

    named = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.STRING)
    with pytest.raises(
        InvalidDefinition,
        match=r"FeatureView 'inferred'.*entity 'driver' has value_type STRING.*"
        r"join key 'driver_id' is Int64",
    ):
        store.apply([named, view("inferred", named)])  # the key's type is inferred from the source: int64
    with pytest.raises(InvalidDefinition, match=r"entity 'driver' has value_type STRING.*'driver_id' is Int64"):
        store.apply([named, view("declared", named, schema=[Field(name="driver_id", dtype=Int64)])])
    assert store.registry.version == 0
    wide = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT32)  # a width is no contradiction
    store.apply(
        [wide, view("ok", wide, schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)])]
    )
    assert store.get_feature_view("ok").join_keys == ["driver_id"]
    with pytest.raises(InvalidDefinition, match=r"entity 'driver' has value_type INT32.*'driver_id' is String"):
        store.apply([wide, view("ok", wide, schema=[Field(name="driver_id", dtype=String)])])


def test_apply_repairs_a_registry_with_two_entities_on_one_join_key(store: FeatureStore) -> None:
    """A registry an earlier version wrote (a view keyed by two entities with one join key, so its schema
    holds the key twice) can still be read and repaired by an apply that removes one entity."""
    import json

    from ladle.definitions.base import content_hash

    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver)])
    path = store.repo_path / "data/registry.db"
    doc = json.loads(path.read_text())
    entity = doc["objects"]["entities"]["driver"]
    doc["objects"]["entities"]["rider"] = {**entity, "spec": {**entity["spec"], "name": "rider"}}
    spec = doc["objects"]["feature_views"]["a"]["spec"]
    spec["entities"] = ["driver", "rider"]
    spec["schema"].insert(0, dict(spec["schema"][0]))
    assert [f["name"] for f in spec["schema"]].count("driver_id") == 2
    for stored in (doc["objects"]["entities"]["rider"], doc["objects"]["feature_views"]["a"]):
        stored["hash"] = content_hash(stored["spec"])
    path.write_text(json.dumps(doc))
    fresh = FeatureStore(repo_path=store.repo_path)
    assert fresh.get_feature_view("a").join_keys == ["driver_id", "driver_id"]
    fresh.apply([driver, view("a", driver)], partial=False)
    assert [e.name for e in fresh.list_entities()] == ["driver"]
    assert fresh.get_feature_view("a").join_keys == ["driver_id"]
    assert fresh.list_feature_views()[0].to_dict()["entities"] == ["driver"]


def test_projecting_a_view_whose_schema_is_inferred_is_checked_at_apply(store: FeatureStore) -> None:
    from datetime import UTC, datetime

    import pandas as pd

    from ladle import FeatureService

    driver = Entity(name="driver", join_keys=["driver_id"])
    inferred = view("inferred", driver)  # no schema: features come from the source at apply
    service = FeatureService(name="svc", features=[inferred[["trips"]]])
    store.apply([driver, inferred, service])
    assert [f.name for f in store.get_feature_view("inferred").features] == ["rate", "trips"]
    df = store.get_historical_features(
        pd.DataFrame({"driver_id": [1], "event_timestamp": [datetime(1970, 1, 1, 1, tzinfo=UTC)]}),
        store.get_feature_service("svc"),
    ).to_df()
    assert list(df.columns) == ["driver_id", "event_timestamp", "trips"] and df["trips"].tolist() == [3]
    typo = FeatureService(name="typo", features=[view("inferred", driver)[["trips", "tripz"]]])
    with pytest.raises(InvalidDefinition, match=r"FeatureService 'typo'.*'tripz' of 'inferred'.*rate, trips"):
        store.apply([driver, view("inferred", driver), typo])
    with pytest.raises(InvalidDefinition, match=r"cannot project unknown feature\(s\) \['nope'\]"):
        store.get_feature_view("inferred")[["nope"]]  # a view with a known schema still checks at once


def test_a_failed_partial_apply_leaves_the_cached_views_as_registered(store: FeatureStore) -> None:
    """Inference works on copies: an apply that re-checks a registered view against a changed entity (and
    fails) never rebinds the view object the registry cache hands to every reader."""
    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver, schema=[Field(name="rate", dtype=Float64)])])
    held = store.get_feature_view("a")
    before = (held.to_dict(), held.join_keys, [f.name for f in held.features])
    with pytest.raises(InvalidDefinition, match="join key 'driver_key' is not a column"):
        store.apply(Entity(name="driver", join_keys=["driver_key"]))
    assert (held.to_dict(), held.join_keys, [f.name for f in held.features]) == before
    assert store.get_feature_view("a").join_keys == ["driver_id"]


def test_concurrent_readers_never_see_a_half_inferred_view(store: FeatureStore) -> None:
    """Two threads read the cached registry while another applies (failing and succeeding partial applies,
    and an object taken from the cache itself): every view they see is one the registry holds."""
    import threading

    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver)])  # features inferred from the source
    registered = {(tuple(store.get_feature_view("a").join_keys), ("rate", "trips"))}
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            v = store.get_feature_view("a")
            seen.add((tuple(v.join_keys), tuple(f.name for f in v.features)))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for _ in range(5):
            with pytest.raises(InvalidDefinition):
                store.apply(Entity(name="driver", join_keys=["driver_key"]))
            cached = store.get_feature_view("a")
            store.apply([cached[["rate"]], Entity(name="driver", join_keys=["driver_id"])])
    finally:
        stop.set()
        for r in readers:
            r.join(timeout=10)
    assert seen == registered
    assert store.get_feature_view("a").projection.features is None


@pytest.mark.parametrize(
    ("objects_to_delete", "message"),
    [
        (5, r"apply\(objects_to_delete=...\) must be a list of definitions, got int"),
        (["a"], r"apply\(objects_to_delete=...\) holds 'a', which is not a definition"),
    ],
)
def test_objects_to_delete_that_are_not_definitions_are_refused(
    store: FeatureStore, objects_to_delete: object, message: str
) -> None:
    from ladle.errors import WrongArgumentType

    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver)])
    with pytest.raises(WrongArgumentType, match=message):
        store.apply([], objects_to_delete=objects_to_delete)
    assert [v.name for v in store.list_feature_views()] == ["a"]


def test_a_progress_that_is_not_a_function_is_refused_before_anything_runs(store: FeatureStore) -> None:
    from datetime import UTC, datetime

    from ladle.errors import WrongArgumentType

    driver = Entity(name="driver", join_keys=["driver_id"])
    store.apply([driver, view("a", driver)])
    with pytest.raises(WrongArgumentType, match=r"progress must be a function .* got int"):
        store.materialize(datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 2, tzinfo=UTC), progress=5)
    with pytest.raises(WrongArgumentType, match="progress must be a function"):
        store.materialize_incremental(datetime(1970, 1, 2, tzinfo=UTC), progress="bar")
    assert store.registry.materialized_until("a") is None


def test_a_repo_path_that_is_not_a_path_is_refused() -> None:
    from ladle.errors import WrongArgumentType

    with pytest.raises(WrongArgumentType, match=r"FeatureStore\(repo_path=...\) must be a folder path, got int"):
        FeatureStore(repo_path=123)  # type: ignore[arg-type]

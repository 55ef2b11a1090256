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
    pq.write_table(pa.table({
        "driver_id": pa.array([1], pa.int64()),
        "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
        "rate": [0.5], "trips": pa.array([3], pa.int64()),
    }), repo / "data/stats.parquet")
    return FeatureStore(repo_path=repo)


def view(name: str, driver: Entity, **kw) -> FeatureView:
    return FeatureView(
        name=name, entities=[driver], ttl=timedelta(days=1),
        source=FileSource(path="data/stats.parquet", timestamp_field="ts"), **kw,
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

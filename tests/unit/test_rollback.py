"""``rollback``: ``latest`` moves back and the online store serves the older version with replace semantics
(newer-wins would keep the rolled-back rows; keys only in the newer version go), all-or-nothing under
injected online failures."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from ladle.errors import BackendUnavailable, InvalidRequest
from ladle.store import FeatureStore
from operating_repo import FEATURES, NOW, SQLITE_ONLINE, YAML, build, expected

VIEW = "driver_stats"
REFS = [f"{VIEW}:rate", f"{VIEW}:trips"]


def online(store: FeatureStore, drivers: list[int]) -> dict[str, list[object]]:
    got = store.get_online_features(REFS, [{"driver_id": d} for d in drivers]).to_dict()
    return {"rate": got["rate"], "trips": got["trips"]}


def two_versions(make_repo: Any) -> FeatureStore:
    """v1 (drivers 1-3) and then v2 (drivers 1, 2, 4, newer events), each materialized."""
    yaml = YAML.format(
        project="rollback",
        registry="data/registry.db",
        online=SQLITE_ONLINE,
        offline="",
        root="data/sets",
        root_extra="",
    )
    features = FEATURES.format(ttl_days=2, path="data/sets/driver_stats/latest", extra="")
    store = FeatureStore(repo_path=make_repo({"features.py": features}, yaml=yaml))
    store.publish(VIEW, build([1, 2, 3], 1.0, 10, hours_ago=2), version="v1")
    store.apply_repo()
    store.materialize_incremental(NOW)
    store.publish(VIEW, build([1, 2, 4], 2.0, 20, hours_ago=1), version="v2")
    store.materialize(NOW - timedelta(days=2), NOW + timedelta(seconds=1))  # v2 is older than the last run
    # newer-wins alone: v2's keys hold v2, key 3 keeps its v1 row
    assert online(store, [1, 2, 3, 4]) == {
        "rate": [2.25, 2.5, 1.75, 3.0],
        "trips": [21, 22, 13, 24],
    }
    return store


def test_rollback_serves_the_older_version_and_removes_newer_keys(make_repo: Any) -> None:
    store = two_versions(make_repo)
    result = store.rollback(VIEW, "v1")
    assert (result.previous, result.version, result.keys_replaced) == ("v2", "v1", 4)
    want = expected([1, 2, 3], 1.0, 10)
    assert online(store, [1, 2, 3, 4]) == {"rate": [*want["rate"], None], "trips": [*want["trips"], None]}
    assert [v.version for v in store.list_versions(VIEW) if v.is_latest] == ["v1"]
    # and forward again: the newer version comes back whole
    store.rollback(VIEW, "v2")
    want = expected([1, 2, 4], 2.0, 20)
    assert online(store, [1, 2, 3, 4]) == {
        "rate": [want["rate"][0], want["rate"][1], None, want["rate"][2]],
        "trips": [want["trips"][0], want["trips"][1], None, want["trips"][2]],
    }


@pytest.mark.parametrize("failing", ["delete", "write"])
def test_a_failed_online_step_restores_the_pointer_and_the_values(
    make_repo: Any, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store = two_versions(make_repo)
    before = online(store, [1, 2, 3, 4])
    real = getattr(store.online_store, failing)
    calls = []

    def fail_once(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise BackendUnavailable("sqlite online store", f"injected failure in {failing}")
        return real(*args)

    monkeypatch.setattr(store.online_store, failing, fail_once)
    with pytest.raises(BackendUnavailable, match=f"injected failure in {failing}"):
        store.rollback(VIEW, "v1")
    pointer = json.loads((store.repo_path / "data/sets/driver_stats/latest").read_text())
    assert pointer["version"] == "v2"
    assert online(store, [1, 2, 3, 4]) == before
    store.rollback(VIEW, "v1")  # the store answering again: the same rollback goes through
    want = expected([1, 2, 3], 1.0, 10)
    assert online(store, [1, 2, 3, 4]) == {"rate": [*want["rate"], None], "trips": [*want["trips"], None]}


def test_rollback_refuses_unknown_versions_and_other_contracts(make_repo: Any) -> None:
    store = two_versions(make_repo)
    with pytest.raises(InvalidRequest, match=r"no published version 'v9'.*published: v1, v2"):
        store.rollback(VIEW, "v9")
    meta_path = store.repo_path / "data/sets/driver_stats/v1/metadata.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "schema_hash": "0" * 64}))
    with pytest.raises(InvalidRequest, match=r"'v1' was published under another contract|another contract"):
        store.rollback(VIEW, "v1")
    assert [v.version for v in store.list_versions(VIEW) if v.is_latest] == ["v2"]


def test_offline_only_rollback_moves_the_pointer_and_leaves_online(make_repo: Any) -> None:
    store = two_versions(make_repo)
    before = online(store, [1, 2, 3, 4])
    result = store.rollback(VIEW, "v1", online=False)
    assert (result.previous, result.version, result.keys_replaced) == ("v2", "v1", 0)
    assert online(store, [1, 2, 3, 4]) == before
    assert [v.version for v in store.list_versions(VIEW) if v.is_latest] == ["v1"]


def test_the_newest_row_per_key_is_the_one_newer_wins_keeps() -> None:
    """Rollback writes one row per key, chosen as newer-wins would: later event, then later created (null
    created first), then the later row."""
    from ladle.definitions import Entity, FeatureView, Field, FileSource
    from ladle.types import Int64
    from ladle.versions.rollback import _newest_per_key

    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="v",
        entities=[driver],
        schema=[Field(name="x", dtype=Int64)],
        source=FileSource(path="x", timestamp_field="ts"),
    )
    view.bind_entities({"driver": driver})
    t = [NOW - timedelta(hours=h) for h in range(3)]
    utc = pa.timestamp("us", tz="UTC")
    rows = pa.table(
        {
            "driver_id": pa.array([1, 1, 2, 2, 3, 3, 4], pa.int64()),
            "x": [10, 11, 20, 21, 30, 31, 40],
            "event_ts": pa.array([t[1], t[0], t[0], t[0], t[0], t[0], t[2]], utc),
            "created_ts": pa.array([None, None, t[0], None, t[1], t[1], None], utc),
        }
    )
    got = _newest_per_key(view, rows).sort_by("driver_id")
    assert got.column("x").to_pylist() == [11, 20, 31, 40]

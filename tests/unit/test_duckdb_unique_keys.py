"""The DuckDB point-in-time join's fast path: a source with no duplicate (join keys, event timestamp) joins on the
event timestamp alone (no created-timestamp tie-break). It must give the tie-break path's answer, a file with
duplicates must never take it, and the remembered answer must follow the file when it changes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from ladle.definitions import Entity, FeatureView, Field, FileSource
from ladle.offline.base import ViewRequest
from ladle.offline.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from ladle.offline.fingerprints import UniqueKeyCache, fingerprint
from ladle.types import Int64, Uuid
from pit_reference import ViewSpec, at, entity_rows, reference

UTC_US = pa.timestamp("us", tz="UTC")


def _store(folder: Path) -> DuckDBOfflineStore:
    return DuckDBOfflineStore(DuckDBOfflineStoreConfig(cache_dir="cache"), folder)


def _write(folder: Path, name: str, rows: list[tuple[Any, int, int | None, int | None]], key_type: Any = None) -> None:
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([r[0] for r in rows], key_type or pa.int64()),
                "ts": pa.array([at(r[1]) for r in rows], UTC_US),
                "created": pa.array([at(r[2]) if r[2] is not None else None for r in rows], UTC_US),
                "value": pa.array([r[3] for r in rows], pa.int64()),
            }
        ),
        folder / f"{name}.parquet",
    )


def _view(name: str, ttl_hours: int | None = None, key_dtype: Any = Int64) -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="v",
        entities=[driver],
        schema=[Field(name="driver_id", dtype=key_dtype), Field(name="value", dtype=Int64)],
        source=FileSource(name=name, path=f"{name}.parquet", timestamp_field="ts", created_timestamp_column="created"),
        ttl=timedelta(hours=ttl_hours) if ttl_hours else None,
    )
    view.bind_entities({"driver": driver})
    return view


def _join(store: DuckDBOfflineStore, view: FeatureView, ents: list[tuple[Any, int]], key_type: Any = None) -> list[Any]:
    entities = pa.table(
        {
            "driver_id": pa.array([e[0] for e in ents], key_type or pa.int64()),
            "event_timestamp": pa.array([at(e[1]) for e in ents], UTC_US),
        }
    )
    request = ViewRequest(view, view.name, [f for f in view.features if f.name == "value"])
    result = store.point_in_time_join(entities, "event_timestamp", [request])
    return result.column("v__value").to_pylist()


def _tie_break_only(store: DuckDBOfflineStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the created-timestamp tie-break on every source (the path taken before the fast path existed)."""
    monkeypatch.setattr(store, "_unique_event_keys", lambda view: False)


row = st.tuples(st.integers(0, 3), st.integers(0, 12), st.one_of(st.none(), st.integers(0, 4)), st.integers(-5, 5))
unique_rows = st.lists(row, max_size=25, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=unique_rows, ents=entity_rows, ttl=st.one_of(st.none(), st.integers(1, 6)))
def test_fast_path_gives_the_tie_break_answer(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Any], ents: list[tuple[int, int]], ttl: int | None
) -> None:
    folder = tmp_path_factory.mktemp("fast")
    name = f"s_{uuid.uuid4().hex[:8]}"
    _write(folder, name, rows)
    view = _view(name, ttl)
    fast, slow = _store(folder), _store(folder)
    assert fast._unique_event_keys(view) is True
    slow._unique_event_keys = lambda view: False  # type: ignore[method-assign]
    got_fast, got_slow = _join(fast, view, ents), _join(slow, view, ents)
    assert got_fast == got_slow
    spec = ViewSpec(rows=rows, ttl_hours=ttl, has_created=True, keyed=True)
    for r, (key, ts) in enumerate(ents):
        assert got_fast[r] in reference(spec, key, ts, False)


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=25), dup=st.integers(0, 24), created=st.integers(0, 4))
def test_a_source_with_duplicates_never_takes_the_fast_path(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Any], dup: int, created: int
) -> None:
    folder = tmp_path_factory.mktemp("dup")
    key, ts, _, _ = rows[dup % len(rows)]
    rows = [*rows, (key, ts, created, 99)]  # a second row at the same (key, event timestamp)
    name = f"s_{uuid.uuid4().hex[:8]}"
    _write(folder, name, rows)
    view = _view(name)
    store = _store(folder)
    assert store._unique_event_keys(view) is False
    ents = [(key, ts), (key, ts + 1), (key, 14)]
    spec = ViewSpec(rows=rows, ttl_hours=None, has_created=True, keyed=True)
    for r, got in enumerate(_join(store, view, ents)):
        assert got in reference(spec, ents[r][0], ents[r][1], False)


def test_the_answer_is_remembered_and_follows_the_file(tmp_path: Path) -> None:
    """Unique, then rewritten with a duplicate that a created timestamp must break: the join sees the change."""
    _write(tmp_path, "src", [(1, 5, 1, 10), (1, 6, 1, 20)])
    view, store = _view("src"), _store(tmp_path)
    assert store._unique_event_keys(view) is True
    assert _join(store, view, [(1, 6), (1, 5)]) == [20, 10]
    cached = json.loads((tmp_path / "cache" / "unique_keys.json").read_text())
    assert list(cached.values()) == [True]
    # same row count and types, so possibly the same size: the ts of the second row now equals the first's
    _write(tmp_path, "src", [(1, 5, 1, 10), (1, 5, 2, 20)])
    assert store._unique_event_keys(view) is False
    assert _join(store, view, [(1, 6), (1, 5)]) == [20, 20]  # created 2 wins the tie at ts 5
    assert sorted(json.loads((tmp_path / "cache" / "unique_keys.json").read_text()).values()) == [False, True]
    # a fresh process (memory cleared) reads the answers back from the file
    UniqueKeyCache._memory.clear()
    assert _store(tmp_path)._unique_event_keys(view) is False


def test_keys_are_compared_as_the_join_compares_them(tmp_path: Path) -> None:
    """UUID keys differing only in case are one key: rows at the same timestamp are duplicates."""
    a = "6f1c2a58-3a4e-4c8f-9d0a-1b2c3d4e5f60"
    _write(tmp_path, "u", [(a, 5, 1, 10), (a.upper(), 5, 2, 20)], pa.string())
    view, store = _view("u", key_dtype=Uuid), _store(tmp_path)
    assert store._unique_event_keys(view) is False
    assert _join(store, view, [(a, 6)], pa.string()) == [20]


def test_nanoseconds_in_one_microsecond_are_duplicates(tmp_path: Path) -> None:
    """Timestamps are compared after flooring to microseconds, as the join compares them."""
    base = at(5)
    ns = pa.array([base, base], pa.timestamp("ns", tz="UTC"))
    ns = pa.compute.add(ns.cast(pa.int64()), pa.array([100, 900])).cast(pa.timestamp("ns", tz="UTC"))
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 1]),
                "ts": ns,
                "created": pa.array([at(2), at(1)], UTC_US),
                "value": pa.array([10, 20]),
            }
        ),
        tmp_path / "n.parquet",
    )
    view, store = _view("n"), _store(tmp_path)
    assert store._unique_event_keys(view) is False
    assert _join(store, view, [(1, 6)]) == [10]  # created at(2) wins


def test_the_cache_survives_a_bad_or_unwritable_file(tmp_path: Path) -> None:
    cache = UniqueKeyCache(tmp_path)
    (tmp_path / "unique_keys.json").write_text("{not json")
    assert cache.get("k") is None
    cache.put("k", True)
    UniqueKeyCache._memory.clear()
    assert UniqueKeyCache(tmp_path).get("k") is True
    blocked = tmp_path / "file"
    blocked.write_text("")
    UniqueKeyCache(blocked / "sub").put("other", False)  # cannot create a folder under a file: kept in memory
    assert UniqueKeyCache(blocked / "sub").get("other") is False


def test_fingerprint_changes_with_the_file_and_the_question(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    first = fingerprint([str(path)], "q1")
    assert first is not None and first == fingerprint([str(path)], "q1")
    assert fingerprint([str(path)], "q2") != first
    pq.write_table(pa.table({"a": [1, 3]}), path)
    assert fingerprint([str(path)], "q1") != first
    assert fingerprint([str(tmp_path / "missing.parquet")], "q1") is None


def test_rows_with_a_null_key_do_not_count_as_ties(tmp_path: Path) -> None:
    """A null key never matches an entity row, so two of them at one timestamp keep the fast path."""
    _write(tmp_path, "z", [(None, 5, 1, 10), (None, 5, 2, 20), (1, 5, 1, 30)])
    view, store = _view("z"), _store(tmp_path)
    assert store._unique_event_keys(view) is True
    assert _join(store, view, [(1, 6), (2, 6)]) == [30, None]

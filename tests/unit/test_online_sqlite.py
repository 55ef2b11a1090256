"""The SQLite online store on real files: exact round trips, newer-wins, schema changes, teardown."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ladle.definitions import Entity, FeatureView, Field, FileSource
from ladle.errors import BackendFailure, BackendUnavailable, FeatureNotFound, InvalidRequest
from ladle.online import sqlite as sqlite_module
from ladle.online.newer_wins import is_newer, is_not_older, latest_per_key, sql_not_older
from ladle.online.prepare import prepare_rows
from ladle.online.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig
from ladle.types import (
    Array,
    Bool,
    Bytes,
    FeastType,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    String,
    Struct,
    UnixTimestamp,
    to_arrow,
)

PROJECT = "proj"
UTC_US = pa.timestamp("us", tz="UTC")
DRIVER = Entity(name="driver", join_keys=["driver_id"])
T0 = 1_700_000_000_000_000  # micros


def make_view(features: dict[str, FeastType], name: str = "stats", entities: list[Entity] | None = None) -> FeatureView:
    ents = entities or [DRIVER]
    view = FeatureView(
        name=name,
        entities=list(ents),
        source=FileSource(path="data/x.parquet", timestamp_field="ts"),
        schema=[Field(name=n, dtype=t) for n, t in features.items()],
    )
    view.bind_entities({e.name: e for e in ents})
    return view


def rows(
    view: FeatureView,
    keys: dict[str, list[Any]],
    values: dict[str, list[Any]],
    event: list[int],
    created: list[int | None] | None = None,
) -> pa.Table:
    """A write batch: join keys, features of their declared types, event_ts/created_ts in micros."""
    types = {f.name: to_arrow(f.dtype) for f in view.features}
    cols: dict[str, pa.Array] = {k: pa.array(v) for k, v in keys.items()}
    cols.update({n: pa.array(v, types[n]) for n, v in values.items()})
    cols["event_ts"] = pa.array(event, UTC_US)
    cols["created_ts"] = pa.array(created or [None] * len(event), UTC_US)
    return pa.table(cols)


def same(got: list[Any], want: list[Any]) -> bool:
    """Exact equality that also tells NaN apart from null and -0.0 from 0.0 (repr is exact for floats)."""
    return repr(got) == repr(want)


@pytest.fixture
def store(tmp_path: Path) -> SqliteOnlineStore:
    s = SqliteOnlineStore(SqliteOnlineStoreConfig(path="data/online_store.db"), tmp_path)
    yield s
    s.close()


def tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def read_one(store: SqliteOnlineStore, view: FeatureView, ids: list[Any], feature: str) -> list[Any]:
    out = store.read(PROJECT, view, pa.table({"driver_id": ids}), [feature])
    return out.column(feature).to_pylist()


# --- every type round-trips exactly -----------------------------------------------------------------------
ALL_TYPES: dict[str, FeastType] = {
    "i32": Int32,
    "i64": Int64,
    "f32": Float32,
    "f64": Float64,
    "s": String,
    "b": Bytes,
    "flag": Bool,
    "when": UnixTimestamp,
    "ints": Array(Int64),
    "strs": Array(String),
    "floats": Array(Float64),
    "blobs": Array(Bytes),
    "times": Array(UnixTimestamp),
    "m": Map,
    "doc": Json,
    "place": Struct({"lat": Float64, "tags": Array(String), "at": UnixTimestamp, "raw": Bytes, "kv": Map}),
    'odd "name" -- x': Int64,
}
INF = math.inf
NAN = math.nan
DT = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
OLD = datetime(1901, 1, 1, tzinfo=UTC)
VALUES: dict[str, list[Any]] = {
    "i32": [2**31 - 1, -(2**31), None, 0],
    "i64": [2**63 - 1, -(2**63), None, 0],
    "f32": [NAN, -INF, None, -0.0],
    "f64": [NAN, INF, None, 5e-324],
    "s": ["Zürich 🚗 \u0000 end", "", None, "'5:x|y"],
    "b": [b"\x00\xff\x80", b"", None, b"NaN"],
    "flag": [True, False, None, True],
    "when": [DT, OLD, None, datetime(1970, 1, 1, tzinfo=UTC)],
    "ints": [[2**63 - 1, None, -(2**63)], [], None, [0]],
    "strs": [["ü", None, '"quoted"\n'], [], None, [""]],
    "floats": [[NAN, INF, -INF, -0.0, 0.1], [None], None, [1.0]],
    "blobs": [[b"\x00", None, b""], [], None, [b"\xff" * 3]],
    "times": [[DT, None, OLD], [], None, []],
    "m": [{"a": "x", "ü": ""}, {}, None, {"k": "NaN"}],
    "doc": ['{"a": [1, 2.5, null]}', "[]", None, '"s"'],
    "place": [
        {"lat": NAN, "tags": ["x"], "at": DT, "raw": b"\x01", "kv": {"a": "b"}},
        {"lat": -0.0, "tags": None, "at": None, "raw": None, "kv": None},
        None,
        {"lat": 1.5, "tags": [], "at": OLD, "raw": b"", "kv": {}},
    ],
    'odd "name" -- x': [1, 2, None, 3],
}


def test_every_type_round_trips_exactly(store: SqliteOnlineStore) -> None:
    view = make_view(ALL_TYPES)
    store.update(PROJECT, [view], [])
    store.write(PROJECT, view, rows(view, {"driver_id": [1, 2, 3, 4]}, VALUES, [T0] * 4))
    order = [3, 1, 99, 4, 2]  # shuffled, with a missing key
    out = store.read(PROJECT, view, pa.table({"driver_id": order}), list(ALL_TYPES))
    assert out.column_names == [*ALL_TYPES, "event_ts"]
    for name, dtype in ALL_TYPES.items():
        assert out.schema.field(name).type == to_arrow(dtype), name
        want = pa.array([None if k == 99 else VALUES[name][k - 1] for k in order], to_arrow(dtype))
        got = out.column(name).to_pylist(maps_as_pydicts="strict")
        assert same(got, want.to_pylist(maps_as_pydicts="strict")), name
    assert out.schema.field("event_ts").type == UTC_US
    assert out.column("event_ts").cast(pa.int64()).to_pylist() == [T0, T0, None, T0, T0]
    # one key at a time: rows 2 and 3 hold no NaN/-0.0 BLOB, so they take the one-conversion path
    for k in (1, 2, 3, 4):
        alone = store.read(PROJECT, view, pa.table({"driver_id": [k]}), list(ALL_TYPES))
        assert alone.schema == out.schema
        for name, dtype in ALL_TYPES.items():
            want = pa.array([VALUES[name][k - 1]], to_arrow(dtype)).to_pylist(maps_as_pydicts="strict")
            assert same(alone.column(name).to_pylist(maps_as_pydicts="strict"), want), (k, name)


def test_a_stored_value_of_the_wrong_type_is_reported(store: SqliteOnlineStore) -> None:
    view = make_view({"n": Int64, "doc": Array(Int64)})
    store.update(PROJECT, [view], [])
    store.write(PROJECT, view, rows(view, {"driver_id": [1, 2]}, {"n": [1, 2], "doc": [[1], [2]]}, [T0, T0]))
    con = sqlite3.connect(store.path)
    con.execute("UPDATE proj_stats SET n = 'oops' WHERE entity_key = '1'")
    con.execute("UPDATE proj_stats SET doc = '[1, ' WHERE entity_key = '2'")
    con.commit()
    con.close()
    with pytest.raises(BackendFailure, match="feature view 'stats' does not match its declared type"):
        read_one(store, view, [1], "n")
    with pytest.raises(BackendFailure, match="does not match its declared type"):
        read_one(store, view, [2], "doc")


def test_values_are_stored_natively_and_readable_with_sqlite(store: SqliteOnlineStore) -> None:
    view = make_view(ALL_TYPES, name="driver_hourly_stats")
    store.update("feature_repo", [view], [])
    store.write("feature_repo", view, rows(view, {"driver_id": [1, 2, 3, 4]}, VALUES, [T0] * 4, [T0 + 1] * 4))
    con = sqlite3.connect(store.path)
    try:
        row = con.execute(
            'SELECT entity_key, i64, typeof(f64), f64, typeof(s), b, flag, "when", ints, m, place, event_ts, '
            "created_ts FROM feature_repo_driver_hourly_stats WHERE entity_key = '2'"
        ).fetchone()
        nan_cell = con.execute("SELECT f64 FROM feature_repo_driver_hourly_stats WHERE entity_key = '1'").fetchone()
        inner = con.execute(
            "SELECT json_extract(ints, '$[0]') FROM feature_repo_driver_hourly_stats WHERE entity_key = '1'"
        ).fetchone()
        star = con.execute("SELECT * FROM feature_repo_driver_hourly_stats").fetchall()
    finally:
        con.close()
    assert row == (
        "2",
        -(2**63),
        "real",
        INF,
        "text",
        b"",
        0,
        int(OLD.timestamp() * 1e6),
        "[]",
        "{}",
        '{"lat":-0.0,"tags":null,"at":null,"raw":null,"kv":null}',
        T0,
        T0 + 1,
    )
    assert nan_cell == (bytes.fromhex("7ff8000000000000"),)
    assert inner == (2**63 - 1,)
    assert len(star) == 4


# --- the newer-wins rule ------------------------------------------------------------------------------------
def test_newer_wins_across_batches(store: SqliteOnlineStore) -> None:
    view = make_view({"v": Int64})
    store.update(PROJECT, [view], [])

    def put(v: int, event: int, created: int | None = None) -> list[Any]:
        store.write(PROJECT, view, rows(view, {"driver_id": [7]}, {"v": [v]}, [event], [created]))
        return read_one(store, view, [7], "v")

    assert put(1, 10) == [1]
    assert put(2, 5) == [1]  # older event: ignored
    assert put(3, 20) == [3]  # newer event: replaces
    assert put(4, 20, 1) == [4]  # same event, created beats null created
    assert put(5, 20, None) == [4]  # null created is older than 1
    assert put(6, 20, 0) == [4]  # smaller created: ignored
    assert put(7, 20, 1) == [7]  # exact tie: the later write wins
    out = store.read(PROJECT, view, pa.table({"driver_id": [7]}), ["v"])
    assert out.column("event_ts").cast(pa.int64()).to_pylist() == [20]


def test_newer_wins_within_one_batch(store: SqliteOnlineStore) -> None:
    view = make_view({"v": Int64})
    store.update(PROJECT, [view], [])
    batch = rows(
        view,
        {"driver_id": [1, 1, 1, 2, 2, 2, 3, 3, 4]},
        {"v": [10, 20, 15, 1, 2, 3, 100, 200, 9]},
        [10, 20, 15, 5, 5, 5, 7, 7, 1],
        [None, None, None, 3, 9, None, 4, 4, None],
    )
    assert store.write(PROJECT, view, batch) == 9
    assert read_one(store, view, [1, 2, 3, 4], "v") == [20, 2, 200, 9]
    # a whole batch older than what is stored changes nothing; a newer one replaces
    store.write(PROJECT, view, rows(view, {"driver_id": [1, 2]}, {"v": [-1, -2]}, [19, 5], [None, 8]))
    assert read_one(store, view, [1, 2], "v") == [20, 2]
    store.write(PROJECT, view, rows(view, {"driver_id": [2]}, {"v": [-2]}, [5], [9]))
    assert read_one(store, view, [2], "v") == [-2]


def test_is_newer_and_sql_condition_agree() -> None:
    """The scalar rule, the SQL condition and latest_per_key decide every pair of stamps alike."""
    stamps = [(e, c) for e in (1, 2) for c in (None, 0, 5)]
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE old (event_ts INTEGER, created_ts INTEGER)")
    con.execute("CREATE TABLE new (event_ts INTEGER, created_ts INTEGER)")
    for old in stamps:
        for new in stamps:
            con.execute("DELETE FROM old")
            con.execute("DELETE FROM new")
            con.execute("INSERT INTO old VALUES (?, ?)", old)
            con.execute("INSERT INTO new VALUES (?, ?)", new)
            in_sql = con.execute(f"SELECT count(*) FROM new, old WHERE {sql_not_older('new', 'old')}").fetchone()[0]
            rule = is_not_older(new[0], new[1], old[0], old[1])
            assert bool(in_sql) == rule, (new, old)
            assert is_newer(new[0], new[1], old[0], old[1]) == (rule and new != old)
            batch = pa.table(
                {
                    "k": [1, 1],
                    "tag": ["old", "new"],
                    "event_ts": [old[0], new[0]],
                    "created_ts": pa.array([old[1], new[1]], pa.int64()),
                }
            )
            assert latest_per_key(batch, ["k"]).column("tag").to_pylist() == ["new" if rule else "old"]
    con.close()
    assert is_newer(datetime(2024, 1, 2, tzinfo=UTC), None, datetime(2024, 1, 1, tzinfo=UTC), DT)


def test_latest_per_key_matches_a_sequential_fold() -> None:
    """Keeping the latest row per key equals applying the rows one by one with is_not_older."""
    rng = np.random.default_rng(3)
    n = 2000
    a, b = rng.integers(0, 30, n), rng.choice(["x", "y", None], n)
    event, created = rng.integers(0, 5, n), rng.integers(0, 3, n).astype(object)
    created[rng.random(n) < 0.3] = None
    batch = pa.table(
        {
            "a": a,
            "b": pa.array(b.tolist()),
            "pos": np.arange(n),
            "event_ts": pa.array(event, pa.int64()).cast(UTC_US),
            "created_ts": pa.array(created.tolist(), pa.int64()).cast(UTC_US),
        }
    )
    want: dict[tuple[Any, Any], int] = {}
    for i in range(n):
        k = (int(a[i]), b[i])
        j = want.get(k)
        if j is None or is_not_older(int(event[i]), created[i], int(event[j]), created[j]):
            want[k] = i
    got = latest_per_key(batch, ["a", "b"])
    assert got.column("pos").to_pylist() == sorted(want.values())
    assert latest_per_key(batch, ["pos"]) is batch  # unique keys: nothing to do
    assert latest_per_key(batch, []).num_rows == 1


# --- reads ---------------------------------------------------------------------------------------------------
def test_read_preserves_order_duplicates_missing_keys_and_stored_nulls(store: SqliteOnlineStore) -> None:
    view = make_view({"a": Float64, "b": String})
    store.update(PROJECT, [view], [])
    store.write(
        PROJECT,
        view,
        rows(view, {"driver_id": [1, 2, 3]}, {"a": [0.5, None, 1.5], "b": ["x", "y", None]}, [T0, T0 + 1, T0 + 2]),
    )
    out = store.read(PROJECT, view, pa.table({"driver_id": [3, 1, 3, 404, 2, 1]}), ["b", "a"])
    assert out.column_names == ["b", "a", "event_ts"]
    assert out.column("a").to_pylist() == [1.5, 0.5, 1.5, None, None, 0.5]
    assert out.column("b").to_pylist() == [None, "x", None, None, "y", "x"]
    assert out.column("event_ts").cast(pa.int64()).to_pylist() == [T0 + 2, T0, T0 + 2, None, T0 + 1, T0]
    nothing = store.read(PROJECT, view, pa.table({"driver_id": [8, 9]}), ["a"])
    assert nothing.column("a").type == pa.float64() and nothing.column("a").null_count == 2
    empty = store.read(PROJECT, view, pa.table({"driver_id": pa.array([], pa.int64())}), ["a"])
    assert empty.num_rows == 0 and empty.schema.field("event_ts").type == UTC_US
    # int32 keys find int64-written keys; a null key is never found
    assert read_one(store, view, pa.array([2, None, 1], pa.int32()), "b") == ["y", None, "x"]


@pytest.mark.parametrize("path", ["json_each join", "IN lists"])
def test_both_read_paths_agree(store: SqliteOnlineStore, path: str) -> None:
    """The ordered json_each join and the IN-list fallback (split at SQLite's variable limit) read alike."""
    view = make_view({"v": Int64, "f": Float64})
    store.update(PROJECT, [view], [])
    ids = list(range(300))
    floats = [NAN if i % 7 == 0 else i / 4 for i in ids]
    store.write(PROJECT, view, rows(view, {"driver_id": ids}, {"v": [i * 2 for i in ids], "f": floats}, [T0] * 300))
    if path == "IN lists":
        store._json_each = False
        store._conn().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 64)
    wanted = [*reversed(ids), 1000, 5, None, 5]
    out = store.read(PROJECT, view, pa.table({"driver_id": pa.array(wanted, pa.int64())}), ["v", "f"])
    assert out.column("v").to_pylist() == [None if i in (1000, None) else i * 2 for i in wanted]
    assert same(out.column("f").to_pylist(), [None if i in (1000, None) else floats[i] for i in wanted])
    nothing = store.read(PROJECT, view, pa.table({"driver_id": [1000, 1001]}), ["v"])
    assert nothing.column("v").to_pylist() == [None, None] and nothing.column("event_ts").null_count == 2


def test_string_keys_with_any_character(store: SqliteOnlineStore) -> None:
    user = Entity(name="user", join_keys=["user"])
    view = make_view({"v": Int64}, name="users", entities=[user])
    store.update(PROJECT, [view], [])
    names = ["a\x00b", "a", '"quoted"', "back\\slash", "é🚗", "", "'1:a|2"]
    store.write(PROJECT, view, rows(view, {"user": names}, {"v": list(range(len(names)))}, [T0] * len(names)))
    for ask in (names[::-1], names[1:], ["a\x00b", "a"]):  # with and without the NUL key (IN-list fallback)
        out = store.read(PROJECT, view, pa.table({"user": ask}), ["v"])
        assert out.column("v").to_pylist() == [names.index(a) for a in ask]


def test_multi_column_join_keys(store: SqliteOnlineStore) -> None:
    city = Entity(name="city", join_keys=["city"])
    slot = Entity(name="slot", join_keys=["zone", "code"])
    view = make_view({"v": Int64}, name="demand", entities=[city, slot])
    assert view.join_keys == ["city", "zone", "code"]
    store.update(PROJECT, [view], [])
    keys = {"city": ["a|b", "a", "a", "Zürich"], "zone": [1, 1, 2, 1], "code": [b"\x00", b"\x00", b"\x00", b"|"]}
    store.write(PROJECT, view, rows(view, keys, {"v": [1, 2, 3, 4]}, [T0] * 4))
    ask = pa.table(
        {
            "city": ["Zürich", "a", "a", "a|b", "a"],
            "zone": pa.array([1, 2, 1, 1, 3], pa.int32()),
            "code": [b"|", b"\x00", b"\x00", b"\x00", b"\x00"],
        }
    )
    assert store.read(PROJECT, view, ask, ["v"]).column("v").to_pylist() == [4, 3, 2, 1, None]


def test_reads_from_many_threads_and_after_close(store: SqliteOnlineStore) -> None:
    view = make_view({"v": Int64})
    store.update(PROJECT, [view], [])
    store.write(PROJECT, view, rows(view, {"driver_id": list(range(100))}, {"v": list(range(100))}, [T0] * 100))
    thread_ids: set[int] = set()

    def work(i: int) -> list[Any]:
        thread_ids.add(threading.get_ident())
        return read_one(store, view, [i, (i * 7) % 100], "v")

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(100))) == [[i, (i * 7) % 100] for i in range(100)]
    assert len(store._conns) == len(thread_ids) + 1  # one connection per thread (and the main one)
    store.close()
    assert read_one(store, view, [5], "v") == [5]


def test_unknown_feature_and_missing_table(store: SqliteOnlineStore) -> None:
    view = make_view({"v": Int64})
    with pytest.raises(BackendFailure, match=r"does not exist \(run `ladle apply` first\)"):
        read_one(store, view, [1], "v")
    store.update(PROJECT, [make_view({"v": Int64}, name="other")], [])
    with pytest.raises(BackendFailure, match=r"feature view 'stats' has no table .*run `ladle apply`"):
        read_one(store, view, [1], "v")
    with pytest.raises(BackendFailure, match="has no table"):
        store.write(PROJECT, view, rows(view, {"driver_id": [1]}, {"v": [1]}, [T0]))
    with pytest.raises(FeatureNotFound, match="unknown feature 'nope' in 'stats:nope': feature view 'stats'"):
        store.read(PROJECT, view, pa.table({"driver_id": [1]}), ["nope"])


def test_write_rejects_bad_rows(store: SqliteOnlineStore) -> None:
    view = make_view({"v": Int64})
    store.update(PROJECT, [view], [])
    with pytest.raises(InvalidRequest, match="null join key"):
        store.write(PROJECT, view, rows(view, {"driver_id": [1, None]}, {"v": [1, 2]}, [T0, T0]))
    with pytest.raises(InvalidRequest, match=r"lack column\(s\) \['v'\]"):
        store.write(PROJECT, view, rows(view, {"driver_id": [1]}, {}, [T0]))
    bad = rows(view, {"driver_id": [1]}, {}, [T0]).append_column("v", pa.array(["x"]))
    with pytest.raises(InvalidRequest, match="feature 'v' of view 'stats' is string"):
        store.write(PROJECT, view, bad)
    assert store.write(PROJECT, view, rows(view, {"driver_id": pa.array([], pa.int64())}, {"v": []}, [])) == 0


def test_write_converts_columns_and_chunks_large_batches(
    store: SqliteOnlineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "_WRITE_CHUNK", 7)
    view = make_view({"f": Float32, "when": UnixTimestamp})
    store.update(PROJECT, [view], [])
    n = 50
    batch = pa.table(
        {
            "driver_id": pa.chunked_array([list(range(25)), list(range(25))]),  # every key twice, across chunks
            "f": pa.array([float(i) for i in range(n)], pa.float64()),  # declared Float32
            "when": pa.array([i * 1000 for i in range(n)], pa.timestamp("ns")),  # naive ns: taken as UTC
            "event_ts": pa.array([T0 + i for i in range(n)], pa.timestamp("us")),
            "created_ts": pa.nulls(n, UTC_US),
        }
    )
    assert store.write(PROJECT, view, batch) == n
    out = store.read(PROJECT, view, pa.table({"driver_id": [0, 24]}), ["f", "when"])
    assert out.column("f").type == pa.float32() and out.column("f").to_pylist() == [25.0, 49.0]
    assert out.column("when").cast(pa.int64()).to_pylist() == [25, 49]


def test_locked_database_is_retryable(store: SqliteOnlineStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_BUSY_TIMEOUT_S", 0.05)
    view = make_view({"v": Int64})
    store.update(PROJECT, [view], [])
    store.close()  # reconnect with the short timeout
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailable, match="locked") as info:
            store.write(PROJECT, view, rows(view, {"driver_id": [1]}, {"v": [1]}, [T0]))
        assert info.value.retryable
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.write(PROJECT, view, rows(view, {"driver_id": [1]}, {"v": [1]}, [T0]))


def test_not_a_database_file(tmp_path: Path) -> None:
    (tmp_path / "online.db").write_text("hello, I am not SQLite" * 100)
    s = SqliteOnlineStore(SqliteOnlineStoreConfig(path=str(tmp_path / "online.db")), Path("/elsewhere"))
    with pytest.raises(BackendFailure, match="not a SQLite database"):
        s.update(PROJECT, [make_view({"v": Int64})], [])
    s.close()


# --- update and teardown ------------------------------------------------------------------------------------
def columns(path: Path, table: str) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
    finally:
        con.close()


def test_update_rebuilds_a_table_whose_features_changed(store: SqliteOnlineStore) -> None:
    v1 = make_view({"a": Int64, "b": String})
    store.update(PROJECT, [v1], [])
    assert store.path.exists() and columns(store.path, "proj_stats") == [
        "entity_key",
        "a",
        "b",
        "event_ts",
        "created_ts",
    ]
    store.write(PROJECT, v1, rows(v1, {"driver_id": [1]}, {"a": [10], "b": ["x"]}, [T0]))
    store.update(PROJECT, [v1], [])  # unchanged: idempotent, rows kept
    assert read_one(store, v1, [1], "a") == [10]

    v2 = make_view({"a": Int64, "c": Float64})  # b removed, c added
    store.update(PROJECT, [v2], [])
    assert columns(store.path, "proj_stats") == ["entity_key", "a", "c", "event_ts", "created_ts"]
    out = store.read(PROJECT, v2, pa.table({"driver_id": [1]}), ["a", "c"])
    assert out.column("a").to_pylist() == [10] and out.column("c").to_pylist() == [None]
    assert out.column("event_ts").null_count == 0  # the key is still there, its new feature is null

    v3 = make_view({"a": String, "c": Float64})  # a changed type: its values are dropped
    store.update(PROJECT, [v3], [])
    assert read_one(store, v3, [1], "a") == [None]

    car = Entity(name="car", join_keys=["car_id"])  # other join keys: the old rows mean nothing now
    v4 = make_view({"a": String, "c": Float64}, entities=[car])
    store.update(PROJECT, [v4], [])
    assert store.read(PROJECT, v4, pa.table({"car_id": [1]}), ["c"]).column("event_ts").null_count == 1
    assert tables(store.path) == {"proj_stats"}


def test_update_drops_deleted_views(store: SqliteOnlineStore) -> None:
    a, b = make_view({"v": Int64}, name="a"), make_view({"v": Int64}, name="b")
    store.update(PROJECT, [a, b], [])
    assert tables(store.path) == {"proj_a", "proj_b"}
    store.update(PROJECT, [a], [b])
    assert tables(store.path) == {"proj_a"}


def test_reserved_feature_names_are_refused(store: SqliteOnlineStore) -> None:
    with pytest.raises(BackendFailure, match=r"feature\(s\) \['event_ts'\]"):
        store.update(PROJECT, [make_view({"event_ts": Int64})], [])


def test_teardown_leaves_no_table_and_no_file(store: SqliteOnlineStore) -> None:
    a, b = make_view({"v": Int64}, name="a"), make_view({"v": Int64}, name="b")
    store.update(PROJECT, [a, b], [])
    store.write(PROJECT, a, rows(a, {"driver_id": [1]}, {"v": [1]}, [T0]))
    read_one(store, a, [1], "v")
    store.teardown(PROJECT, [a])
    assert tables(store.path) == {"proj_b"}
    store.teardown(PROJECT, [a, b])
    leftovers = list(store.path.parent.iterdir())
    assert leftovers == []
    store.teardown(PROJECT, [a, b])  # nothing left: still fine
    assert not store.path.exists()
    store.update(PROJECT, [a], [])  # usable again afterwards
    assert tables(store.path) == {"proj_a"}


def test_update_with_nothing_to_keep_creates_no_file(store: SqliteOnlineStore) -> None:
    store.update(PROJECT, [], [make_view({"v": Int64})])
    assert not store.path.exists()


def test_json_text_with_nan_is_stored_with_json_words(store: SqliteOnlineStore) -> None:
    view = make_view({"e": Array(Float32)})
    store.update(PROJECT, [view], [])
    store.write(PROJECT, view, rows(view, {"driver_id": [1, 2]}, {"e": [[NAN, 0.25], [0.1]]}, [T0, T0]))
    con = sqlite3.connect(store.path)
    try:
        stored = dict(con.execute("SELECT entity_key, e FROM proj_stats").fetchall())
    finally:
        con.close()
    assert stored["1"] == "[NaN,0.25]"
    assert json.loads(stored["2"]) == [np.float32(0.1).item()]
    got = read_one(store, view, [1, 2], "e")
    assert same(got, [[NAN, 0.25], [np.float32(0.1).item()]])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),  # key
            st.integers(0, 3),  # event stamp
            st.one_of(st.none(), st.integers(0, 2)),  # created stamp
        ),
        min_size=1,
        max_size=40,
    )
)
def test_prepare_rows_keeps_what_writing_rows_one_by_one_keeps(batch: list[tuple[int, int, int | None]]) -> None:
    """The shared write step (ladle/online/prepare.py) keeps, per key, exactly the row a store holds after
    the rows are written one at a time with the newer-wins rule; stamps come out as UTC micros, features
    in their declared type."""
    view = make_view({"v": Int32})
    table = pa.table(
        {
            "driver_id": [k for k, _, _ in batch],
            "v": list(range(len(batch))),  # int64 in, declared Int32 out; the value is the row's position
            "event_ts": pa.array([T0 + e for _, e, _ in batch], pa.int64()).cast(UTC_US),
            "created_ts": pa.array([None if c is None else T0 + c for _, _, c in batch], pa.int64()).cast(UTC_US),
        }
    )
    stored: dict[int, int] = {}
    for i, (key, event, created) in enumerate(batch):
        j = stored.get(key)
        if j is None or is_not_older(event, created, batch[j][1], batch[j][2]):
            stored[key] = i
    prepared = prepare_rows(view, table)
    assert prepared.given == len(batch)
    assert prepared.features[0].type == pa.int32()
    got = dict(zip(prepared.keys.to_pylist(), prepared.features[0].to_pylist(), strict=True))
    assert got == {str(k): i for k, i in stored.items()}
    for key, event, created in zip(
        prepared.keys.to_pylist(), prepared.event_us.to_pylist(), prepared.created_us.to_pylist(), strict=True
    ):
        _, want_event, want_created = batch[stored[int(key)]]
        assert (event, created) == (T0 + want_event, None if want_created is None else T0 + want_created)

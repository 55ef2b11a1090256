"""One suite for the online-store protocol, run against every online backend with the same asserted values.

Backends: sqlite (a file in tmp_path), redis (``LADLE_TEST_REDIS_URL`` or 127.0.0.1:6379) and postgres
(``LADLE_TEST_POSTGRES_DSN`` or 127.0.0.1:5432, a fresh schema per test) and dynamodb (a real moto
server on a free loopback port, started once per session); a service that is absent is a
skip on a laptop and a failure under ``LADLE_REQUIRE_SERVICES=1``. Each test works in its own project
namespace and checks, in the backend itself, that teardown leaves nothing behind.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pyarrow as pa
import pytest

from backends import OnlineBackend, never, online_backends
from ladle.definitions import Entity, FeatureService, FeatureView, Field, FileSource, OnDemandFeatureView
from ladle.errors import BackendFailure, InvalidRequest
from ladle.ingest.push import online_rows
from ladle.online.base import ViewRead
from ladle.retrieval.feature_refs import resolve_features
from ladle.retrieval.online_read import read_online
from ladle.types import (
    Array,
    Bool,
    Bytes,
    Decimal,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    Set,
    String,
    Struct,
    TimeUuid,
    UnixTimestamp,
    Uuid,
    to_arrow,
)

T = datetime(2026, 6, 1, tzinfo=timezone.utc)
UTC = pa.timestamp("us", tz="UTC")


Backend = OnlineBackend
#: every online store (tests/backends.py), each empty for the test and checked for leftovers
backend = online_backends()


TYPES = {
    "i32": (Int32, [2**31 - 1, None, -5]),
    "i64": (Int64, [2**63 - 1, -(2**63), None]),
    "f32": (Float32, [1.5, float("inf"), None]),
    "f64": (Float64, [math.nan, -0.0, -math.inf]),
    "s": (String, ["héllo ✓ 日本", "", None]),
    "b": (Bytes, [b"\x00\xff", b"", None]),
    "flag": (Bool, [True, False, None]),
    "when": (UnixTimestamp, [T, None, T - timedelta(days=20000)]),
    "arr": (Array(Int64), [[1, None, 3], [], None]),
    "tags": (Array(String), [["a", "ü"], None, []]),
    "m": (Map, [[("k", "v")], None, []]),
    "doc": (Json, ['{"a": [1, 2]}', None, "[]"]),
    "pt": (Struct({"x": Float64, "label": String}), [{"x": 1.0, "label": "p"}, None, {"x": None, "label": None}]),
    # rows reach a store conformed (canonical UUID text, sets sorted and distinct): see ladle/conform.py
    "uid": (Uuid, ["6ba7b810-9dad-41d1-80b4-00c04fd430c8", None, "0f8fad5b-d9cb-469f-a165-70867728950e"]),
    "tuid": (TimeUuid, [None, "c232ab00-9414-11ec-b3c8-9f6bdeced846", None]),
    "uids": (Array(Uuid), [["0f8fad5b-d9cb-469f-a165-70867728950e", None], [], None]),
    "dec": (Decimal, [D("12345678901234567890.123456789012345678"), D("-0.000000000000000001"), None]),
    "decs": (Array(Decimal), [[D("1.5"), None, D("-99999999999999999999.999999999999999999")], None, []]),
    "sset": (Set(String), [["a", "b", "ü"], [], None]),
    "fset": (Set(Float64), [[-math.inf, -0.0, 2.5, math.nan, None], None, []]),
    "bset": (Set(Bytes), [[b"", b"\x00\xff"], [], None]),
    "grid": (Array(Array(Int64)), [[[1, None], [], None], [], None]),
    "aset": (Array(Set(String)), [[["a", "b"], []], None, [None]]),
    # nested timestamps and bytes: one JSON format in every store (timestamps as micros, bytes as base64)
    "whens": (Array(UnixTimestamp), [[T, None, T - timedelta(days=20000)], [], None]),
    "rec": (
        Struct({"at": UnixTimestamp, "raw": Bytes}),
        [{"at": T, "raw": b"\x00\xff"}, None, {"at": None, "raw": None}],
    ),
}


def make_view(features: dict[str, object], keys: tuple[str, ...] = ("id",), name: str = "things") -> FeatureView:
    entity = Entity(name="thing", join_keys=list(keys))
    view = FeatureView(
        name=name,
        entities=[entity],
        ttl=timedelta(days=1),
        schema=[Field(name=n, dtype=d) for n, d in features.items()],
        source=FileSource(name="src", path="x.parquet", timestamp_field="ts"),
    )
    view.bind_entities({"thing": entity})
    return view


def rows(ids: list[object], ts: list[datetime], created: list[datetime | None], **features: list[object]) -> pa.Table:
    return pa.table(
        {
            "id": ids,
            **features,
            "event_ts": pa.array(ts, UTC),
            "created_ts": pa.array(created, UTC),
        }
    )


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, D) and isinstance(b, D):
        return a == b and a.as_tuple().exponent == -18  # exact, at the declared scale
    return a == b


def test_every_type_round_trips(backend: Backend) -> None:
    view = make_view({n: d for n, (d, _) in TYPES.items()})
    backend.store.update(backend.project, [view], [])
    data = {n: pa.array(v, to_arrow(d)) for n, (d, v) in TYPES.items()}
    backend.store.write(backend.project, view, rows([1, 2, 3], [T] * 3, [None] * 3, **data))
    got = backend.store.read(backend.project, view, pa.table({"id": [3, 1, 2, 9]}), list(TYPES))
    assert got.num_rows == 4
    for name, (dtype, values) in TYPES.items():
        assert got.schema.field(name).type == to_arrow(dtype), name
        column = got.column(name).to_pylist()
        expected = [values[2], values[0], values[1], None]
        assert all(same(g, e) for g, e in zip(column, expected, strict=True)), (name, column, expected)
    assert got.column("event_ts").to_pylist() == [T, T, T, None]


def test_newer_wins_across_and_within_batches(backend: Backend) -> None:
    view = make_view({"v": Int64})
    backend.store.update(backend.project, [view], [])
    later = T + timedelta(hours=1)
    backend.store.write(backend.project, view, rows([1, 2], [later, T], [None, T], v=[10, 20]))
    # older for key 1 (ignored), same ts but newer created for key 2 (wins); within a batch the newest wins
    backend.store.write(
        backend.project,
        view,
        rows([1, 2, 3, 3, 3], [T, T, T, later, T], [later, later, None, None, later], v=[11, 21, 30, 31, 32]),
    )
    got = backend.store.read(backend.project, view, pa.table({"id": [1, 2, 3]}), ["v"])
    assert got.column("v").to_pylist() == [10, 21, 31]
    # exact tie: the later write wins; a null created loses to a set one at the same ts
    backend.store.write(backend.project, view, rows([2, 2], [T, T], [later, later], v=[22, 23]))
    backend.store.write(backend.project, view, rows([1], [later], [None], v=[12]))
    got = backend.store.read(backend.project, view, pa.table({"id": [2, 1]}), ["v"])
    assert got.column("v").to_pylist() == [23, 12]


def test_missing_duplicate_and_composite_keys(backend: Backend) -> None:
    view = make_view({"v": String}, keys=("city", "zone"))
    backend.store.update(backend.project, [view], [])
    backend.store.write(
        backend.project,
        view,
        pa.table(
            {
                "city": ["Zürich", "Zürich", "a|b"],
                "zone": [1, 2, 1],
                "v": ["z1", "z2", "ab"],
                "event_ts": pa.array([T] * 3, UTC),
                "created_ts": pa.array([None] * 3, UTC),
            }
        ),
    )
    keys = pa.table({"city": ["Zürich", "a|b", "Zürich", "a", "Zürich"], "zone": [2, 1, 9, 1, 2]})
    got = backend.store.read(backend.project, view, keys, ["v"])
    assert got.column("v").to_pylist() == ["z2", "ab", None, None, "z2"]
    assert got.column("event_ts").null_count == 2


def test_teardown_leaves_nothing(backend: Backend) -> None:
    view = make_view({"v": Float64})
    backend.store.update(backend.project, [view], [])
    backend.store.write(backend.project, view, rows([1, 2], [T, T], [None, None], v=[1.0, 2.0]))
    assert backend.store.read(backend.project, view, pa.table({"id": [1]}), ["v"]).column("v").to_pylist() == [1.0]
    backend.store.teardown(backend.project, [view])
    assert backend.leftovers() == []


def test_check_writes_nothing_on_a_live_store(backend: Backend) -> None:
    """``ladle validate``'s check: a reachable store passes, and nothing is created for the project."""
    backend.store.check()
    assert backend.leftovers() == []


def test_read_many_equals_one_read_per_view(backend: Backend) -> None:
    """Several views in one call (one round trip where the store can): same rows as separate reads.

    150 keys cross the per-value/numpy decoding threshold and DynamoDB's 100-key BatchGetItem limit.
    """
    stats, quality = make_view({"v": Int64, "x": Float64}, name="stats"), make_view({"r": String}, name="quality")
    backend.store.update(backend.project, [stats, quality], [])
    ids = list(range(150))
    backend.store.write(
        backend.project, stats, rows(ids, [T] * 150, [None] * 150, v=[i * 10 for i in ids], x=[i / 4 for i in ids])
    )
    backend.store.write(backend.project, quality, rows(ids[::2], [T] * 75, [None] * 75, r=[f"q{i}" for i in ids[::2]]))
    for wanted in ([7], [3, 3, 200, 4], [*range(149, -1, -1), 999]):
        keys = pa.table({"id": pa.array(wanted, pa.int64())})
        other = pa.table({"id": pa.array([w + 1 for w in wanted], pa.int64())})  # a join-key-mapped view
        reads = [ViewRead(stats, keys, ["x", "v"]), ViewRead(quality, keys, ["r"]), ViewRead(stats, other, ["v"])]
        got = backend.store.read_many(backend.project, reads)
        assert [t.to_pydict() for t in got] == [
            backend.store.read(backend.project, r.view, r.keys, r.features).to_pydict() for r in reads
        ]
        assert got[0].column("v").to_pylist() == [w * 10 if w < 150 else None for w in wanted]
        assert got[1].column("r").to_pylist() == [f"q{w}" if w < 150 and w % 2 == 0 else None for w in wanted]
        assert got[2].column("v").to_pylist() == [(w + 1) * 10 if w + 1 < 150 else None for w in wanted]
        assert got[1].column("event_ts").to_pylist() == [T if w < 150 and w % 2 == 0 else None for w in wanted]
    backend.store.teardown(backend.project, [stats, quality])


@never(["redis"], reason="no per-view structure in Redis: an unapplied view reads as missing values (next test)")
def test_a_view_never_applied_is_a_clear_error(backend: Backend) -> None:
    """Stores with a table per view say which view lacks its table and to run `ladle apply`."""
    view = make_view({"v": Int64}, name="never_applied")
    with pytest.raises(BackendFailure, match=r"never_applied.*run `ladle apply`"):
        backend.store.read(backend.project, view, pa.table({"id": [1]}), ["v"])
    with pytest.raises(BackendFailure, match=r"never_applied.*run `ladle apply`"):
        backend.store.write(backend.project, view, rows([1], [T], [None], v=[1]))


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_view_never_applied_reads_as_missing_on_redis(backend: Backend) -> None:
    """Redis keeps no per-view structure: a view never applied has no values rather than an error."""
    view = make_view({"v": Int64}, name="never_applied")
    got = backend.store.read(backend.project, view, pa.table({"id": [1]}), ["v"])
    assert got.to_pydict() == {"v": [None], "event_ts": [None]}


def entityless_view(name: str = "totals") -> FeatureView:
    """A view with ``entities=[]``: one value for the whole project (Feast keys it by a dummy entity)."""
    view = FeatureView(
        name=name,
        entities=[],
        ttl=timedelta(days=1),
        schema=[Field(name="v", dtype=Int64), Field(name="s", dtype=String)],
        source=FileSource(name="src", path="x.parquet", timestamp_field="ts"),
    )
    view.bind_entities({})
    return view


def no_keys(n: int) -> pa.Table:
    """A key table for an entity-less view: ``n`` rows and no columns."""
    return pa.table({"_": pa.nulls(n)}).drop_columns(["_"])


def test_a_view_without_entities_serves_its_one_value_to_every_row(backend: Backend) -> None:
    view = entityless_view()
    backend.store.update(backend.project, [view], [])
    stamp = {"event_ts": pa.array([T, T + timedelta(hours=1)], UTC), "created_ts": pa.array([None, None], UTC)}
    assert backend.store.write(backend.project, view, pa.table({"v": [1, 2], "s": ["a", "b"], **stamp})) == 2
    # an older row written later loses, as for any key
    backend.store.write(
        backend.project,
        view,
        pa.table({"v": [0], "s": ["old"], "event_ts": pa.array([T], UTC), "created_ts": pa.array([None], UTC)}),
    )
    got = backend.store.read(backend.project, view, no_keys(3), ["s", "v"])
    assert got.to_pydict() == {"s": ["b"] * 3, "v": [2] * 3, "event_ts": [T + timedelta(hours=1)] * 3}
    assert backend.store.read_many(backend.project, [ViewRead(view, no_keys(2), ["v"])])[0].column("v").to_pylist() == [
        2,
        2,
    ]
    assert backend.store.read(backend.project, view, no_keys(0), ["v"]).num_rows == 0
    backend.store.teardown(backend.project, [view])
    assert backend.leftovers() == []


def test_all_null_rows_keep_stored_values_and_no_rows_write_nothing(backend: Backend) -> None:
    """The write rule of push/write_to_online_store (the shared step ``online_rows``), on every store: a newer
    row whose features are all null is skipped unless asked for; a partly null row writes its nulls."""
    view = make_view({"v": Int64, "s": String})
    backend.store.update(backend.project, [view], [])
    p = backend.project
    utc_ts = pa.array([T, T], UTC)
    backend.store.write(
        p, view, online_rows(view, pa.table({"id": [1, 2], "ts": utc_ts, "v": [1, 2], "s": ["a", "b"]}), "t")
    )
    later = pa.array([T + timedelta(hours=1)] * 2, UTC)
    newer = pa.table({"id": [1, 2], "ts": later, "v": pa.array([None, None], pa.int64()), "s": [None, "b2"]})
    prepared = online_rows(view, newer, "t")
    assert prepared.column("id").to_pylist() == [2]
    assert backend.store.write(p, view, prepared) == 1
    got = backend.store.read(p, view, pa.table({"id": [1, 2]}), ["v", "s"])
    assert got.to_pydict() == {"v": [1, None], "s": ["a", "b2"], "event_ts": [T, T + timedelta(hours=1)]}
    backend.store.write(p, view, online_rows(view, newer, "t", write_all_null_rows=True))
    assert backend.store.read(p, view, pa.table({"id": [1]}), ["v", "s"]).to_pydict() == {
        "v": [None],
        "s": [None],
        "event_ts": [T + timedelta(hours=1)],
    }
    empty = rows([], [], [], v=pa.array([], pa.int64()), s=pa.array([], pa.string()))
    assert backend.store.write(p, view, empty) == 0
    backend.store.teardown(p, [view])


def test_update_keeps_rows_and_same_typed_features_and_clears_the_rest(backend: Backend) -> None:
    """The update rule (ladle/online/shape.py): a kept view keeps its rows and the values of features still
    declared with the same type; a dropped feature is removed (declared again, it comes back empty); a
    feature whose type changed is cleared; a changed entity key drops the view's rows."""
    store, p = backend.store, backend.project
    first = make_view({"keep": Int64, "drop": String, "retype": Int64})
    store.update(p, [first], [])
    store.write(p, first, rows([1, 2], [T, T], [None, None], keep=[10, 20], drop=["a", "b"], retype=[5, 6]))
    keys = pa.table({"id": [1, 2, 3]})
    second = make_view({"keep": Int64, "retype": String, "new": Float64})
    store.update(p, [second], [])
    assert store.read(p, second, keys, ["keep", "retype", "new"]).to_pydict() == {
        "keep": [10, 20, None],
        "retype": [None, None, None],
        "new": [None, None, None],
        "event_ts": [T, T, None],
    }
    store.write(p, second, rows([2], [T], [None], keep=[21], retype=["r"], new=[0.5]))
    assert store.read(p, second, keys, ["keep", "retype", "new"]).to_pydict() == {
        "keep": [10, 21, None],
        "retype": [None, "r", None],
        "new": [None, 0.5, None],
        "event_ts": [T, T, None],
    }
    third = make_view({"keep": Int64, "drop": String})
    for _ in range(2):  # the second update changes nothing
        store.update(p, [third], [])
        assert store.read(p, third, keys, ["keep", "drop"]).to_pydict() == {
            "keep": [10, 21, None],
            "drop": [None, None, None],
            "event_ts": [T, T, None],
        }
    rekeyed = make_view({"keep": Int64, "drop": String}, keys=("other",))
    store.update(p, [rekeyed], [])
    other = pa.table({"other": [1, 2]})
    assert store.read(p, rekeyed, other, ["keep"]).to_pydict() == {"keep": [None, None], "event_ts": [None, None]}
    store.update(p, [third], [])  # back to the first key: the old rows stay gone
    assert store.read(p, third, keys, ["keep"]).column("event_ts").null_count == 3
    store.teardown(p, [third])
    assert backend.leftovers() == []


class _Catalog:
    """The registry lookups that feature resolution needs, over a list of views."""

    def __init__(self, project: str, views: list[FeatureView]) -> None:
        self.project = project
        self._views = {v.name: v for v in views}

    def get_feature_view(self, name: str) -> FeatureView:
        return self._views[name]

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        raise KeyError(name)

    def get_feature_service(self, name: str) -> FeatureService:
        raise KeyError(name)


def test_ttl_is_enforced_at_read_time(backend: Backend) -> None:
    """A stored value older than the view's ttl at read time is OUTSIDE_MAX_AGE (served as null), whatever the
    store; ``enforce_ttl=False`` serves it as PRESENT. Stored nulls and absent keys keep their own statuses."""
    store, p = backend.store, backend.project
    view = make_view({"v": Int64})  # ttl: one day; a row older than that is stale, its stored nulls included
    store.update(p, [view], [])
    day = timedelta(days=1)
    store.write(p, view, rows([1, 2, 3], [T, T - 2 * day, T], [None, None, None], v=[10, 20, None]))
    resolved = resolve_features(_Catalog(p, [view]), ["things:v"])
    entity_rows = [{"id": i} for i in (1, 2, 3, 4)]
    now = T + timedelta(hours=1)
    fresh = read_online(store, p, resolved, entity_rows, now=now)
    assert fresh.to_dict()["v"] == [10, None, None, None]
    assert fresh.statuses["v"] == ["PRESENT", "OUTSIDE_MAX_AGE", "NULL_VALUE", "NOT_FOUND"]
    old = read_online(store, p, resolved, entity_rows, now=now, enforce_ttl=False)
    assert old.to_dict()["v"] == [10, 20, None, None]
    assert old.statuses["v"] == ["PRESENT", "PRESENT", "NULL_VALUE", "NOT_FOUND"]
    later = read_online(store, p, resolved, entity_rows, now=T + day + timedelta(microseconds=1))
    assert later.statuses["v"] == ["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    store.teardown(p, [view])


def test_bad_rows_are_refused_naming_the_view(backend: Backend) -> None:
    """The shared preparation step (ladle/online/prepare.py) checks rows the same way for every store."""
    store, p = backend.store, backend.project
    view = make_view({"v": Int64})
    store.update(p, [view], [])
    bad = {
        "null join key": rows([1, None], [T, T], [None, None], v=[1, 2]),
        "null event timestamp": rows([1, 2], [T, None], [None, None], v=[1, 2]),  # type: ignore[list-item]
        r"lack column\(s\) \['v'\]": rows([1], [T], [None]),
        "does not convert to its declared type": rows([1], [T], [None], v=["x"]),
    }
    for message, table in bad.items():
        with pytest.raises(InvalidRequest, match=rf"things.*{message}|{message}.*things"):
            store.write(p, view, table)
    assert store.read(p, view, pa.table({"id": [1, 2]}), ["v"]).column("event_ts").null_count == 2
    store.teardown(p, [view])


def test_delete_removes_keys_whatever_their_timestamps(backend: Backend) -> None:
    """``delete`` (rollback's way past newer-wins): the keys go, an older row can then be written, other
    keys and another view sharing the same entity keep their values, unknown keys are ignored."""
    stats, quality = make_view({"v": Int64}, name="stats"), make_view({"r": String}, name="quality")
    backend.store.update(backend.project, [stats, quality], [])
    later = T + timedelta(hours=1)
    backend.store.write(backend.project, stats, rows([1, 2, 3], [later] * 3, [None] * 3, v=[10, 20, 30]))
    backend.store.write(backend.project, quality, rows([1, 2], [T, T], [None, None], r=["q1", "q2"]))
    backend.store.delete(backend.project, stats, pa.table({"id": pa.array([2, 3, 99], pa.int64())}))
    keys = pa.table({"id": pa.array([1, 2, 3], pa.int64())})
    got = backend.store.read(backend.project, stats, keys, ["v"])
    assert got.column("v").to_pylist() == [10, None, None]
    assert got.column("event_ts").to_pylist() == [later, None, None]
    assert backend.store.read(backend.project, quality, keys, ["r"]).column("r").to_pylist() == ["q1", "q2", None]
    backend.store.write(backend.project, stats, rows([2], [T], [None], v=[21]))  # older than the deleted row
    assert backend.store.read(backend.project, stats, keys, ["v"]).column("v").to_pylist() == [10, 21, None]
    backend.store.delete(backend.project, stats, pa.table({"id": pa.array([], pa.int64())}))  # nothing to do
    backend.store.teardown(backend.project, [stats, quality])
    assert backend.leftovers() == []

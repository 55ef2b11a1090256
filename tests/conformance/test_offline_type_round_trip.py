"""Every feature type round-trips exactly through every offline store: the point-in-time join and
materialization's pull_latest return what the source holds (big ints, NaN/inf/-0.0, unicode, bytes,
tz-aware timestamps, arrays, maps, JSON, structs, UUIDs, decimals, sets, nested arrays, nulls) — UUIDs in
canonical text and sets as sorted distinct lists whatever the source holds —, and apply-time checks accept the natural column
types of each store while refusing a column whose type disagrees with the declared one."""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import OFFLINE, OfflineBackend, offline_backend
from ladle.definitions import DataSource, Entity, FeatureView, Field, FileSource, PostgreSQLSource, SparkSource
from ladle.errors import InvalidDefinition
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.repo.inference import infer_feature_view
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
U1, U2 = "6ba7b810-9dad-41d1-80b4-00c04fd430c8", "0f8fad5b-d9cb-469f-a165-70867728950e"
TU = "c232ab00-9414-11ec-b3c8-9f6bdeced846"  # version 1
# name -> (declared type, PostgreSQL column type, the values of drivers 1, 2 and 3)
TYPES: dict[str, tuple[object, str, list[object]]] = {
    "i32": (Int32, "INT4", [2**31 - 1, None, -5]),
    "i64": (Int64, "INT8", [2**63 - 1, -(2**63), None]),
    "f32": (Float32, "FLOAT4", [1.5, math.inf, None]),
    "f64": (Float64, "FLOAT8", [math.nan, -0.0, -math.inf]),
    "s": (String, "TEXT", ["héllo ✓ 日本 🚗", "", None]),
    "b": (Bytes, "BYTEA", [b"\x00\xff", b"", None]),
    "flag": (Bool, "BOOLEAN", [True, False, None]),
    "when": (UnixTimestamp, "TIMESTAMPTZ", [T + timedelta(microseconds=7), None, T - timedelta(days=20000)]),
    "arr": (Array(Int64), "INT8[]", [[1, None, 3], [], None]),
    "tags": (Array(String), "TEXT[]", [["a", "ü"], None, []]),
    "m": (Map, "JSONB", [[("k", "v")], None, []]),
    "doc": (Json, "JSONB", ['{"a": [1, 2], "é": null}', None, "[]"]),
    "pt": (
        Struct({"x": Float64, "label": String}),
        "JSONB",
        [{"x": 1.0, "label": "p"}, None, {"x": None, "label": None}],
    ),
    "uid": (Uuid, "UUID", [U1.upper(), None, U2]),
    "tuid": (TimeUuid, "UUID", [None, TU, TU]),
    "uids": (Array(Uuid), "UUID[]", [[U2, None, U1], [], None]),
    "dec": (Decimal, "NUMERIC", [D("12345678901234567890.123456789012345678"), D("-0.000000000000000001"), None]),
    "decs": (Array(Decimal), "NUMERIC[]", [[D("1.5"), None, D("-2")], None, []]),
    "sset": (Set(String), "TEXT[]", [["b", "a", "b", "ü"], [], None]),
    "iset": (Set(Int64), "INT8[]", [[5, -1, 5, None, None], None, []]),
    "uset": (Set(Uuid), "UUID[]", [[U2, U1, U2], [], None]),
    "grid": (Array(Array(Int64)), "JSONB", [[[1, None], [], None], [], None]),
    "aset": (Array(Set(String)), "JSONB", [[["b", "a", "a"], []], None, [None]]),
}
#: what the stores return where it differs from what the source holds: canonical UUIDs, sets in order
NORMALIZED: dict[str, list[object]] = {
    "uid": [U1, None, U2],
    "sset": [["a", "b", "ü"], [], None],
    "iset": [[-1, 5, None], None, []],
    "uset": [sorted([U1, U2]), [], None],
    "aset": [[["a", "b"], []], None, [None]],
}
MakeSource = Callable[[str, pa.Table], DataSource]


def source_rows() -> pa.Table:
    columns = {n: pa.array(v, to_arrow(d)) for n, (d, _, v) in TYPES.items()}
    return pa.table({"driver_id": pa.array([1, 2, 3], pa.int64()), "ts": pa.array([T] * 3, UTC), **columns})


def _pg_value(value: object, pg_type: str, dtype: object) -> object:
    from psycopg.types.json import Jsonb

    if pg_type != "JSONB" or value is None:
        return value
    if isinstance(value, str):
        return Jsonb(json.loads(value))
    if dtype == Map:
        return Jsonb(dict(value))  # type: ignore[call-overload]
    return Jsonb(value)


def _make_source(backend: OfflineBackend, name: str, rows: pa.Table) -> DataSource:
    """Store ``rows`` (as the column types of TYPES) where ``backend`` reads sources; the source naming them."""
    if backend.name == "postgres":
        pg_types = {"driver_id": "INT8", "ts": "TIMESTAMPTZ", **{n: t for n, (_, t, _) in TYPES.items()}}
        columns = ", ".join(f'"{c}" {pg_types[c]}' for c in rows.column_names)
        backend.admin.execute(f'CREATE TABLE "{backend.schema}"."{name}" ({columns})')
        names = ", ".join(f'"{c}"' for c in rows.column_names)
        marks = ", ".join(["%s"] * rows.num_columns)
        with backend.admin.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{backend.schema}"."{name}" ({names}) VALUES ({marks})',
                [
                    [_pg_value(v, pg_types[c], TYPES[c][0] if c in TYPES else None) for c, v in row.items()]
                    for row in rows.to_pylist()
                ],
            )
        return PostgreSQLSource(name=name, table=name, timestamp_field="ts")
    assert backend.folder is not None
    pq.write_table(rows, backend.folder / f"{name}.parquet")
    if backend.name == "spark":
        return SparkSource(name=name, path=f"{name}.parquet", file_format="parquet", timestamp_field="ts")
    return FileSource(name=name, path=f"{name}.parquet", timestamp_field="ts")


@pytest.fixture(params=OFFLINE)
def offline(request: pytest.FixtureRequest) -> Iterator[tuple[OfflineStore, MakeSource]]:
    with offline_backend(request.param) as backend:
        yield backend.store, functools.partial(_make_source, backend)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, str) and isinstance(b, str) and a[:1] in ("[", "{"):
        return json.loads(a) == json.loads(b)  # JSON text: the same document (a store may respace it)
    return a == b


def make_view(source: DataSource, fields: dict[str, object]) -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="typed", entities=[driver], source=source, schema=[Field(name=n, dtype=d) for n, d in fields.items()]
    )  # type: ignore[arg-type]
    view.bind_entities({"driver": driver})
    return view


def test_every_type_round_trips(offline: tuple[OfflineStore, MakeSource]) -> None:
    store, make = offline
    view = make_view(make(f"typed_{uuid.uuid4().hex[:6]}", source_rows()), {n: d for n, (d, _, _) in TYPES.items()})
    infer_feature_view(view, store.source_schema)  # what apply/validate run: the column types are accepted
    entities = pa.table(
        {
            "driver_id": pa.array([3, 1, 2, 9], pa.int64()),
            "event_timestamp": pa.array([T + timedelta(hours=1)] * 4, UTC),
        }
    )
    joined = store.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, "typed", list(view.features))])
    joined = joined.rename_columns([c.partition("__")[2] for c in joined.column_names])
    latest = store.pull_latest(view, T - timedelta(days=1), T + timedelta(days=1)).read_all().sort_by("driver_id")
    assert latest.column("driver_id").to_pylist() == [1, 2, 3]
    for name, (dtype, _, stored) in TYPES.items():
        values = NORMALIZED.get(name, stored)
        assert joined.schema.field(name).type == to_arrow(dtype), name
        got = joined.column(name).to_pylist()
        assert all(same(g, e) for g, e in zip(got, [values[2], values[0], values[1], None], strict=True)), (name, got)
        got = latest.column(name).to_pylist()
        assert all(same(g, e) for g, e in zip(got, values, strict=True)), (name, got)


def test_a_column_of_another_type_is_refused_at_apply(offline: tuple[OfflineStore, MakeSource]) -> None:
    store, make = offline
    source = make(f"typed_{uuid.uuid4().hex[:6]}", source_rows())
    with pytest.raises(
        InvalidDefinition, match=r"feature 's' is declared Int64, but column 's' of source .* holds string"
    ):
        infer_feature_view(make_view(source, {"s": Int64}), store.source_schema)
    with pytest.raises(InvalidDefinition, match=r"feature 'i64' is not a column|feature 'missing' is not a column"):
        infer_feature_view(make_view(source, {"missing": Int64}), store.source_schema)


def test_uuid_join_keys_match_by_value_in_any_case(offline: tuple[OfflineStore, MakeSource]) -> None:
    """A ``Uuid`` join key matches the same UUID written in another case, or stored as the store's UUID type,
    on both sides of the join (the source holds ``U1`` uppercase; the entity rows ask for ``U2`` uppercase)."""
    store, make = offline
    rows = source_rows().select(["driver_id", "ts", "uid", "i32"])
    user = Entity(name="user", join_keys=["uid"])
    view = FeatureView(
        name="by_uid",
        entities=[user],
        source=make(f"uid_{uuid.uuid4().hex[:6]}", rows),
        schema=[Field(name="uid", dtype=Uuid), Field(name="i32", dtype=Int32)],
    )
    view.bind_entities({"user": user})
    infer_feature_view(view, store.source_schema)
    entities = pa.table({"uid": [U1, U2.upper(), None], "event_timestamp": pa.array([T + timedelta(hours=1)] * 3, UTC)})
    joined = store.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, "by_uid", list(view.features))])
    joined = joined.rename_columns([c.partition("__")[2] for c in joined.column_names])
    assert joined.column("i32").to_pylist() == [2**31 - 1, -5, None]

"""Every feature type survives the DuckDB point-in-time join and materialization read unchanged."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ladle.definitions import Entity, FeatureView, Field, FileSource
from ladle.offline.base import ViewRequest
from ladle.offline.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from ladle.types import (
    Array,
    Bool,
    Bytes,
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

T = datetime(2026, 5, 1, tzinfo=timezone.utc)
TYPES = {
    "i32": (Int32, [2**31 - 1, None]),
    "i64": (Int64, [2**63 - 1, -(2**63)]),
    "f32": (Float32, [1.5, float("inf")]),
    "f64": (Float64, [float("nan"), -float("inf")]),
    "s": (String, ["héllo wörld ✓ 日本", None]),
    "b": (Bytes, [b"\x00\xff", b""]),
    "flag": (Bool, [True, None]),
    "when": (UnixTimestamp, [T, None]),
    "arr": (Array(Int64), [[1, None, 3], []]),
    "tags": (Array(String), [["a", "ü"], None]),
    "m": (Map, [[("k", "v"), ("k2", "v2")], None]),
    "doc": (Json, ['{"a": [1, 2]}', None]),
    "pt": (Struct({"x": Float64, "label": String}), [{"x": 1.0, "label": "p"}, None]),
}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_every_type_round_trips(tmp_path: Path) -> None:
    columns = {name: pa.array(values, to_arrow(dtype)) for name, (dtype, values) in TYPES.items()}
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "ts": pa.array([T, T], pa.timestamp("us", tz="UTC")),
                **columns,
            }
        ),
        tmp_path / "all.parquet",
    )
    key = Entity(name="thing", join_keys=["id"])
    view = FeatureView(
        name="all_types",
        entities=[key],
        ttl=timedelta(days=1),
        schema=[Field(name=n, dtype=d) for n, (d, _) in TYPES.items()],
        source=FileSource(path="all.parquet", timestamp_field="ts"),
    )
    view.bind_entities({"thing": key})
    store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)
    entities = pa.table({"id": [2, 1, 3], "event_timestamp": pa.array([T, T, T], pa.timestamp("us", tz="UTC"))})
    joined = store.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, view.name, view.features)])
    joined = joined.rename_columns([c.partition("__")[2] for c in joined.column_names])
    latest = store.pull_latest(view, T - timedelta(hours=1), T).read_all().sort_by("id")
    for name, (dtype, values) in TYPES.items():
        assert joined.schema.field(name).type == to_arrow(dtype), name
        got = joined.column(name).to_pylist()
        assert all(same(g, e) for g, e in zip(got, [values[1], values[0], None], strict=True)), (name, got)
        assert latest.schema.field(name).type == to_arrow(dtype), name
        got_latest = latest.column(name).to_pylist()
        assert all(same(g, e) for g, e in zip(got_latest, values, strict=True)), (name, got_latest)

"""Feature types map to exactly one Arrow type and round-trip through the registry format."""

from __future__ import annotations

import pyarrow as pa
import pytest

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
    ValueType,
    dtype_from_dict,
    dtype_to_dict,
    from_arrow,
    from_value_type,
    to_arrow,
)

ALL = [Int32, Int64, Float32, Float64, String, Bytes, Bool, UnixTimestamp, Map, Json,
       Array(Int64), Array(String), Array(Float32), Struct({"lat": Float64, "tags": Array(String)})]


@pytest.mark.parametrize("dtype", ALL, ids=repr)
def test_round_trip_through_dict(dtype) -> None:
    assert dtype_from_dict(dtype_to_dict(dtype)) == dtype


def test_arrow_mapping() -> None:
    assert to_arrow(Float32) == pa.float32()
    assert to_arrow(UnixTimestamp) == pa.timestamp("us", tz="UTC")
    assert to_arrow(Array(Int64)) == pa.list_(pa.int64())
    assert to_arrow(Struct({"a": Int32})) == pa.struct([pa.field("a", pa.int32())])
    assert to_arrow(Map) == pa.map_(pa.string(), pa.string())


@pytest.mark.parametrize("dtype", [t for t in ALL if t not in (Json,)], ids=repr)
def test_from_arrow_inverts_to_arrow(dtype) -> None:
    assert from_arrow(to_arrow(dtype)) == dtype


def test_value_types() -> None:
    assert from_value_type(ValueType.INT64) == Int64
    assert from_value_type(ValueType.FLOAT) == Float32
    assert from_value_type(ValueType.STRING_LIST) == Array(String)
    assert Array(Float64).to_value_type() == ValueType.DOUBLE_LIST


def test_bad_types() -> None:
    with pytest.raises(TypeError, match="not supported"):
        Array(Map)
    with pytest.raises(TypeError, match="unknown type name 'Int63'"):
        dtype_from_dict("Int63")

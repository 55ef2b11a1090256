"""Feature types map to exactly one Arrow type and round-trip through the registry format."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ladle.types import (
    Array,
    Bool,
    Bytes,
    Decimal,
    Float32,
    Float64,
    Int32,
    Int64,
    Invalid,
    Json,
    Map,
    Set,
    String,
    Struct,
    TimeUuid,
    UnixTimestamp,
    Uuid,
    ValueType,
    dtype_from_dict,
    dtype_to_dict,
    from_arrow,
    from_value_type,
    to_arrow,
)

ALL = [
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    Bool,
    UnixTimestamp,
    Map,
    Json,
    Uuid,
    TimeUuid,
    Decimal,
    Array(Int64),
    Array(String),
    Array(Float32),
    Struct({"lat": Float64, "tags": Array(String)}),
    Set(String),
    Set(Uuid),
    Array(Array(Int64)),
    Array(Set(Decimal)),
    Array(Array(Array(String))),
]


@pytest.mark.parametrize("dtype", ALL, ids=repr)
def test_round_trip_through_dict(dtype) -> None:
    assert dtype_from_dict(dtype_to_dict(dtype)) == dtype


def test_arrow_mapping() -> None:
    assert to_arrow(Float32) == pa.float32()
    assert to_arrow(UnixTimestamp) == pa.timestamp("us", tz="UTC")
    assert to_arrow(Array(Int64)) == pa.list_(pa.int64())
    assert to_arrow(Struct({"a": Int32})) == pa.struct([pa.field("a", pa.int32())])
    assert to_arrow(Map) == pa.map_(pa.string(), pa.string())


# Json, Uuid and TimeUuid are text, Decimal is inferred as Float64 (as Feast does), a Set is a list
INFERRED = [
    t for t in ALL if t not in (Json, Uuid, TimeUuid, Decimal) and "Set" not in repr(t) and "Decimal" not in repr(t)
]


@pytest.mark.parametrize("dtype", INFERRED, ids=repr)
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


def test_new_types_arrow_and_value_types() -> None:
    assert to_arrow(Uuid) == to_arrow(TimeUuid) == pa.string()
    assert to_arrow(Decimal) == pa.decimal128(38, 18)
    assert to_arrow(Set(Int64)) == pa.list_(pa.int64())
    assert to_arrow(Array(Set(String))) == pa.list_(pa.list_(pa.string()))
    assert from_arrow(pa.decimal128(10, 2)) == Float64
    assert from_arrow(pa.list_(pa.list_(pa.int32()))) == Array(Array(Int32))
    pairs = {
        Uuid: ValueType.UUID,
        TimeUuid: ValueType.TIME_UUID,
        Decimal: ValueType.DECIMAL,
        Array(Uuid): ValueType.UUID_LIST,
        Array(TimeUuid): ValueType.TIME_UUID_LIST,
        Array(Decimal): ValueType.DECIMAL_LIST,
        Set(String): ValueType.STRING_SET,
        Set(Int64): ValueType.INT64_SET,
        Set(Float32): ValueType.FLOAT_SET,
        Set(Bytes): ValueType.BYTES_SET,
        Set(UnixTimestamp): ValueType.UNIX_TIMESTAMP_SET,
        Set(Uuid): ValueType.UUID_SET,
        Set(TimeUuid): ValueType.TIME_UUID_SET,
        Set(Decimal): ValueType.DECIMAL_SET,
    }
    for dtype, value_type in pairs.items():
        assert dtype.to_value_type() == value_type, dtype
        assert from_value_type(value_type) == dtype, value_type
    assert Array(Array(Int64)).to_value_type() == ValueType.VALUE_LIST
    assert from_value_type(ValueType.VALUE_LIST) == Invalid  # the element type is not in the value type


def test_value_type_numbers_are_feasts() -> None:
    numbers = {
        "MAP": 20,
        "BYTES_SET": 22,
        "UNIX_TIMESTAMP_SET": 29,
        "JSON": 32,
        "STRUCT": 34,
        "UUID": 36,
        "TIME_UUID_SET": 41,
        "VALUE_LIST": 42,
        "DECIMAL": 44,
        "DECIMAL_SET": 46,
    }
    assert {n: ValueType[n].value for n in numbers} == numbers


def test_sets_hold_scalars_only() -> None:
    for bad in (lambda: Set(Set(Int64)), lambda: Set(Array(Int64)), lambda: Set(Json), lambda: Array(Json)):
        with pytest.raises(TypeError, match="is not supported: the elements of a"):
            bad()
    with pytest.raises(TypeError, match=r"Set\(Map\) is not supported"):
        Set(Map)

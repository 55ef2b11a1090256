"""Tagged-bytes values for key-value online stores: exact round trips on the per-value and the numpy paths."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ladle.online.value_bytes import decode_column, encode_column, python_decoder

NUMBERS = {
    pa.int64(): [0, -1, 2**63 - 1, -(2**63), None, 42],
    pa.int32(): [0, -(2**31), 2**31 - 1, None, 7, 8],
    pa.float64(): [0.0, -0.0, math.inf, -math.inf, math.nan, None],
    pa.float32(): [1.5, -0.0, math.inf, None, 3.25, -2.0],
    pa.timestamp("us", tz="UTC"): [
        datetime(2021, 4, 12, 7, 0, 1, 123456, tzinfo=UTC),
        None,
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        None,
        None,
        None,
    ],
}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


@pytest.mark.parametrize("repeat", [1, 20], ids=["per-value", "numpy"])  # 6 and 120 values
@pytest.mark.parametrize("arrow_type", list(NUMBERS), ids=str)
def test_numbers_round_trip_exactly(arrow_type: pa.DataType, repeat: int) -> None:
    values = NUMBERS[arrow_type] * repeat
    column = pa.array(values, arrow_type)
    back = decode_column(encode_column(column), arrow_type)
    assert back.type == arrow_type
    assert all(same(x, y) for x, y in zip(back.to_pylist(), column.to_pylist(), strict=True))
    assert back.null_count == column.null_count


@pytest.mark.parametrize("n", [3, 64])
def test_absent_values_decode_as_null(n: int) -> None:
    encoded = encode_column(pa.array(list(range(n)), pa.int64()))
    encoded[1] = None  # an absent hash field
    back = decode_column(encoded, pa.int64()).to_pylist()
    assert back[0] == 0 and back[1] is None and back[2] == 2


def test_nested_values_written_before_the_one_json_format_still_read() -> None:
    """Redis/DynamoDB/PostgreSQL wrote bytes inside nested values as ``{"__bytes__": hex}`` and maps as pairs;
    the one format (ladle/online/nested_json.py) writes base64 and objects, and reads both."""
    old_bytes = [b'v[{"__bytes__": "00ff"}, null]', b""]
    assert decode_column(old_bytes, pa.list_(pa.binary())).to_pylist() == [[b"\x00\xff", None], None]
    old_map = [b'v[["k", "v"]]']
    assert decode_column(old_map, pa.map_(pa.string(), pa.string())).to_pylist() == [[("k", "v")]]
    assert encode_column(pa.array([[b"\x00\xff"]], pa.list_(pa.binary()))) == [b'v["AP8="]']


PLAIN_VALUES = {
    pa.int64(): st.integers(-(2**63), 2**63 - 1),
    pa.int16(): st.integers(-(2**15), 2**15 - 1),
    pa.uint32(): st.integers(0, 2**32 - 1),
    pa.float64(): st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, 0.0])),
    pa.float32(): st.floats(width=32, allow_nan=True, allow_infinity=True),
    pa.bool_(): st.booleans(),
    pa.string(): st.text(max_size=6),
    pa.binary(): st.binary(max_size=6),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), arrow_type=st.sampled_from(list(PLAIN_VALUES)), n=st.integers(0, 40))
def test_python_decoders_give_what_the_arrow_decoder_gives(
    data: st.DataObject, arrow_type: pa.DataType, n: int
) -> None:
    """A column decoded to Python values (one by one below 12 values, through numpy from 12 on) equals
    ``decode_column(...).to_pylist()``: nulls (``b""``), absent fields (``None``), NaN, -0.0, extremes."""
    values = data.draw(st.lists(st.one_of(st.none(), PLAIN_VALUES[arrow_type]), min_size=n, max_size=n))
    encoded: list[bytes | None] = list(encode_column(pa.array(values, arrow_type)))
    absent = data.draw(st.sets(st.integers(0, max(0, n - 1)), max_size=n))
    for i in absent:
        if i < n:
            encoded[i] = None
    decode = python_decoder(arrow_type)
    assert decode is not None
    got = decode(encoded)
    want = decode_column(encoded, arrow_type).to_pylist()
    assert len(got) == len(want) and all(same(a, b) and type(a) is type(b) for a, b in zip(got, want, strict=True))


def test_types_without_a_python_decoder() -> None:
    assert python_decoder(pa.timestamp("us", tz="UTC")) is None and python_decoder(pa.list_(pa.int64())) is None

"""Feature values as bytes, a column at a time, for key-value online stores (Redis, DynamoDB).

Every stored value is one tag byte and a payload; an empty value is null. Numbers are fixed-width
big-endian (floats as IEEE doubles, so NaN, infinities and -0.0 survive), text is UTF-8, bytes are
raw, timestamps are UTC microseconds, decimals are their text (``1.500000000000000000``), and arrays,
maps and structs are the JSON text every online store keeps them as (:mod:`ladle.online.nested_json`).
Encoding and decoding work on whole columns; per value there is only a slice or a join.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import pyarrow as pa

from ladle.common.type_family import type_family
from ladle.online.nested_json import decode_nested, encode_nested

__all__ = ["decode_column", "encode_column", "python_decoder"]

_VALUE = b"v"
#: below this many values, numbers are decoded one by one (numpy's per-call cost outweighs its speed)
_SMALL = 32
_DOUBLE = struct.Struct(">d")
_NULL_NUMBER = bytes(9)
_INT_RECORD = np.dtype([("tag", "u1"), ("value", ">i8")])
_FLOAT_RECORD = np.dtype([("tag", "u1"), ("value", ">f8")])


def _kind(t: pa.DataType) -> str:
    family = type_family(t)
    if family in ("int", "timestamp"):
        return "int"
    if family in ("bool", "float", "decimal", "bytes"):
        return family
    return "text" if family == "string" else "json"


def _fixed(column: pa.Array, dtype: str) -> list[bytes]:
    values = column.to_numpy(zero_copy_only=False)
    raw = np.ascontiguousarray(values.astype(dtype)).tobytes()
    width = np.dtype(dtype).itemsize
    return [_VALUE + raw[i : i + width] for i in range(0, len(raw), width)]


def encode_column(column: pa.Array | pa.ChunkedArray) -> list[bytes]:
    """One bytes value per row (``b""`` for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = _kind(column.type)
    if kind == "int":
        out = _fixed(column.cast(pa.int64()).fill_null(0), ">i8")
    elif kind == "float":
        out = _fixed(column.cast(pa.float64()).fill_null(0.0), ">f8")
    elif kind == "bool":
        out = [_VALUE + (b"\x01" if v else b"\x00") for v in column.fill_null(False).to_pylist()]
    elif kind in ("text", "decimal"):
        out = [_VALUE + v.encode() for v in column.cast(pa.string()).fill_null("").to_pylist()]
    elif kind == "bytes":
        out = [_VALUE + v for v in column.fill_null(b"").to_pylist()]
    else:
        out = [b"" if v is None else _VALUE + v.encode() for v in encode_nested(column)]
    if column.null_count:
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        out = [v if ok else b"" for v, ok in zip(out, valid, strict=True)]
    return out


def _decode_numbers(values: Sequence[bytes | None], kind: str, target: pa.DataType) -> pa.Array:
    if kind == "int":
        return pa.array([int.from_bytes(v[1:], "big", signed=True) if v else None for v in values], target)
    return pa.array([_DOUBLE.unpack(v[1:])[0] if v else None for v in values], target)


def decode_column(values: Sequence[bytes | None], target: pa.DataType) -> pa.Array:
    """Inverse of :func:`encode_column`; ``None`` (absent) and ``b""`` are null."""
    kind = _kind(target)
    if kind in ("int", "float") and len(values) < _SMALL:
        return _decode_numbers(values, kind, target)
    if kind in ("int", "float"):
        # Every stored number is 9 bytes (tag, big-endian payload): read them as one record array; a null
        # becomes 9 zero bytes, whose tag (0) marks it.
        records = np.frombuffer(
            b"".join([v or _NULL_NUMBER for v in values]), _INT_RECORD if kind == "int" else _FLOAT_RECORD
        )
        mask = records["tag"] != _VALUE[0]
        numbers = records["value"]
        if pa.types.is_timestamp(target):
            return pa.array(numbers.astype(np.int64), type=target, mask=mask)
        return pa.array(numbers.astype(target.to_pandas_dtype()), type=target, mask=mask)
    payloads = [v[1:] if v else None for v in values]
    if kind == "bool":
        return pa.array([None if p is None else p == b"\x01" for p in payloads], target)
    if kind in ("text", "decimal"):
        return pa.array([None if p is None else p.decode() for p in payloads], pa.string()).cast(target)
    if kind == "bytes":
        return pa.array(payloads, target)
    return decode_nested(payloads, target)


#: from this many values on, a column of numbers is decoded to Python values through one numpy record view
_PY_BULK = 12
_INT_TAG = _VALUE[0]


def _py_numbers(values: Sequence[bytes | None], record: np.dtype, one: Callable[[bytes | None], Any]) -> list[Any]:
    """Numbers (9-byte records) as Python values: one ``join``, one record view and ``tolist`` for a column,
    the nulls (absent or ``b""``: zero records, tag 0) put back afterwards."""
    if len(values) < _PY_BULK:
        return [one(v) for v in values]
    whole = None not in values and b"" not in values
    raw = b"".join(cast(Sequence[bytes], values) if whole else [v or _NULL_NUMBER for v in values])
    if len(raw) != len(values) * record.itemsize:  # not all numbers: what one by one makes of it
        return [one(v) for v in values]
    records = np.frombuffer(raw, record)
    out: list[Any] = records["value"].tolist()
    if whole:  # every value is a stored number (tag "v")
        return out
    tags = records["tag"]
    if (tags != _INT_TAG).any():
        for i in np.flatnonzero(tags != _INT_TAG).tolist():
            out[i] = None
    return out


def _py_int(v: bytes | None) -> int | None:
    return int.from_bytes(v[1:], "big", signed=True) if v else None


def _py_float(v: bytes | None) -> float | None:
    return _DOUBLE.unpack_from(v, 1)[0] if v else None


def _py_ints(values: Sequence[bytes | None]) -> list[int | None]:
    return _py_numbers(values, _INT_RECORD, _py_int)


def _py_floats(values: Sequence[bytes | None]) -> list[float | None]:
    return _py_numbers(values, _FLOAT_RECORD, _py_float)


def _py_bools(values: Sequence[bytes | None]) -> list[bool | None]:
    return [v[1:] == b"\x01" if v else None for v in values]


def _py_texts(values: Sequence[bytes | None]) -> list[str | None]:
    return [v[1:].decode() if v else None for v in values]


def _py_bytes(values: Sequence[bytes | None]) -> list[bytes | None]:
    return [v[1:] if v else None for v in values]


_PY_DECODERS: dict[pa.DataType, Callable[[Sequence[bytes | None]], list[Any]]] = {
    **{t: _py_ints for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64())},
    **{t: _py_ints for t in (pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64())},
    pa.float32(): _py_floats,
    pa.float64(): _py_floats,
    pa.bool_(): _py_bools,
    pa.string(): _py_texts,
    pa.large_string(): _py_texts,
    pa.binary(): _py_bytes,
    pa.large_binary(): _py_bytes,
}


def python_decoder(target: pa.DataType) -> Callable[[Sequence[bytes | None]], list[Any]] | None:
    """A decoder of a column of stored values (``None`` where absent) to the Python values
    :func:`decode_column`'s array would give for it (``.to_pylist()``), for the plain types (integers, floats,
    booleans, text, bytes); ``None`` for the others (timestamps, decimals, nested values), which only
    :func:`decode_column` decodes.

    >>> python_decoder(pa.int32())(encode_column(pa.array([-7, None], pa.int32())) + [None])
    [-7, None, None]
    """
    return _PY_DECODERS.get(target)

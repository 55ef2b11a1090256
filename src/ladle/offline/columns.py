"""Column normalization shared by offline stores: timestamps to UTC microseconds, values to declared types."""

from __future__ import annotations

import decimal

import pandas as pd
import pyarrow as pa

from ladle.conform import conform
from ladle.errors import InvalidRequest
from ladle.types import FeastType, TimeUuid, Uuid, to_arrow

__all__ = ["cast_to_declared", "ensure_utc_micros"]

UTC_MICROS = pa.timestamp("us", tz="UTC")


def ensure_utc_micros(column: pa.ChunkedArray | pa.Array, name: str) -> pa.ChunkedArray:
    """A timestamp column as timestamp[us, UTC]. Naive timestamps are taken as UTC; strings are parsed."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    t = column.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            column = column.cast(pa.timestamp(t.unit, tz="UTC"))
        return column.cast(UTC_MICROS, safe=False)
    if pa.types.is_date(t):
        return column.cast(pa.timestamp("us")).cast(UTC_MICROS)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            parsed = pd.to_datetime(pd.Series(column.to_pylist()), utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"column '{name}' holds strings that are not ISO timestamps: {exc}") from exc
        return pa.chunked_array([pa.array(parsed, type=UTC_MICROS)])
    raise InvalidRequest(
        f"column '{name}' must hold timestamps, but its type is {t} (convert it with pd.to_datetime(...))"
    )


def cast_to_declared(column: pa.ChunkedArray | pa.Array, declared: FeastType | pa.DataType, what: str) -> pa.ChunkedArray:
    """Cast a fetched column to the feature's declared type, naming the feature when it cannot.

    Given a feature type (not only its Arrow type), the values are also put in canonical form
    (:func:`ladle.conform.conform`: UUID text, sets as sorted distinct lists).
    """
    if isinstance(declared, pa.DataType):
        return _cast(column, declared, what)
    if declared in (Uuid, TimeUuid):  # 16-byte UUIDs are not text to cast: conform reads them
        return conform(column, declared, what)
    return conform(_cast(column, to_arrow(declared), what), declared, what)


def _cast(column: pa.ChunkedArray | pa.Array, target: pa.DataType, what: str) -> pa.ChunkedArray:
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    if column.type == target:
        return column
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    try:
        if pa.types.is_decimal(target) and pa.types.is_floating(column.type):
            return _floats_as_decimals(column, target)
        # Float narrowing (float64 -> Float32) is declared intent; integer overflow is not.
        safe = not (pa.types.is_floating(target) and pa.types.is_floating(column.type))
        return column.cast(target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        if pa.types.is_null(column.type):
            return pa.chunked_array([pa.nulls(len(column), target)], type=target)
        raise InvalidRequest(
            f"'{what}' is declared as {target} but the data is {column.type} and does not convert: {exc}"
        ) from exc


def _floats_as_decimals(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Floats as the decimals they print as (0.1 is 0.1, not its binary value 0.1000000000000000055...)."""
    values = [None if v is None else decimal.Decimal(repr(v)) for v in column.to_pylist()]
    return pa.chunked_array([pa.array(values, target)], type=target)

"""Column normalization shared by offline stores: timestamps to UTC microseconds, values to declared types.

The timestamp rule, written once here (and mirrored in SQL by the stores that read files directly): every
timestamp, whatever its unit (s, ms, us, ns) and zone, becomes the instant it denotes as ``timestamp[us,
UTC]``; a naive timestamp is UTC wall-clock time; nanoseconds that are not whole microseconds are truncated
toward the past (also before 1970), so a value never moves later in time; a value that does not fit
microseconds in 64 bits is an error, never a silent overflow.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import conform
from ladle.common.times import UTC_US
from ladle.definitions import DataSource
from ladle.errors import InvalidRequest
from ladle.types import FeastType, is_uuid, to_arrow

__all__ = ["UTC_MICROS", "align_to_source", "cast_to_declared", "ensure_utc_micros"]

UTC_MICROS = UTC_US


def _timestamps_to_utc_micros(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    unit = column.type.unit
    utc = column.cast(pa.timestamp(unit, tz="UTC"))  # naive values are UTC; a zone is only metadata
    if unit == "ns":
        # floor, not Arrow's truncation toward zero, which moves pre-1970 values later in time
        return pc.floor_temporal(utc, unit="microsecond").cast(UTC_MICROS, safe=False)
    try:
        return utc.cast(UTC_MICROS)  # s and ms are exact in microseconds, or do not fit at all
    except pa.ArrowInvalid as exc:
        raise InvalidRequest(
            f"column '{name}' holds a timestamp outside the range ladle keeps (microseconds since 1970 in 64 bits, "
            f"about the years 290308 BC to 294247 AD): fix or drop that value ({exc})"
        ) from exc


def _iso_utc(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"column '{name}' holds strings that are not ISO timestamps: {exc}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def ensure_utc_micros(column: pa.ChunkedArray | pa.Array, name: str) -> pa.ChunkedArray:
    """A timestamp column as timestamp[us, UTC] by the module's rule. Dates are midnight UTC; strings are parsed."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    t = column.type
    if pa.types.is_timestamp(t):
        return _timestamps_to_utc_micros(column, name)
    if pa.types.is_date(t):
        return column.cast(pa.timestamp("us")).cast(UTC_MICROS)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = column.to_pylist()
        try:
            parsed = pa.array(pd.to_datetime(pd.Series(values), utc=True, format="ISO8601"), type=UTC_MICROS)
        except pd.errors.OutOfBoundsDatetime:  # beyond pandas' nanoseconds (older pandas): parse each value
            parsed = pa.array([_iso_utc(v, name) for v in values], type=UTC_MICROS)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"column '{name}' holds strings that are not ISO timestamps: {exc}") from exc
        return pa.chunked_array([parsed])
    raise InvalidRequest(
        f"column '{name}' must hold timestamps, but its type is {t} (convert it with pd.to_datetime(...))"
    )


def cast_to_declared(
    column: pa.ChunkedArray | pa.Array, declared: FeastType | pa.DataType, what: str
) -> pa.ChunkedArray:
    """Cast a fetched column to the feature's declared type, naming the feature when it cannot.

    Given a feature type (not only its Arrow type), the values are also put in canonical form
    (:func:`ladle.common.conform.conform`: UUID text, sets as sorted distinct lists).
    """
    if isinstance(declared, pa.DataType):
        return _cast(column, declared, what)
    if is_uuid(declared):  # 16-byte UUIDs are not text to cast: conform reads them
        return conform(column, declared, what)
    return conform(_cast(column, to_arrow(declared), what), declared, what)


def _cast(column: pa.ChunkedArray | pa.Array, target: pa.DataType, what: str) -> pa.ChunkedArray:
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    if column.type == target:
        return column
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        column = ensure_utc_micros(column, what)
        if column.type == target:
            return column
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


def align_to_source(source: DataSource, schema: pa.Schema, rows: pa.Table, what: str) -> pa.Table:
    """``rows`` (feature names, after ``field_mapping``) as ``source``'s raw columns of ``schema``, cast to
    their types: what an offline push appends. :class:`InvalidRequest` names a missing column or a value
    that does not fit, before anything is written."""
    renamed = rows.rename_columns([source.source_column(c) for c in rows.column_names])
    missing = [f.name for f in schema if f.name not in renamed.column_names]
    if missing:
        raise InvalidRequest(f"{what}: the rows lack column(s) {missing} of the offline source '{source.name}'")
    return pa.table(
        {f.name: cast_to_declared(renamed.column(f.name), f.type, f"{source.name}.{f.name}") for f in schema}
    )

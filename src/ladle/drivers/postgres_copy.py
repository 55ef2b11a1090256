"""Arrow columns as a PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` payload, built by Arrow in C.

Shared by the PostgreSQL online store (its batch upserts) and the offline store (``append``/``append_once``).
In COPY's CSV format an unquoted empty field is NULL and ``""`` an empty string, a backslash is an ordinary
character, and quoting follows CSV (Arrow quotes a field holding a comma, quote, newline or backslash).
:func:`copy_text` turns the values CSV cannot write as they are into the text PostgreSQL reads: ``\\x`` hex for
BYTEA, ``{...}`` literals for arrays, JSON text for JSON columns, UTC microseconds for timestamps.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["bytea_text", "copy_csv", "copy_csv_chunks", "copy_text"]

#: rows per CSV chunk written to COPY (bounds the payload held in memory at once)
CHUNK_ROWS = 100_000


def bytea_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Binary values as ``\\x<hex>`` text (nulls stay null), in bulk: one hex pass over the value buffer."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = pa.concat_arrays([column.cast(pa.binary())])  # offset 0, its own buffers
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=n + 1)
    data = column.buffers()[2]
    raw = b"" if data is None else data.to_pybytes()[offsets[0] : offsets[-1]]
    hexed = pa.StringArray.from_buffers(
        n, pa.py_buffer(((offsets - offsets[0]) * 2).astype(np.int32).tobytes()), pa.py_buffer(raw.hex().encode())
    )
    text = pc.binary_join_element_wise("\\x", hexed, "")
    return pc.if_else(column.is_valid(), text, pa.nulls(n, pa.string()))


def _utc_micros(column: pa.Array) -> pa.Array:
    """A timestamp column of any unit and zone as naive UTC microseconds (naive values are taken as UTC): Arrow
    writes naive timestamps about 15 times faster than zoned ones, and PostgreSQL reads them in the session's
    time zone, which COPY's writers set to UTC."""
    t = column.type
    if t.tz is not None:
        column = column.cast(pa.timestamp(t.unit, tz="UTC")).cast(pa.timestamp(t.unit))
    return column.cast(pa.timestamp("us"), safe=False)


def _element_text(values: pa.Array) -> pa.Array:
    """Array elements as double-quoted array-literal elements (``\\`` and ``"`` escaped), nulls as ``NULL``."""
    t = values.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        text = bytea_text(values)
    elif pa.types.is_timestamp(t):
        text = _utc_micros(values).cast(pa.string())
    else:
        text = values.cast(pa.string())
    escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.fill_null(quoted, "NULL")


def _array_text(column: pa.Array) -> pa.Array:
    """A list column as PostgreSQL array literals (``{"1","2",NULL}``, ``{}``), nulls staying null."""
    column = pa.concat_arrays([column])  # offset 0
    elements = _element_text(column.flatten())
    lists = pa.ListArray.from_arrays(column.offsets, elements, mask=column.is_null())
    joined = pc.binary_join(lists, ",")
    return pc.binary_join_element_wise("{", joined, "}", "")


def _json_text(column: pa.Array) -> pa.Array:
    """Maps, structs and lists bound for a JSON column as JSON text (one ``json.dumps`` per value)."""

    def plain(value: Any, t: pa.DataType) -> Any:
        if value is None:
            return None
        if pa.types.is_map(t):
            return {k: plain(v, t.item_type) for k, v in value}
        if pa.types.is_struct(t):
            return {f.name: plain(value[f.name], f.type) for f in t}
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return [plain(v, t.value_type) for v in value]
        return value

    t = column.type
    return pa.array(
        [None if v is None else json.dumps(plain(v, t), ensure_ascii=False) for v in column.to_pylist()], pa.string()
    )


def copy_text(column: pa.Array | pa.ChunkedArray, pg_type: str | None = None) -> pa.Array | pa.ChunkedArray:
    """``column`` as a column the CSV writer can write and PostgreSQL reads into a column of ``pg_type``
    (``format_type`` of pg_catalog, e.g. ``jsonb``, ``bigint[]``; ``None`` when unknown): binary as BYTEA hex,
    lists as array literals (as JSON text into a JSON column), maps and structs as JSON text, timestamps as
    naive UTC microseconds (the COPY must run in a session whose time zone is UTC); anything else unchanged."""
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([copy_text(c, pg_type) for c in column.chunks], _text_type(column.type, pg_type))
    t = column.type
    into_json = pg_type in ("json", "jsonb")
    if pa.types.is_timestamp(t):
        return _utc_micros(column)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return bytea_text(column)
    if (
        pa.types.is_map(t)
        or pa.types.is_struct(t)
        or (into_json and (pa.types.is_list(t) or pa.types.is_large_list(t)))
    ):
        return _json_text(column)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _array_text(column)
    return column


def _text_type(t: pa.DataType, pg_type: str | None) -> pa.DataType:
    """The type :func:`copy_text` turns a column of type ``t`` into."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us")
    nested = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t) or pa.types.is_struct(t)
    if nested or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.string()
    return t


def copy_csv(columns: list[pa.Array] | list[pa.ChunkedArray] | pa.Table) -> bytes:
    """The rows as PostgreSQL COPY CSV (an unquoted empty field is NULL, ``""`` an empty string), written in C.
    Columns must be of types the CSV writer handles (see :func:`copy_text`)."""
    table = columns if isinstance(columns, pa.Table) else pa.table({f"c{i}": c for i, c in enumerate(columns)})
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buffer.getvalue()


def copy_csv_chunks(table: pa.Table, rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """:func:`copy_csv` of ``table``, ``rows`` rows at a time."""
    for start in range(0, table.num_rows, rows):
        yield copy_csv(table.slice(start, rows))

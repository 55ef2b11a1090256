"""Arrow in and out of PostgreSQL without Python rows: ADBC's PostgreSQL driver (``adbc-driver-postgresql``).

The driver moves whole Arrow tables by binary ``COPY`` in both directions (``adbc_ingest`` writes a table,
``fetch_arrow_table`` reads a query's result), in C. :func:`connect` opens one connection with the session
settings the stores rely on; :func:`plain_columns` turns the driver's extension types (``uuid``, ``json``,
``numeric``) into the plain Arrow types the rest of ladle reads: canonical UUID text, JSON text, decimals.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.drivers.lazy_import import lazy_module

__all__ = ["adbc_available", "connect", "plain_column", "plain_columns"]

_dbapi = lazy_module("adbc_driver_postgresql.dbapi")
#: the first attribute read loads the lazily imported driver, which is not thread-safe before Python 3.12
_load_lock = threading.Lock()

#: the Arrow type PostgreSQL ``numeric`` values are read as (the driver hands them over as text)
NUMERIC = pa.decimal128(38, 18)


def adbc_available() -> bool:
    """Whether ``adbc-driver-postgresql`` can be imported."""
    return _dbapi is not None


def connect(conninfo: str, search_path: str | None = None) -> Any:
    """An ADBC DB-API connection (not autocommitting: always inside a transaction) to ``conninfo`` (libpq
    key=value or URL), its session in UTC and, when given, with ``search_path`` set to that schema then ``public``."""
    with _load_lock:
        open_connection = _dbapi.connect
    conn = open_connection(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            if search_path is not None:
                cur.execute(f"SET search_path TO {quote_ident(search_path)}, public")
        conn.commit()  # the settings outlive the transactions callers roll back
    except Exception:
        conn.close()
        raise
    return conn


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier.

    >>> quote_ident('we"ird')
    '"we""ird"'
    """
    return '"' + name.replace('"', '""') + '"'


def _uuid_text(storage: pa.Array) -> pa.Array:
    """16-byte UUIDs (``fixed_size_binary(16)``) as canonical lowercase hyphenated text, vectorised."""
    n = len(storage)
    raw = np.frombuffer(storage.buffers()[1], dtype=np.uint8, count=16 * (storage.offset + n))[16 * storage.offset :]
    hexed = pa.array(np.frombuffer(raw.tobytes().hex().encode(), dtype="S32"), pa.binary(32)).cast(pa.string())
    parts = [pc.utf8_slice_codeunits(hexed, a, b) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    text = pc.binary_join_element_wise(*parts, "-")
    return pc.if_else(storage.is_valid(), text, pa.nulls(n, pa.string()))


def plain_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``column`` with the driver's extension types replaced, nested lists included: ``uuid`` by its text,
    ``json`` by its text, ``numeric`` by ``decimal128(38, 18)`` (``float64`` when a value does not fit)."""
    if isinstance(column, pa.ChunkedArray):
        chunks = [plain_column(c) for c in column.chunks]
        types = {c.type for c in chunks}
        if len(types) > 1:  # a numeric chunk fell back to float64: all of them do
            chunks = [c.cast(pa.float64()) for c in chunks]
        return pa.chunked_array(chunks, chunks[0].type if chunks else plain_type(column.type))
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        storage = column.storage
        name = t.extension_name
        if name == "arrow.uuid":
            return _uuid_text(storage)
        if name == "arrow.opaque" and getattr(t, "type_name", "") == "numeric":
            try:
                return storage.cast(NUMERIC)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # NaN, or more digits than decimal128 holds
                return storage.cast(pa.float64())
        return storage  # arrow.json and any other: its text
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        values = plain_column(column.values)
        if values.type == t.value_type:
            return column
        cls = pa.ListArray if pa.types.is_list(t) else pa.LargeListArray
        return cls.from_arrays(column.offsets, values, mask=column.is_null())
    return column


def plain_type(t: pa.DataType) -> pa.DataType:
    """The type :func:`plain_column` turns a column of type ``t`` into (numeric as its decimal)."""
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return pa.string()
        if t.extension_name == "arrow.opaque" and getattr(t, "type_name", "") == "numeric":
            return NUMERIC
        return t.storage_type
    if pa.types.is_list(t):
        return pa.list_(plain_type(t.value_type))
    if pa.types.is_large_list(t):
        return pa.large_list(plain_type(t.value_type))
    return t


def plain_columns(table: pa.Table) -> pa.Table:
    """Every column of ``table`` through :func:`plain_column`."""
    return pa.table({name: plain_column(table.column(name)) for name in table.column_names})

"""Entity-key encoding shared by every online store: one string per entity key.

The format (version 1) is built from one *component* per join-key column:

* an integer (any width, signed or unsigned) is its decimal text: ``1004``, ``-7``;
* a string is ``'`` then its length in code points, ``:`` and the text: ``'5:alice``;
* bytes are ``0x`` then lowercase hex: ``0x00ff``;
* a float column is accepted when every value is integral, and encodes as the integer it equals
  (pandas turns an integer column with gaps into floats).

A single join key is its component (``1004``); several are their components joined with ``|`` in
join-key order (``1004|'5:alice``). Every component announces where it ends (digits and hex never hold
``|``; a string carries its length), and the three kinds start differently (digit or ``-``, ``'``, ``0x``),
so different keys never encode alike: ``1004`` (an int) and ``'4:1004`` (a string) are different keys, while
``int32 7`` and ``int64 7`` are the same key. A view without join keys encodes every row as ``""``. A row
with a null in any join key encodes as null (never stored, never found).

>>> import pyarrow as pa
>>> encode_keys(pa.table({"driver_id": [1004, 1005]})).to_pylist()
['1004', '1005']
>>> encode_keys(pa.table({"city": ["Zürich"], "zone": [3]})).to_pylist()
["'6:Zürich|3"]
>>> encode_key_row(("Zürich", 3))
"'6:Zürich|3"
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.errors import InvalidRequest

__all__ = ["encode_key_list", "encode_key_row", "encode_keys"]

#: below this many rows, keys are encoded value by value (Arrow kernels cost more to call than to run)
_SMALL = 32
_SMALL_INTS = 4096

_SEPARATOR = "|"
#: row ``b`` of this table is the two ASCII hex digits of the byte ``b``
_HEX_DIGITS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8).reshape(256, 2)


def encode_keys(keys: pa.Table) -> pa.Array:
    """One encoded key (a ``string`` array) per row of ``keys``, whose columns are the join keys in order.

    Raises :class:`~ladle.errors.InvalidRequest` for a column that is not integer, string or bytes (or
    integral floats).
    """
    if keys.num_columns == 0:
        return pa.array([""] * keys.num_rows, pa.string())
    parts = [_component(name, column) for name, column in zip(keys.column_names, keys.columns, strict=True)]
    out = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _SEPARATOR)
    if isinstance(out, pa.ChunkedArray):
        out = out.chunk(0) if out.num_chunks == 1 else out.combine_chunks()
    return out


def encode_key_list(keys: pa.Table) -> list[str | None]:
    """:func:`encode_keys` as a Python list, computed row by row for a handful of keys (online reads)."""
    if keys.num_columns == 1 and pa.types.is_integer(keys.column(0).type) and keys.num_rows < _SMALL_INTS:
        values = keys.column(0).to_pylist()  # the common case, cheaply
        return [None if v is None else str(v) for v in values] if keys.column(0).null_count else [*map(str, values)]
    if keys.num_rows >= _SMALL or keys.num_columns == 0:
        out: list[str | None] = encode_keys(keys).to_pylist()
        return out
    for column in keys.columns:
        t = column.type
        if not (
            pa.types.is_integer(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or pa.types.is_null(t)
        ):
            # floats (integral or not), dictionaries and unsupported types take the column-wide path and its errors
            return list(encode_keys(keys).to_pylist())
    return [encode_key_row(row) for row in zip(*(c.to_pylist() for c in keys.columns), strict=True)]


def encode_key_row(values: tuple[Any, ...]) -> str | None:
    """The encoding of one key given as Python values (same result as :func:`encode_keys` on that row).

    >>> encode_key_row((1004,))
    '1004'
    """
    parts = [_row_component(v) for v in values]
    if any(p is None for p in parts):
        return None
    return _SEPARATOR.join(p for p in parts if p is not None)


def _component(name: str, column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    t = column.type
    if pa.types.is_dictionary(t):
        return _component(name, column.cast(t.value_type))
    if pa.types.is_integer(t):
        return pc.cast(column, pa.string())
    if pa.types.is_floating(t):
        try:
            whole = pc.cast(column, pa.int64())
        except pa.ArrowInvalid as exc:
            raise InvalidRequest(
                f"join key column '{name}' holds a non-integral float; entity keys are integers, strings or bytes"
            ) from exc
        return pc.cast(whole, pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        text = pc.cast(column, pa.string())
        return pc.binary_join_element_wise("'", pc.cast(pc.utf8_length(text), pa.string()), ":", text, "")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pc.binary_join_element_wise("0x", _hex(column), "")
    if pa.types.is_null(t):
        return pa.nulls(len(column), pa.string())
    raise InvalidRequest(f"join key column '{name}' has type {t}; entity keys must be integers, strings or bytes")


def _hex(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lowercase hex text of each binary value, computed over the whole data buffer at once."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    arr = arr.cast(pa.binary())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[arr.offset : arr.offset + len(arr) + 1]
    if len(offsets) == 0:
        return pa.array([], pa.string())
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    digits = _HEX_DIGITS[data[offsets[0] : offsets[-1]]].reshape(-1)
    new_offsets = ((offsets - offsets[0]) * 2).astype(np.int32)
    out = pa.StringArray.from_buffers(len(arr), pa.py_buffer(new_offsets), pa.py_buffer(digits))
    if arr.null_count:
        out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.string()))
    return out


def _row_component(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        raise InvalidRequest(f"join key value {value!r} is a boolean; entity keys must be integers, strings or bytes")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise InvalidRequest(f"join key value {value!r} is a non-integral float")
        return str(int(value))
    if isinstance(value, str):
        return f"'{len(value)}:{value}"
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    raise InvalidRequest(
        f"join key value {value!r} has type {type(value).__name__}; entity keys must be integers, strings or bytes"
    )

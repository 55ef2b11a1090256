"""Entity-key encoding shared by every online store.

A key is the text of its join-key values: a single key column is the value's text (``1001`` or
``alice``); several columns are each written as ``<length>:<text>`` and joined with ``|``, so no two
different keys can encode the same. Integers of any width encode alike (``int32 7`` == ``int64 7``), so
keys typed by the caller and by the source agree. Binary keys are hex-encoded. Null keys encode as null
and are never found.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["encode_key_row", "encode_keys"]


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    t = column.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return column.cast(pa.string())
    if pa.types.is_dictionary(t):
        return _as_text(column.cast(t.value_type))
    return pc.cast(column, pa.string())


def encode_keys(keys: pa.Table) -> pa.Array:
    """One string per row of ``keys`` (its join-key columns, in join-key order)."""
    if keys.num_columns == 0:
        return pa.array([""] * keys.num_rows, pa.string())
    texts = [_as_text(c) for c in keys.columns]
    if len(texts) == 1:
        out = texts[0]
    else:
        parts = []
        for t in texts:
            parts.append(pc.binary_join_element_wise(pc.cast(pc.utf8_length(t), pa.string()), t, ":"))
        out = pc.binary_join_element_wise(*parts, "|")
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    return out


def encode_key_row(values: tuple[Any, ...]) -> str | None:
    """The encoding of one key (same result as :func:`encode_keys` for one row)."""
    table = pa.table({str(i): pa.array([v]) for i, v in enumerate(values)})
    result: str | None = encode_keys(table)[0].as_py()
    return result

"""Values made to fit their declared feature type: canonical UUID text, sets as sorted distinct lists.

Arrow carries a ``Uuid`` as a string and a ``Set(T)`` as a ``list<T>``, so the type alone does not say
that a value is canonical: :func:`conform` makes it so, given the declared type, whole columns at a time.
Every path that brings values in (offline reads, push, ``write_to_online_store``, on-demand outputs) goes
through it, so a set written as ``{"b", "a", "b"}`` is served as ``["a", "b"]`` from every store.

:func:`plain_python` (used by :mod:`ladle.common.frames`) takes Python objects Arrow does not build arrays from
(``uuid.UUID``, ``set``, ``frozenset``) as the values they stand for.

>>> import pyarrow as pa
>>> from ladle.types import Set, String
>>> conform(pa.array([["b", "a", "b"], None, []], pa.list_(pa.string())), Set(String), "v:tags").to_pylist()
[['a', 'b'], None, []]
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.errors import InvalidRequest
from ladle.types import Array, FeastType, PrimitiveFeastType, Set, TimeUuid, is_uuid

__all__ = ["conform", "conform_keys", "needs_conform", "plain_python"]

_UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_TIME_UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: row ``b`` is the two ASCII hex digits of the byte ``b``
_HEX = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8).reshape(256, 2)
#: where the hex digits of byte i go in the 36 characters of a UUID's text (hyphens at 8, 13, 18, 23)
_DIGIT_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def needs_conform(dtype: FeastType) -> bool:
    """Whether values of ``dtype`` have a canonical form beyond their Arrow type."""
    if isinstance(dtype, Set):
        return True
    if isinstance(dtype, Array):
        return needs_conform(dtype.base_type)
    return is_uuid(dtype)


def conform(column: pa.ChunkedArray | pa.Array, dtype: FeastType, what: str) -> pa.ChunkedArray:
    """``column`` (already of ``to_arrow(dtype)``, or UUIDs as 16-byte binary) in canonical form.

    UUIDs become lowercase hyphenated text; sets become their distinct values in ascending order (nulls
    last, a null kept once); arrays are conformed element by element. Raises
    :class:`~ladle.errors.InvalidRequest` naming ``what`` for text that is not a UUID (or, for ``TimeUuid``,
    not a version-1 UUID).
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if needs_conform(dtype):
        arr = _conform_array(arr, dtype, what)
    return pa.chunked_array([arr], type=arr.type)


class TypedColumn(Protocol):
    """A column name and its declared type (a :class:`~ladle.definitions.Field`; common/ sits below definitions/)."""

    @property
    def name(self) -> str: ...

    @property
    def dtype(self) -> FeastType: ...


def conform_keys(table: pa.Table, keys: Sequence[TypedColumn]) -> pa.Table:
    """``table`` with its join-key columns of ``keys`` conformed (a Uuid key is its canonical text)."""
    for f in keys:
        if f.name in table.column_names and needs_conform(f.dtype):
            index = table.schema.get_field_index(f.name)
            table = table.set_column(index, f.name, conform(table.column(f.name), f.dtype, f"join key '{f.name}'"))
    return table


def _conform_array(arr: pa.Array, dtype: FeastType, what: str) -> pa.Array:
    if isinstance(dtype, PrimitiveFeastType):
        return _uuids(arr, dtype, what)
    inner = arr.flatten()
    base = dtype.base_type  # type: ignore[union-attr]
    if needs_conform(base):
        inner = _conform_array(inner, base, what)
    if isinstance(dtype, Set):
        return _distinct_sorted(arr, inner)
    return _rebuild(arr, inner, pc.list_value_length(arr).fill_null(0))


def _rebuild(lists: pa.Array, values: pa.Array, lengths: pa.Array) -> pa.Array:
    """A list array with the nulls of ``lists``, whose i-th list is the next ``lengths[i]`` of ``values``."""
    offsets = np.zeros(len(lists) + 1, np.int32)
    np.cumsum(lengths.to_numpy(zero_copy_only=False), out=offsets[1:])
    mask = lists.is_null() if lists.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)


def _distinct_sorted(lists: pa.Array, values: pa.Array) -> pa.Array:
    """Each list of ``lists`` (whose flattened elements are ``values``) as its distinct values, ascending."""
    parents = pc.list_parent_indices(lists)
    # nulls (and NaN) sort last by default
    order = pc.sort_indices(pa.table({"p": parents, "v": values}), sort_keys=[("p", "ascending"), ("v", "ascending")])
    parents, values = parents.take(order), values.take(order)
    n = len(values)
    keep = np.ones(n, bool)
    if n > 1:
        same_parent = pc.equal(parents[1:], parents[:-1])
        equal = pc.fill_null(pc.equal(values[1:], values[:-1]), False)
        both_null = pc.and_(values[1:].is_null(), values[:-1].is_null())
        repeat = pc.or_(equal, both_null)
        if pa.types.is_floating(values.type):
            repeat = pc.or_(repeat, pc.fill_null(pc.and_(pc.is_nan(values[1:]), pc.is_nan(values[:-1])), False))
        keep[1:] = ~pc.and_(same_parent, repeat).to_numpy(zero_copy_only=False)
    kept = pa.array(keep)
    lengths = np.bincount(parents.filter(kept).to_numpy(zero_copy_only=False), minlength=len(lists))
    return _rebuild(lists, values.filter(kept), pa.array(lengths))


def _uuids(arr: pa.Array, dtype: PrimitiveFeastType, what: str) -> pa.Array:
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    if pa.types.is_fixed_size_binary(arr.type) and arr.type.byte_width == 16:
        arr = _uuid_bytes_as_text(arr)
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    text = pc.utf8_lower(arr)
    pattern = _TIME_UUID_TEXT if dtype == TimeUuid else _UUID_TEXT
    bad = pc.invert(pc.match_substring_regex(text, pattern)).fill_null(False)
    if pc.any(bad).as_py():
        sample = arr.filter(bad)[0].as_py()
        kind = "a version-1 (time-based) UUID" if dtype == TimeUuid else "a UUID"
        raise InvalidRequest(
            f"'{what}' is declared {dtype!r}, but {sample!r} is not {kind}: write UUIDs as uuid.UUID objects "
            "or as text like '0f8fad5b-d9cb-469f-a165-70867728950e'"
        )
    return text


def _uuid_bytes_as_text(arr: pa.Array) -> pa.Array:
    """16-byte UUIDs (as parquet's UUID type holds them) as their canonical text."""
    n = len(arr)
    raw = np.frombuffer(arr.buffers()[1], np.uint8)[arr.offset * 16 : (arr.offset + n) * 16].reshape(n, 16)
    chars = np.full((n, 36), ord("-"), np.uint8)
    chars[:, _DIGIT_AT] = _HEX[raw].reshape(n, 32)
    offsets = pa.py_buffer(np.arange(0, 36 * n + 1, 36, dtype=np.int32))
    out = pa.StringArray.from_buffers(n, offsets, pa.py_buffer(chars.tobytes()))
    return pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.string())) if arr.null_count else out


def plain_python(value: Any) -> Any:
    """``value`` with UUIDs as their text and sets as sorted lists, at any depth (for Arrow to read)."""
    if isinstance(value, uuid.UUID):
        return str(value)  # canonical: lowercase, hyphenated
    if isinstance(value, set | frozenset):
        items = [plain_python(v) for v in value]
        try:
            return sorted(items, key=lambda v: (v is None, v))
        except TypeError:  # values that do not compare: the order is set by conform() later
            return items
    if isinstance(value, list | tuple):
        return [plain_python(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_python(v) for k, v in value.items()}
    return value

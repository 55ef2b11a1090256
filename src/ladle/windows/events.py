"""Raw events as the online window state keeps them: per event an entity key, a time and a payload.

The payload holds the values of the columns a view aggregates, in one byte string per event, laid out by
the view's :class:`EventLayout`: first a fixed part (per number, boolean or timestamp column one validity
byte and 8 little-endian bytes), then a variable part (per text, bytes or other column a 4-byte length,
``0xFFFFFFFF`` for null, and the value: UTF-8, raw bytes, or :mod:`ladle.online.value_bytes`). A layout of
fixed columns only — the common case: amounts, counts — encodes and decodes a whole batch with numpy.

Two events of one key with the same time and the same payload are the same event (a replay): the event id
is a 16-byte BLAKE2b digest of the time and the payload, and every state backend keeps an id once.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.times import UTC_US as _UTC_US
from ladle.errors import InvalidRequest
from ladle.online.value_bytes import decode_column, encode_column

__all__ = ["EventBatch", "EventLayout", "FetchedEvents", "event_ids"]

_NULL_LENGTH = 0xFFFFFFFF
_LENGTH = np.dtype("<u4")


def _fixed_kind(t: pa.DataType) -> str | None:
    """``int``/``float`` for a type kept in 8 fixed bytes, else None."""
    if pa.types.is_integer(t) or pa.types.is_timestamp(t) or pa.types.is_boolean(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    return None


def normalized_type(t: pa.DataType) -> pa.DataType:
    """The type a column is kept as: integers as int64, floats as float64, timestamps as UTC micros,
    large text/bytes as their plain types; anything else as it is."""
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_timestamp(t):
        return _UTC_US
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    return t


@dataclass(frozen=True)
class EventLayout:
    """The aggregated columns of a view and the type each is kept as, in payload order."""

    columns: tuple[tuple[str, pa.DataType], ...]

    @functools.cached_property
    def fixed(self) -> list[tuple[str, pa.DataType]]:
        return [(n, t) for n, t in self.columns if _fixed_kind(t) is not None]

    @functools.cached_property
    def variable(self) -> list[tuple[str, pa.DataType]]:
        return [(n, t) for n, t in self.columns if _fixed_kind(t) is None]

    @functools.cached_property
    def fixed_dtype(self) -> np.dtype:
        fields: list[tuple[str, str]] = []
        for i, (_, t) in enumerate(self.fixed):
            fields += [(f"v{i}", "u1"), (f"x{i}", "<f8" if _fixed_kind(t) == "float" else "<i8")]
        return np.dtype(fields)

    def fingerprint(self) -> str:
        """A short text that changes when the layout does (part of where state is kept)."""
        text = ";".join(f"{n}:{t}" for n, t in self.columns)
        return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()

    def encode(self, columns: dict[str, pa.Array]) -> list[bytes]:
        """One payload per row of ``columns`` (each already of its layout type)."""
        n = len(next(iter(columns.values()))) if columns else 0
        fixed = self.fixed
        if fixed:
            records = np.zeros(n, self.fixed_dtype)
            for i, (name, t) in enumerate(fixed):
                col = columns[name]
                records[f"v{i}"] = col.is_valid().to_numpy(zero_copy_only=False)
                numbers = col.cast(pa.int64()) if pa.types.is_timestamp(t) or pa.types.is_boolean(t) else col
                target = "f8" if _fixed_kind(t) == "float" else "i8"
                records[f"x{i}"] = numbers.fill_null(0).to_numpy(zero_copy_only=False).astype(target)
            raw = records.tobytes()
            width = self.fixed_dtype.itemsize
            out = [raw[i : i + width] for i in range(0, n * width, width)]
        else:
            out = [b""] * n
        for name, t in self.variable:
            values = _encode_variable(columns[name], t)
            out = [p + v for p, v in zip(out, values, strict=True)]
        return out

    def decode(self, payloads: Sequence[bytes]) -> dict[str, pa.Array]:
        """Inverse of :meth:`encode`: one array per column (its layout type)."""
        return self.arrays(*self.decode_raw(payloads))

    def arrays(
        self, fixed: dict[str, tuple[np.ndarray, np.ndarray]], variable: dict[str, pa.Array]
    ) -> dict[str, pa.Array]:
        """The columns of :meth:`decode_raw`'s answer as Arrow arrays of their layout types."""
        out: dict[str, pa.Array] = {}
        for name, t in self.columns:
            if name in variable:
                out[name] = variable[name]
                continue
            valid, values = fixed[name]
            mask = ~valid
            if pa.types.is_boolean(t):
                out[name] = pa.array(values != 0, pa.bool_(), mask=mask)
            elif pa.types.is_timestamp(t):
                out[name] = pa.array(values, pa.int64(), mask=mask).cast(t)
            else:
                out[name] = pa.array(values, t, mask=mask)
        return out

    def decode_raw(
        self, payloads: Sequence[bytes]
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, pa.Array]]:
        """:meth:`decode` without Arrow for the fixed columns: ``(validity, int64 or float64 values)`` each
        (booleans and timestamps as int64), and the variable columns as Arrow arrays."""
        fixed, variable = self.fixed, self.variable
        width = self.fixed_dtype.itemsize if fixed else 0
        numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if fixed:
            joined = b"".join(payloads) if not variable else b"".join(p[:width] for p in payloads)
            records = np.frombuffer(joined, self.fixed_dtype)
            for i, (name, _) in enumerate(fixed):
                numbers[name] = (records[f"v{i}"] != 0, records[f"x{i}"])
        others: dict[str, pa.Array] = {}
        if variable:
            cells = _split_variable([p[width:] for p in payloads], len(variable))
            for j, (name, t) in enumerate(variable):
                others[name] = _decode_variable([row[j] for row in cells], t)
        return numbers, others


def _encode_variable(column: pa.Array, t: pa.DataType) -> list[bytes]:
    if pa.types.is_string(t):
        values = [None if v is None else v.encode() for v in column.to_pylist()]
    elif pa.types.is_binary(t):
        values = column.to_pylist()
    else:
        values = [v or None for v in encode_column(column)]
    return [_NULL_LENGTH.to_bytes(4, "little") if v is None else len(v).to_bytes(4, "little") + v for v in values]


def _split_variable(rest: list[bytes], count: int) -> list[list[bytes | None]]:
    rows = []
    for data in rest:
        cells: list[bytes | None] = []
        at = 0
        for _ in range(count):
            size = int.from_bytes(data[at : at + 4], "little")
            at += 4
            if size == _NULL_LENGTH:
                cells.append(None)
            else:
                cells.append(data[at : at + size])
                at += size
        rows.append(cells)
    return rows


def _decode_variable(values: list[bytes | None], t: pa.DataType) -> pa.Array:
    if pa.types.is_string(t):
        return pa.array([None if v is None else v.decode() for v in values], t)
    if pa.types.is_binary(t):
        return pa.array(values, t)
    return decode_column(values, t)


def event_ids(ts: np.ndarray, payloads: Sequence[bytes]) -> list[bytes]:
    """The 16-byte id of each event: a digest of its time (UTC micros) and payload."""
    stamps = ts.astype("<i8").tobytes()
    return [hashlib.blake2b(stamps[i * 8 : i * 8 + 8] + p, digest_size=16).digest() for i, p in enumerate(payloads)]


@dataclass(frozen=True)
class EventBatch:
    """Events to add to a view's state: ``keys[i]`` (encoded entity key), ``ts[i]`` (UTC micros),
    ``ids[i]`` (:func:`event_ids`) and ``payloads[i]`` (:meth:`EventLayout.encode`)."""

    keys: list[str]
    ts: np.ndarray
    ids: list[bytes]
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.keys)


class FetchedEvents:
    """Events read back from a view's state: ``key_index[i]`` is the position of the event's key in the
    keys asked for; ``ts`` in UTC micros; the payloads packed in one byte string, payload ``i`` being
    ``blob[starts[i] : starts[i] + lengths[i]]`` (so a backend hands over one buffer, not an object per event)."""

    def __init__(
        self, key_index: np.ndarray, ts: np.ndarray, blob: bytes, starts: np.ndarray, lengths: np.ndarray
    ) -> None:
        self.key_index, self.ts, self.blob, self.starts, self.lengths = key_index, ts, blob, starts, lengths

    @classmethod
    def of_payloads(cls, key_index: np.ndarray, ts: np.ndarray, payloads: Sequence[bytes]) -> FetchedEvents:
        """Events whose payloads come one object each."""
        lengths = np.fromiter(map(len, payloads), np.int64, len(payloads))
        starts = np.zeros(len(payloads), np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return cls(key_index, ts, b"".join(payloads), starts, lengths)

    @classmethod
    def empty(cls) -> FetchedEvents:
        none = np.zeros(0, np.int64)
        return cls(none, none, b"", none, none)

    def __len__(self) -> int:
        return len(self.key_index)

    @property
    def payloads(self) -> list[bytes]:
        blob = self.blob
        return [blob[s : s + n] for s, n in zip(self.starts.tolist(), self.lengths.tolist(), strict=True)]

    def decode_raw(self, layout: EventLayout) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, pa.Array]]:
        """The payloads decoded as :meth:`EventLayout.decode_raw` does, the fixed part with numpy only."""
        fixed, variable = layout.fixed, layout.variable
        if not fixed or len(self) == 0:
            return layout.decode_raw(self.payloads)
        width = layout.fixed_dtype.itemsize
        n = len(self)
        if not variable and int(self.starts[0]) == 0 and np.all(self.starts == np.arange(n) * width):
            records = np.frombuffer(self.blob, layout.fixed_dtype, n)
        else:  # gather each payload's fixed part
            buffer = np.frombuffer(self.blob, np.uint8)
            records = buffer[self.starts[:, None] + np.arange(width)].view(layout.fixed_dtype).reshape(n)
        numbers = {name: (records[f"v{i}"] != 0, records[f"x{i}"]) for i, (name, _) in enumerate(fixed)}
        others: dict[str, pa.Array] = {}
        if variable:
            blob = self.blob
            rest = [
                blob[s + width : s + size] for s, size in zip(self.starts.tolist(), self.lengths.tolist(), strict=True)
            ]
            cells = _split_variable(rest, len(variable))
            for j, (name, t) in enumerate(variable):
                others[name] = _decode_variable([row[j] for row in cells], t)
        return numbers, others


def cast_column(column: pa.ChunkedArray | pa.Array, target: pa.DataType, what: str) -> pa.Array:
    """``column`` as ``target`` (its layout type), or an :class:`InvalidRequest` naming ``what``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.type == target:
        return column
    try:
        if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
            if column.type.tz is None:
                column = pc.assume_timezone(column, "UTC")
            return column.cast(target, safe=False)
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidRequest(f"{what} is kept as {target}, but the values are {column.type}: {exc}") from exc

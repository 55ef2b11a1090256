"""The one conversion from what an online store fetched to the table :meth:`OnlineStore.read` returns.

A store fetches, per requested key and in the keys' order, either nothing (the key is not stored) or a
row ``(event_us, value, ...)``: the event timestamp in UTC microseconds (an integer or its text) and one
stored value per requested feature (or the same as columns). :func:`result_table` turns those rows into the features' declared Arrow
types with the store's own value decoder, and ``event_ts`` (null for a key not stored).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa

from ladle.common.times import from_micros
from ladle.definitions import FeatureView
from ladle.errors import FeatureNotFound
from ladle.online.base import EVENT_TS
from ladle.types import to_arrow

__all__ = [
    "Decode",
    "Fetched",
    "PyDecode",
    "columns_table",
    "declared_types",
    "in_key_order",
    "result_table",
    "row_columns",
]

#: a store's decoder: the values it fetched for one feature (``None`` where absent) -> an array of the type
Decode = Callable[[Sequence[Any], pa.DataType], pa.Array]
#: a store's decoder of one fetched column (``None`` where absent) to the Python values its :data:`Decode` array
#: would hold (a new list)
PyDecode = Callable[[Sequence[Any]], list[Any]]
K = TypeVar("K", bound=Hashable)


def declared_types(project: str, view: FeatureView, features: Sequence[str]) -> list[pa.DataType]:
    """The declared Arrow type of each of ``features``; :class:`~ladle.errors.FeatureNotFound` for an unknown one."""
    by_name = {f.name: f for f in view.features}
    unknown = [f for f in features if f not in by_name]
    if unknown:
        raise FeatureNotFound(view.name, unknown[0], project, list(by_name))
    return [to_arrow(by_name[f].dtype) for f in features]


def in_key_order(wanted: Sequence[K | None], found: Mapping[K, Sequence[Any]]) -> list[Sequence[Any] | None]:
    """The fetched row of each wanted key, in order (``None`` for a null or absent key; duplicates repeat)."""
    return [None if k is None else found.get(k) for k in wanted]


def row_columns(rows: Sequence[Sequence[Any] | None], width: int) -> list[Sequence[Any]]:
    """``rows`` (one per key: ``None`` or ``width`` values) as ``width`` columns, ``None`` where a row is."""
    missing = (None,) * width
    return list(zip(*[missing if r is None else r for r in rows], strict=True)) if rows else [()] * width


def result_table(
    features: Sequence[str],
    types: Sequence[pa.DataType],
    rows: Sequence[Sequence[Any] | None],
    decode: Decode | Sequence[Decode],
) -> pa.Table:
    """``rows`` (one per key: ``None`` or ``(event_us, value per feature)``) as the read's result table.

    ``decode`` is one decoder for every feature, or one per feature.
    """
    return columns_table(features, types, row_columns(rows, len(features) + 1), decode)


def columns_table(
    features: Sequence[str],
    types: Sequence[pa.DataType],
    columns: Sequence[Sequence[Any]],
    decode: Decode | Sequence[Decode],
) -> pa.Table:
    """:func:`result_table` from the fetched values as columns: ``event_us`` per key, then one per feature."""
    decoders = [decode] * len(features) if callable(decode) else list(decode)
    arrays = [d(columns[i + 1], t) for i, (d, t) in enumerate(zip(decoders, types, strict=True))]
    return pa.Table.from_arrays([*arrays, from_micros(columns[0])], names=[*features, EVENT_TS])


@dataclass(frozen=True)
class Fetched:
    """What a store fetched for one read, not yet decoded: :func:`columns_table`'s arguments (``columns``:
    the event timestamps, then one column per feature, one entry per key, ``None`` where absent), and per
    feature a Python decoder (``python``; ``None`` when some feature's type has none) for callers that skip
    Arrow on small batches. ``python[i](column)`` is ``table()``'s feature column as Python values."""

    features: Sequence[str]
    types: Sequence[pa.DataType]
    columns: Sequence[Sequence[Any]]
    decode: Decode | Sequence[Decode]
    python: Sequence[PyDecode] | None = None

    @classmethod
    def of_rows(
        cls,
        features: Sequence[str],
        types: Sequence[pa.DataType],
        rows: Sequence[Sequence[Any] | None],
        decode: Decode | Sequence[Decode],
        python: Sequence[PyDecode] | None = None,
    ) -> Fetched:
        """The fetched values given as rows (one per key: ``None`` or ``(event_us, value per feature)``)."""
        return cls(features, types, row_columns(rows, len(features) + 1), decode, python)

    def table(self) -> pa.Table:
        """The read's result table (as :meth:`OnlineStore.read` returns it)."""
        return columns_table(self.features, self.types, self.columns, self.decode)

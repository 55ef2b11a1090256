"""The one write-preparation step every online store runs before its own write.

:func:`prepare_rows` checks the rows (every column present, no null join key or event timestamp), encodes
the entity keys (:mod:`ladle.online.entity_key`), keeps the newest row per key (:mod:`ladle.online.newer_wins`),
turns the stamps into UTC microseconds and casts each feature to its declared type. A store then only turns
the result into its wire format and writes it with the newer-wins condition.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.times import to_micros
from ladle.definitions import FeatureView
from ladle.errors import InvalidRequest
from ladle.online.base import CREATED_TS, EVENT_TS
from ladle.online.entity_key import encode_keys
from ladle.online.newer_wins import latest_per_key
from ladle.types import to_arrow

__all__ = ["PreparedRows", "prepare_rows"]

_KEY = "__ladle_key"


@dataclass(frozen=True)
class PreparedRows:
    """Rows ready to store: one per entity key (the newest), all arrays of the same length.

    ``keys`` are the encoded entity keys (``string``, never null), ``event_us``/``created_us`` the stamps in
    UTC microseconds (``int64``; ``created_us`` null where the row has none) and ``features`` one array per
    feature of the view, in declaration order, of its declared Arrow type. ``given`` is how many rows the
    caller passed (what :meth:`~ladle.online.base.OnlineStore.write` returns).
    """

    names: list[str]
    keys: pa.Array
    event_us: pa.Array
    created_us: pa.Array
    features: list[pa.Array]
    given: int

    def __len__(self) -> int:
        return len(self.keys)

    def sorted_by_key(self) -> PreparedRows:
        """The same rows in ``keys`` order (one lock order for concurrent writers)."""
        order = pc.sort_indices(self.keys)
        return replace(
            self,
            keys=self.keys.take(order),
            event_us=self.event_us.take(order),
            created_us=self.created_us.take(order),
            features=[f.take(order) for f in self.features],
        )


def prepare_rows(view: FeatureView, rows: pa.Table) -> PreparedRows:
    """``rows`` (join keys, features, ``event_ts``, optional ``created_ts``) prepared for ``view``'s storage.

    Raises :class:`~ladle.errors.InvalidRequest` naming the view for a missing column, a null join key or
    event timestamp, or a feature that does not convert to its declared type.
    """
    missing = [c for c in [*view.join_keys, EVENT_TS, *(f.name for f in view.features)] if c not in rows.column_names]
    if missing:
        raise InvalidRequest(f"rows written to feature view '{view.name}' lack column(s) {missing}")
    keys = encode_keys(rows.select(view.join_keys))
    if keys.null_count:
        raise InvalidRequest(
            f"{keys.null_count} row(s) written to feature view '{view.name}' have a null join key (drop those rows first)"
        )
    if rows.column(EVENT_TS).null_count:
        raise InvalidRequest(
            f"{rows.column(EVENT_TS).null_count} row(s) written to feature view '{view.name}' have a null event "
            "timestamp (drop those rows first)"
        )
    # the key columns tell keys apart as their encoding does, and integers are cheaper to compare than text
    latest = latest_per_key(rows.append_column(_KEY, keys), list(view.join_keys))
    n = latest.num_rows
    created = to_micros(latest.column(CREATED_TS)) if CREATED_TS in latest.column_names else pa.nulls(n, pa.int64())
    return PreparedRows(
        names=[f.name for f in view.features],
        keys=latest.column(_KEY).combine_chunks(),
        event_us=to_micros(latest.column(EVENT_TS)),
        created_us=created,
        features=[_declared(view, f.name, latest.column(f.name), to_arrow(f.dtype)) for f in view.features],
        given=rows.num_rows,
    )


def _declared(view: FeatureView, name: str, column: pa.ChunkedArray, target: pa.DataType) -> pa.Array:
    """``column`` as one array of the feature's declared type."""
    arr = column.combine_chunks()
    if arr.type == target:
        return arr
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidRequest(
            f"feature '{name}' of view '{view.name}' is {arr.type}, which does not convert to its declared "
            f"type {target}: {exc}"
        ) from exc

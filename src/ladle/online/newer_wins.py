"""The newer-wins rule, in one place for every online store.

A row is stamped ``(event_ts, created_ts)``; stamps compare as tuples, and a null ``created_ts`` counts as
older than any value. A stored row is replaced by a row whose stamp is *not older* (an equal stamp: the
later write wins); inside one batch, the row with the largest stamp per key wins, and among exact ties the
last one in the batch.

>>> is_newer(2, None, 1, 5)
True
>>> is_not_older(1, None, 1, None), is_not_older(1, None, 1, 5)
(True, False)
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.times import to_micros
from ladle.online.base import CREATED_TS, EVENT_TS

__all__ = ["is_newer", "is_not_older", "latest_per_key", "sql_not_older"]

#: a timestamp as a datetime or as integer microseconds (both stamps of one call use the same kind)
Stamp = TypeVar("Stamp", datetime, int)

#: the value a null timestamp compares as (micros): older than every real one
_OLDEST = np.iinfo(np.int64).min


def is_newer(event: Stamp, created: Stamp | None, than_event: Stamp, than_created: Stamp | None) -> bool:
    """True when the stamp ``(event, created)`` is strictly newer than ``(than_event, than_created)``."""
    if event != than_event:
        return event > than_event
    if created is None:
        return False
    return than_created is None or created > than_created


def is_not_older(new_event: Stamp, new_created: Stamp | None, old_event: Stamp, old_created: Stamp | None) -> bool:
    """True when a row stamped ``(new_event, new_created)`` may replace a stored ``(old_event, old_created)``."""
    return not is_newer(old_event, old_created, new_event, new_created)


def sql_not_older(new: str, old: str) -> str:
    """SQL condition: the row ``new`` (e.g. ``excluded``) is not older than the row ``old`` (a table name).

    Both rows have integer (or timestamp) ``event_ts`` (not null) and ``created_ts`` (nullable) columns;
    ``old`` is inserted as written, so quote it if it needs quoting. Standard SQL (SQLite, PostgreSQL).

    >>> print(sql_not_older("excluded", "t"))
    (excluded.event_ts > t.event_ts OR (excluded.event_ts = t.event_ts AND
     (t.created_ts IS NULL OR excluded.created_ts >= t.created_ts)))
    """
    e, c = EVENT_TS, CREATED_TS
    return f"({new}.{e} > {old}.{e} OR ({new}.{e} = {old}.{e} AND\n ({old}.{c} IS NULL OR {new}.{c} >= {old}.{c})))"


def latest_per_key(rows: pa.Table, key_columns: list[str]) -> pa.Table:
    """The rows of ``rows`` that win the newer-wins rule: one per distinct ``key_columns`` value.

    ``rows`` has ``event_ts`` and may have ``created_ts`` (timestamps). Kept rows stay in their original
    order. Null key values form a key of their own. Costs one dictionary encoding per key column and, only
    when some key repeats, one sort.
    """
    n = rows.num_rows
    if n <= 1:
        return rows
    codes = []
    for name in key_columns:
        encoded = pc.dictionary_encode(rows.column(name).combine_chunks(), null_encoding="encode")
        if len(encoded.dictionary) == n:
            return rows  # this column alone tells every row apart: nothing repeats
        codes.append(encoded.indices.to_numpy(zero_copy_only=False))
    event = _micros(rows.column(EVENT_TS))
    created = _micros(rows.column(CREATED_TS)) if CREATED_TS in rows.column_names else np.full(n, _OLDEST)
    # np.lexsort sorts by its last key first: key, then event, then created, then position
    order = np.lexsort((np.arange(n), created, event, *reversed(codes)))
    same_key_as_next = np.ones(n - 1, dtype=bool)
    for c in codes:
        sorted_codes = c[order]
        same_key_as_next &= sorted_codes[1:] == sorted_codes[:-1]
    last_of_key = np.append(~same_key_as_next, True)
    keep = np.sort(order[last_of_key])
    return rows.take(pa.array(keep))


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Integer microseconds (nulls as the oldest value) of a timestamp column."""
    values = pc.fill_null(to_micros(column), _OLDEST)
    return np.asarray(values.to_numpy(), dtype=np.int64)

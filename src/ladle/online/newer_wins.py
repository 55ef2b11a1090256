"""The newer-wins rule, in one place for every online store.

A row is *newer* than another when its ``(event_ts, created_ts)`` is larger; a null created timestamp
counts as the oldest. A stored row is replaced by a row that is not older (equal rows: the later write
wins); inside one batch, the newest row per key wins, and among exact ties the last one in the batch.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from ladle.online.base import CREATED_TS, EVENT_TS

__all__ = ["NULL_CREATED", "is_not_older", "latest_per_key", "sql_not_older"]

#: the value a null created timestamp compares as (micros)
NULL_CREATED = -(2**63)


def is_not_older(
    new_event: datetime, new_created: datetime | None, old_event: datetime, old_created: datetime | None
) -> bool:
    """True when a row stamped ``(new_event, new_created)`` may replace ``(old_event, old_created)``."""
    if new_event != old_event:
        return new_event > old_event
    if new_created is None:
        return old_created is None
    return old_created is None or new_created >= old_created


def sql_not_older(new: str, old: str) -> str:
    """SQL condition: row alias ``new`` (e.g. ``excluded``) is not older than ``old`` (integer micros)."""
    return (
        f"({new}.event_ts > {old}.event_ts OR ({new}.event_ts = {old}.event_ts AND "
        f"coalesce({new}.created_ts, {NULL_CREATED}) >= coalesce({old}.created_ts, {NULL_CREATED})))"
    )


def latest_per_key(rows: pa.Table, keys: pa.Array) -> pa.Table:
    """Keep, for each distinct value of ``keys`` (encoded keys, one per row), its newest row."""
    n = rows.num_rows
    if n <= 1:
        return rows
    event = rows.column(EVENT_TS).cast(pa.int64()).to_numpy(zero_copy_only=False)
    created = rows.column(CREATED_TS).cast(pa.int64()).fill_null(NULL_CREATED).to_numpy(zero_copy_only=False)
    key_codes = keys.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    # lexsort: last key is primary -> key, then event, then created, then position (stable: last wins)
    order = np.lexsort((np.arange(n), created, event, key_codes))
    sorted_keys = key_codes[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
    keep = np.sort(order[last])
    if len(keep) == n:
        return rows
    return rows.take(pa.array(keep))

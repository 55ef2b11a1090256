"""Refusing rows stamped far in the future: newer-wins would keep such a value until that time comes.

A row pushed with ``event_timestamp: 2999-01-01`` beats every real row of its key for centuries — by
mistake (a clock or time zone off) or on purpose. ``/push`` and ``/write-to-online-store`` refuse rows
more than ``feature_server.max_future_event_sec`` ahead of the server's clock (400 naming the column).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.definitions import FeatureView
from ladle.errors import InvalidRequest
from ladle.offline.columns import ensure_utc_micros

__all__ = ["refuse_future_rows", "timestamp_columns"]


def timestamp_columns(views: Iterable[FeatureView]) -> set[str]:
    """The columns of written rows that hold the event time of ``views`` (before ``field_mapping``)."""
    columns = set()
    for view in views:
        source = view.batch_source
        renamed_from = {target: column for column, target in source.field_mapping.items()}
        columns.add(renamed_from.get(source.timestamp_field, source.timestamp_field))
    return columns


def refuse_future_rows(df: dict[str, list[Any]], columns: Iterable[str], max_ahead_sec: float | None) -> None:
    """Raise :class:`InvalidRequest` when a timestamp in ``columns`` is over ``max_ahead_sec`` ahead of now."""
    if max_ahead_sec is None:
        return
    limit = datetime.now(UTC) + timedelta(seconds=max_ahead_sec)
    for column in columns:
        values = df.get(column)
        if not values:
            continue
        try:
            latest = pc.max(ensure_utc_micros(pa.array(values), column)).as_py()
        except (InvalidRequest, pa.ArrowException, ValueError, TypeError):
            continue  # not timestamps: the write itself names the problem
        if latest is not None and latest > limit:
            raise InvalidRequest(
                f"column '{column}' holds the event time {latest.isoformat()}, more than {max_ahead_sec:g} s ahead "
                "of the server's clock; such a row would hide every newer one until then (fix the producer's "
                "clock or time zone, or raise feature_server.max_future_event_sec)"
            )

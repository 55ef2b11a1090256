"""Materializing and pushing windowed views (views with aggregations) into their online window state.

A windowed view is not copied as "latest row per key": each run loads the source events of the view's
longest window before the run's end into the window state (:mod:`ladle.windows.serving`), so a run never
depends on an earlier one and re-running it adds nothing (events are kept once). ``--disable-event-timestamp``
does not apply: windows are measured on the events' own times.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from ladle.definitions import FeatureView
from ladle.ingest.materialize import Bookkeeping, MaterializeResult, Progress
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore
from ladle.windows.online import add_rows, drop_views, is_windowed, materialize_view

__all__ = ["drop_views", "is_windowed", "materialize_windowed", "write_windowed"]


def materialize_windowed(
    offline: OfflineStore,
    online: OnlineStore,
    bookkeeping: Bookkeeping,
    project: str,
    intervals: list[tuple[FeatureView, datetime, datetime]],
    progress: Progress | None = None,
) -> list[MaterializeResult]:
    """Load each windowed ``(view, start, end)``; the registry records the interval after its state is written."""
    results = []
    for view, start, end in intervals:
        if progress:
            progress(view.name, 0, 0)
        rows = materialize_view(online, offline, project, view, end)
        if progress:
            progress(view.name, rows, rows)
        bookkeeping.record_materialization(view.name, start, end)
        results.append(MaterializeResult(view.name, start, end, rows))
    return results


def write_windowed(
    online: OnlineStore,
    offline: OfflineStore | None,
    project: str,
    views: Sequence[FeatureView],
    rows: pa.Table,
    what: str,
) -> int:
    """Add ``rows`` (as pushed: source column names) to every windowed view of ``views``; returns the rows given."""
    for view in views:
        add_rows(online, offline, project, view, rows, what)
    return int(rows.num_rows)

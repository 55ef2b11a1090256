"""What the online paths call for windowed views: reads mixed with plain views, writes, materialization.

``FeatureStore.get_online_features`` (and the HTTP server through it) reads plain views from the online
store and windowed views from their window state with :func:`read_views`; ``push`` and
``write_to_online_store`` add events with :func:`add_rows` (read-after-write: the next read sees them);
``materialize``/``materialize_incremental`` load each windowed view with :func:`materialize_view`.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from ladle.definitions import FeatureView
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore, ViewRead
from ladle.windows.spec import is_windowed
from ladle.windows.state_catalog import window_serving

__all__ = ["add_rows", "drop_views", "is_windowed", "materialize_view", "read_views"]


def read_views(online: OnlineStore, project: str, reads: list[ViewRead], at_us: int) -> list[pa.Table]:
    """:meth:`OnlineStore.read_many` for plain views and the windows ending at ``at_us`` for windowed ones,
    one table per read, in order (see :meth:`ladle.windows.serving.WindowServing.read`)."""
    windowed = [is_windowed(r.view) for r in reads]
    if not any(windowed):
        return online.read_many(project, reads)
    plain = (
        online.read_many(project, [r for r, w in zip(reads, windowed, strict=True) if not w])
        if not all(windowed)
        else []
    )
    serving = window_serving(online)
    tables = iter(plain)
    return [serving.read(project, r, at_us) if w else next(tables) for r, w in zip(reads, windowed, strict=True)]


def add_rows(
    online: OnlineStore, offline: OfflineStore | None, project: str, view: FeatureView, rows: pa.Table, what: str
) -> int:
    """Add pushed or written ``rows`` (source column names) as events of windowed ``view``."""
    return window_serving(online).add_rows(project, view, rows, what, offline)


def materialize_view(online: OnlineStore, offline: OfflineStore, project: str, view: FeatureView, end: datetime) -> int:
    """Load windowed ``view``'s offline events of its longest window before ``end``; returns how many."""
    return window_serving(online).materialize(offline, project, view, end)


def drop_views(online: OnlineStore, project: str, views: list[FeatureView]) -> None:
    """Remove the window state of every windowed view of ``views`` (dropped by apply, or torn down)."""
    doomed = [v for v in views if is_windowed(v)]
    if doomed:
        state = window_serving(online).state
        for view in doomed:
            state.drop(project, view.name)

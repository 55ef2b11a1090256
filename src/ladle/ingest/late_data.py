"""Late data: rows that arrive after an incremental run with event times *before* that run's end.

``materialize-incremental`` reads ``[last end, now]`` by event time, so a new drop of older events (a
back-fill, a delayed partition) would never reach the online store. Each incremental run therefore also
records, per view, what it had seen of the source up to its end (an *ingest marker*: the number of rows with
``ts <= end`` and the newest created timestamp among them). The next run compares:

- same row count: nothing arrived late, nothing more is read;
- more (or fewer) rows before the last end: late rows arrived. With a created-timestamp column, the late rows
  are those created after the marker's newest created timestamp: the run re-reads the latest row per key
  between the oldest of them and the last end, for the keys they touch. Without one (or when no row is newer
  by created time) it re-reads the latest row per key of the whole window the view's ttl keeps alive.

Those rows go through the online store's newer-wins write, so a late row replaces a stored value only where
its event time is newer, and rows older than ``end - ttl`` (already expired when read) are not re-read.
The cost is one read of the timestamp columns up to the run's end per view and run (plus the late window's
keys when rows arrived late). A view
whose first incremental run predates this bookkeeping starts tracking on its next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import conform_keys
from ladle.definitions import FeatureView
from ladle.ingest.materialize import EPOCH, MaterializeResult, utc
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore
from ladle.registry import Registry

__all__ = ["IngestMarker", "LateScan", "incremental_with_late_data", "scan_view"]


@dataclass(frozen=True)
class IngestMarker:
    """What an incremental run had seen of a view's source: rows with ``ts <= until``, newest created."""

    until: datetime
    rows: int
    created_max: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the registry's materialization record)."""
        created = None if self.created_max is None else self.created_max.isoformat()
        return {"until": self.until.isoformat(), "rows": self.rows, "created_max": created}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestMarker:
        """Inverse of :meth:`to_dict`."""
        created = data.get("created_max")
        return cls(
            datetime.fromisoformat(data["until"]),
            int(data["rows"]),
            None if created is None else datetime.fromisoformat(created),
        )


@dataclass(frozen=True)
class LateScan:
    """One view's late-data check: the marker to record, and the window and keys to re-read (if any)."""

    view: FeatureView
    marker: IngestMarker
    #: ``(start, end)`` to re-read the latest rows of, ``None`` when nothing arrived late
    window: tuple[datetime, datetime] | None = None
    #: the join-key rows the late rows touch (``None``: every key in the window)
    keys: pa.Table | None = None


def _max(column: pa.ChunkedArray) -> datetime | None:
    value = pc.max(column).as_py() if len(column) else None
    return None if value is None else utc(value)


def scan_view(offline: OfflineStore, view: FeatureView, previous: IngestMarker | None, end: datetime) -> LateScan:
    """Read the view's timestamps up to ``end``; compare with ``previous`` (the last run's marker)."""
    source = view.batch_source
    ts, created = source.timestamp_field, source.created_timestamp_column
    seen = offline.pull_all(source, [ts, *([created] if created else [])], None, end)
    marker = IngestMarker(end, seen.num_rows, _max(seen.column(created)) if created else None)
    if previous is None:
        return LateScan(view, marker)
    before = pc.sum(pc.less_equal(seen.column(ts), pa.scalar(previous.until, seen.schema.field(ts).type))).as_py()
    if (before or 0) == previous.rows:
        return LateScan(view, marker)
    oldest_alive = end - view.ttl if view.ttl and view.ttl > timedelta(0) else EPOCH
    if created and previous.created_max is not None:
        keys = [f.name for f in view.entity_columns]
        window = offline.pull_all(source, [*keys, ts, created], oldest_alive, previous.until)
        threshold = pa.scalar(previous.created_max, window.schema.field(created).type)
        late = window.filter(pc.greater(window.column(created), threshold))
        if late.num_rows:
            start = max(utc(pc.min(late.column(ts)).as_py()), oldest_alive)
            return LateScan(view, marker, (start, previous.until), late.select(keys))
    return LateScan(view, marker, (oldest_alive, previous.until))


def _late_rows(offline: OfflineStore, scan: LateScan) -> pa.Table:
    assert scan.window is not None
    rows = conform_keys(offline.pull_latest(scan.view, *scan.window).read_all(), scan.view.entity_columns)
    if scan.keys is None or rows.num_rows == 0:
        return rows
    wanted = conform_keys(scan.keys, scan.view.entity_columns)
    names = [f.name for f in scan.view.entity_columns]
    touched = wanted.group_by(names).aggregate([])
    return rows.join(touched, names, join_type="left semi")


def incremental_with_late_data(
    offline: OfflineStore,
    online: OnlineStore,
    registry: Registry,
    project: str,
    views: list[FeatureView],
    end: datetime,
    run: Callable[[], list[MaterializeResult]],
) -> list[MaterializeResult]:
    """``run()`` (the incremental run of ``views`` up to ``end``), then the late rows of each plain view.

    The late rows' counts are added to that view's result; the new markers are recorded after every write.
    """
    markers = registry.ingest_markers()
    scans = []
    for view in views:
        previous = markers.get(view.name)
        scans.append(scan_view(offline, view, None if previous is None else IngestMarker.from_dict(previous), end))
    results = run()
    late_counts: dict[str, int] = {}
    for scan in scans:
        if scan.window is None or scan.window[1] < scan.window[0]:
            continue
        rows = _late_rows(offline, scan)
        if rows.num_rows:
            online.write(project, scan.view, rows)
        late_counts[scan.view.name] = rows.num_rows
    if scans:
        registry.record_ingest_markers({s.view.name: s.marker.to_dict() for s in scans})
    return [replace(r, rows=r.rows + late_counts.pop(r.view, 0)) for r in results]

"""Materialization: copy the latest value per entity key from the offline store into the online store.

Idempotent: re-running an interval rewrites the same rows, and the online store's newer-wins rule keeps
a newer value that arrived (by push or a later interval) in the meantime.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ladle.common.conform import conform_keys
from ladle.common.times import UTC_US
from ladle.definitions import FeatureView
from ladle.errors import InvalidRequest
from ladle.offline.base import OfflineStore
from ladle.online.base import EVENT_TS, OnlineStore

__all__ = [
    "CLOCK_SKEW",
    "EPOCH",
    "BatchEngine",
    "LocalEngine",
    "MaterializeResult",
    "Progress",
    "check_end",
    "incremental_start",
    "materialize_views",
    "stamped",
    "utc",
]

#: ``progress(view_name, rows_written_so_far, total_rows)``
Progress = Callable[[str, int, int], None]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: how far in the future a materialization may end (clocks of machines disagree a little)
CLOCK_SKEW = timedelta(minutes=5)


class Bookkeeping(Protocol):
    """What materialization records in the registry."""

    def record_materialization(self, view_name: str, start: datetime, end: datetime) -> None: ...


@dataclass(frozen=True)
class MaterializeResult:
    """What one view's materialization did."""

    view: str
    start: datetime
    end: datetime
    rows: int


def utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (naive means UTC)."""
    if not isinstance(when, datetime):
        raise InvalidRequest(f"expected a datetime, got {type(when).__name__} {str(when)[:80]!r}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def check_end(end: datetime, now: datetime | None = None) -> datetime:
    """``end`` as UTC, refused when it lies more than :data:`CLOCK_SKEW` in the future.

    The end is recorded as where the next incremental run starts, so a future end would make every later
    run skip the data in between.
    """
    end = utc(end)
    limit = (now or datetime.now(UTC)) + CLOCK_SKEW
    if end > limit:
        raise InvalidRequest(
            f"materialization end {end.isoformat()} is in the future (later than now + {CLOCK_SKEW}); the next "
            "incremental run would start there and skip everything before it. Use the current time"
        )
    return end


def incremental_start(view: FeatureView, materialized_until: datetime | None, end: datetime) -> datetime:
    """Where an incremental run starts: the last run's end, else ``end - ttl``, else the epoch."""
    if materialized_until is not None:
        return utc(materialized_until)
    if view.ttl and view.ttl > timedelta(0):
        return end - view.ttl
    return EPOCH


def stamped(rows: pa.Table, event_timestamp: datetime | None) -> pa.Table:
    """``rows`` with every ``event_ts`` replaced by ``event_timestamp`` (unchanged when it is ``None``).

    ``materialize --disable-event-timestamp`` (Feast's flag): the values are written as of the run's time.
    """
    if event_timestamp is None:
        return rows
    stamp = pa.array([utc(event_timestamp)] * rows.num_rows, UTC_US)
    return rows.set_column(rows.schema.get_field_index(EVENT_TS), EVENT_TS, stamp)


def materialize_views(
    offline: OfflineStore,
    online: OnlineStore,
    bookkeeping: Bookkeeping,
    project: str,
    intervals: list[tuple[FeatureView, datetime, datetime]],
    batch_size: int,
    progress: Progress | None = None,
    event_timestamp: datetime | None = None,
) -> list[MaterializeResult]:
    """Materialize each ``(view, start, end)``; the registry records each interval after its write.

    ``event_timestamp`` replaces the rows' own timestamps in the online store (see :func:`stamped`).
    """
    results = []
    for view, start, end in intervals:
        if end < start:
            raise InvalidRequest(
                f"cannot materialize '{view.name}': start {start.isoformat()} is after end {end.isoformat()}"
            )
        table = conform_keys(offline.pull_latest(view, start, end).read_all(), view.entity_columns)
        total = table.num_rows
        if progress:
            progress(view.name, 0, total)
        done = 0
        for batch in table.to_batches(max_chunksize=batch_size):
            online.write(project, view, stamped(pa.Table.from_batches([batch]), event_timestamp))
            done += batch.num_rows
            if progress:
                progress(view.name, done, total)
        bookkeeping.record_materialization(view.name, start, end)
        results.append(MaterializeResult(view.name, start, end, total))
    return results


class BatchEngine(abc.ABC):
    """How materialization runs: ``batch_engine`` in feature_store.yaml.

    ``type: local`` (:class:`LocalEngine`) and ``type: spark`` (``ladle.ingest.spark_engine.SparkEngine``) are
    built in; ``type: my_pkg.engines.MyEngine`` names a subclass (see :mod:`ladle.backends.plugins`), created as
    ``MyEngine(batch_engine_config, repo_path)``.
    """

    def __init__(self, config: Any, repo_path: Path) -> None:
        self.config = config
        self.repo_path = repo_path

    @abc.abstractmethod
    def materialize(
        self,
        offline: OfflineStore,
        online: OnlineStore,
        bookkeeping: Bookkeeping,
        project: str,
        intervals: list[tuple[FeatureView, datetime, datetime]],
        progress: Progress | None = None,
        event_timestamp: datetime | None = None,
    ) -> list[MaterializeResult]:
        """Write the latest row per key of each ``(view, start, end)`` (rows with ``start <= ts <= end``) to
        ``online`` with newer-wins writes, then ``bookkeeping.record_materialization(view, start, end)``
        for that interval (never before its rows are written). ``event_timestamp``, when given, replaces the
        rows' own event timestamps (:func:`stamped`). Returns one result per interval, in order."""


class LocalEngine(BatchEngine):
    """Materialization in this process, ``batch_size`` rows per online write (:func:`materialize_views`)."""

    def materialize(
        self,
        offline: OfflineStore,
        online: OnlineStore,
        bookkeeping: Bookkeeping,
        project: str,
        intervals: list[tuple[FeatureView, datetime, datetime]],
        progress: Progress | None = None,
        event_timestamp: datetime | None = None,
    ) -> list[MaterializeResult]:
        return materialize_views(
            offline, online, bookkeeping, project, intervals, self.config.batch_size, progress, event_timestamp
        )

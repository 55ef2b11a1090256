"""Materialization: copy the latest value per entity key from the offline store into the online store.

Idempotent: re-running an interval rewrites the same rows, and the online store's newer-wins rule keeps
a newer value that arrived (by push or a later interval) in the meantime. Streamed: the offline store's
latest-per-key reader is consumed ``batch_size`` rows at a time, each written before the next is read, so
memory is bounded by the batch, not by the number of keys.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import pyarrow as pa
from pydantic import Field

from ladle.common.backend_config import BackendConfig
from ladle.common.conform import conform_keys
from ladle.common.times import UTC_US
from ladle.definitions import FeatureView
from ladle.errors import InvalidRequest, NotFound
from ladle.offline.base import ROW_COUNT, OfflineStore
from ladle.online.base import EVENT_TS, OnlineStore

__all__ = [
    "CLOCK_SKEW",
    "EPOCH",
    "BatchEngine",
    "LocalEngine",
    "MaterializationConfig",
    "MaterializeResult",
    "Progress",
    "check_end",
    "expected_rows",
    "in_batches",
    "incremental_start",
    "materialize_views",
    "select_views",
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


def select_views(views: Mapping[str, FeatureView], project: str, names: Any) -> list[FeatureView]:
    """The registered ``views`` a materialization runs over, by name.

    ``names=None``: every online, enabled view with history (views fed only by an online push source have
    nothing to materialize). Named views must exist, be online and enabled (:class:`~ladle.errors.NotFound`,
    :class:`~ladle.errors.InvalidRequest` naming the view).
    """
    if not views:
        raise InvalidRequest(f"project '{project}' has no feature views registered; run `ladle apply` first")
    ordered = [views[n] for n in sorted(views)]
    if names is None:
        return [v for v in ordered if v.online and v.enabled and v.batch_source.has_history]
    if isinstance(names, str) or not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise InvalidRequest("feature_views must be a list of feature view names (or None for every view)")
    out = []
    for n in names:
        if n not in views:
            raise NotFound("feature view", n, project, sorted(views))
        if not views[n].online:
            raise InvalidRequest(f"feature view '{n}' has online=False; it cannot be materialized")
        if not views[n].enabled:
            raise InvalidRequest(f"feature view '{n}' is disabled (enabled=False); enable it to materialize it")
        out.append(views[n])
    return out


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
        reader = offline.pull_latest(view, start, end)
        total = expected_rows(reader.schema)
        if progress:
            progress(view.name, 0, total or 0)
        done = 0
        for table in in_batches(reader, batch_size):
            table = conform_keys(table, view.entity_columns)
            online.write(project, view, stamped(table, event_timestamp))
            done += table.num_rows
            if progress:  # a reader that does not announce its size: the total is what is written so far
                progress(view.name, done, max(total or 0, done))
        bookkeeping.record_materialization(view.name, start, end)
        results.append(MaterializeResult(view.name, start, end, done))
    return results


def expected_rows(schema: pa.Schema) -> int | None:
    """The row count a ``pull_latest`` reader announces in its schema metadata (:data:`ROW_COUNT`), if any."""
    value = (schema.metadata or {}).get(ROW_COUNT)
    return int(value) if value is not None and value.isdigit() else None


def in_batches(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """The reader's rows as tables of ``size`` rows (the last may be smaller), holding at most about one
    table's worth of rows at a time."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in reader:
        while batch.num_rows:
            take = min(size - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == size:
                yield pa.Table.from_batches(pending, reader.schema)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending, reader.schema)


class MaterializationConfig(BackendConfig):
    """How materialization runs (``batch_engine``), for the built-in engines."""

    #: ``local`` (in this process) or ``spark`` (latest-per-key in Spark, written by the executors)
    type: Literal["local", "spark"] = "local"
    #: rows per write batch
    batch_size: int = Field(default=1_000_000, gt=0)
    #: spark engine: partitions (parallel writers) of the latest rows; None keeps Spark's shuffle partitions
    partitions: int | None = Field(default=None, gt=0)


class BatchEngine(abc.ABC):
    """How materialization runs: ``batch_engine`` in feature_store.yaml.

    ``type: local`` (:class:`LocalEngine`) and ``type: spark`` (``ladle.ingest.spark_engine.SparkEngine``) are
    built in (:data:`ladle.backends.tables.BATCH_ENGINES`); ``type: my_pkg.engines.MyEngine`` names a subclass
    (see :mod:`ladle.backends.plugins`). An engine is created as ``Engine(config, repo_path)``.
    """

    #: the engine's name: its ``type:`` in feature_store.yaml
    name: ClassVar[str] = ""
    #: the pydantic model of the ``batch_engine:`` section
    config_class: ClassVar[type[BackendConfig] | None] = MaterializationConfig

    def __init__(self, config: BackendConfig, repo_path: Path) -> None:
        self.config = config
        self.repo_path = Path(repo_path)

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

    name = "local"
    config: MaterializationConfig

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

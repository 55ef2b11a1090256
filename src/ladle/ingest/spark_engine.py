"""The Spark materialization engine (``batch_engine: {type: spark}``).

Per view and interval, one Spark job: the latest row per entity key (``max_by`` over ``(ts, created)``, as
:meth:`~ladle.offline.spark.SparkOfflineStore.latest_frame`) is computed in Spark, and every partition
writes its rows to the online store from the executor it runs on, in parallel. Each partition rebuilds the
online store from its class and pydantic config (``model_dump()``), writes with the store's own
``write`` — which applies the newer-wins rule, so re-running an interval is harmless and a newer pushed
value survives — and closes it. Keys are unique after the aggregate, so partitions never race on a key.
Only per-partition row counts come back to the driver. The registry records each interval after its
writes, exactly as the local engine does (:func:`ladle.ingest.materialize.materialize_views`).

Executors need ladle and the online store's driver installed (``pip install "ladle[redis]"`` etc.), and
must reach the online store: an embedded SQLite file works in local mode only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from ladle.definitions import Entity, FeatureView
from ladle.errors import InvalidConfig, InvalidRequest
from ladle.ingest.materialize import (
    BatchEngine,
    Bookkeeping,
    MaterializationConfig,
    MaterializeResult,
    Progress,
    stamped,
)
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore

__all__ = ["SparkEngine", "materialize_views_spark", "partition_writer"]


def _spec(online: OnlineStore, project: str, view: FeatureView, batch_size: int) -> dict[str, Any]:
    """Plain data an executor rebuilds the online store and the view from."""
    store_cls, config = type(online), online.portable_config()
    return {
        "store": (store_cls.__module__, store_cls.__qualname__),
        "config": (type(config).__module__, type(config).__qualname__, config.model_dump()),
        "repo_path": str(online.repo_path),
        "project": project,
        "view": view.to_dict(),
        "entities": [e.to_dict() for e in view.entity_objects],
        "batch_size": batch_size,
    }


def _load(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def partition_writer(spec: dict[str, Any]) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function each Spark partition runs (``mapInArrow``): write its rows, yield how many it wrote."""

    def write_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from ladle.offline.spark import latest_rows

        config_module, config_name, dump = spec["config"]
        config = _load(config_module, config_name).model_validate(dump)
        store: OnlineStore = _load(*spec["store"])(config, spec["repo_path"])
        entities = {e["name"]: Entity.from_dict(e) for e in spec["entities"]}
        view = FeatureView.from_dict(spec["view"], entities)
        view.bind_entities(entities)
        stamp = spec["event_timestamp"]
        written, pending, size = 0, [], 0
        try:
            for batch in batches:
                pending.append(batch)
                size += batch.num_rows
                if size >= spec["batch_size"]:
                    written += store.write(
                        spec["project"], view, stamped(latest_rows(view, pa.Table.from_batches(pending)), stamp)
                    )
                    pending, size = [], 0
            if size:
                written += store.write(
                    spec["project"], view, stamped(latest_rows(view, pa.Table.from_batches(pending)), stamp)
                )
        finally:
            store.close()
        yield pa.record_batch([pa.array([written], pa.int64())], names=["written"])

    return write_partition


def materialize_views_spark(
    offline: OfflineStore,
    online: OnlineStore,
    bookkeeping: Bookkeeping,
    project: str,
    intervals: list[tuple[FeatureView, Any, Any]],
    batch_size: int,
    progress: Progress | None = None,
    partitions: int | None = None,
    event_timestamp: Any = None,
) -> list[MaterializeResult]:
    """Materialize each ``(view, start, end)`` with Spark; the registry records each interval after its writes.

    Same arguments and result as :func:`ladle.ingest.materialize.materialize_views`, plus ``partitions``: how many
    partitions (parallel writers) the latest rows are spread over (None keeps Spark's choice).
    ``event_timestamp`` replaces the rows' own timestamps, as in the local engine.
    """
    from ladle.offline.spark import SparkOfflineStore

    if not isinstance(offline, SparkOfflineStore):
        raise InvalidConfig(
            "feature_store.yaml",
            f"batch_engine type 'spark' needs offline_store type 'spark', not "
            f"'{offline.name or type(offline).__name__}'",
            "set offline_store: {type: spark} (FileSource parquet and SparkSource are read by Spark), "
            "or batch_engine: {type: local}",
        )
    from pyspark.sql import functions as F

    results = []
    for view, start, end in intervals:
        if end < start:
            raise InvalidRequest(
                f"cannot materialize '{view.name}': start {start.isoformat()} is after end {end.isoformat()}"
            )
        latest = offline.latest_frame(view, start, end)
        if partitions:
            latest = latest.repartition(partitions)
        counts = latest.mapInArrow(
            partition_writer({**_spec(online, project, view, batch_size), "event_timestamp": event_timestamp}),
            "written long",
        )
        total = int(counts.agg(F.sum("written")).collect()[0][0] or 0)
        if progress:  # executors write; the driver learns the count when the job ends
            progress(view.name, total, total)
        bookkeeping.record_materialization(view.name, start, end)
        results.append(MaterializeResult(view.name, start, end, total))
    return results


class SparkEngine(BatchEngine):
    """``batch_engine: {type: spark, partitions: N}``: :func:`materialize_views_spark`."""

    name = "spark"
    config: MaterializationConfig

    def materialize(
        self,
        offline: OfflineStore,
        online: OnlineStore,
        bookkeeping: Bookkeeping,
        project: str,
        intervals: list[tuple[FeatureView, Any, Any]],
        progress: Progress | None = None,
        event_timestamp: Any = None,
    ) -> list[MaterializeResult]:
        return materialize_views_spark(
            offline,
            online,
            bookkeeping,
            project,
            intervals,
            self.config.batch_size,
            progress,
            partitions=self.config.partitions,
            event_timestamp=event_timestamp,
        )

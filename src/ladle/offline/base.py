"""The offline-store protocol: what every offline backend (duckdb, postgres, spark) implements.

An offline store reads a view's source history. It builds point-in-time-correct training sets and
feeds materialization. The point-in-time rules are stated once, in ARCHITECTURE.md and
:mod:`ladle.offline.pit_sql`; a backend's job is to run them where the data lives.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import ClassVar

import pyarrow as pa

from ladle.definitions import DataSource, FeatureView
from ladle.feature_refs import ViewRequest
from ladle.offline.filesystem import ObjectStoreOptions

__all__ = ["OfflineStore"]


class OfflineStore(abc.ABC):
    """History of feature values, queried in bulk."""

    #: the ``type:`` value(s) in feature_store.yaml that select this store
    type_names: ClassVar[tuple[str, ...]] = ()
    #: S3 settings for parquet files this store writes outside its sources (``RetrievalJob.persist``)
    object_store: ObjectStoreOptions = ObjectStoreOptions()

    @abc.abstractmethod
    def point_in_time_join(
        self,
        entities: pa.Table,
        timestamp_column: str,
        views: list[ViewRequest],
        full_feature_names: bool,
        filter_by_created_timestamp: bool = False,
    ) -> pa.Table:
        """The feature columns for every row of ``entities``, per the point-in-time rules.

        ``entities`` holds the join-key columns the views need and ``timestamp_column`` (timestamp[us,
        UTC]). Returns exactly ``entities.num_rows`` rows in the same order, one column per requested
        feature of every view (``ViewRequest.output_name``), cast to the declared Arrow types.
        """

    @abc.abstractmethod
    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.RecordBatchReader:
        """Per entity key, the newest source row with ``start <= ts <= end`` (ties: newest created).

        Columns: the view's join keys, its features (declared types), ``event_ts`` and ``created_ts``.
        """

    @abc.abstractmethod
    def pull_all(
        self, source: DataSource, columns: list[str], start: datetime | None, end: datetime | None
    ) -> pa.Table:
        """Every source row with ``start <= ts <= end`` (open bounds when None); mapped column names."""

    @abc.abstractmethod
    def source_schema(self, source: DataSource) -> pa.Schema:
        """The source's columns (raw names, before field_mapping). Raises BackendFailure if unreadable."""

    @abc.abstractmethod
    def append(self, source: DataSource, rows: pa.Table) -> None:
        """Add ``rows`` (mapped names, as pushed) to the source's data so later reads see them."""

    @abc.abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run a query in the store's own dialect (used for ``entity_df`` given as SQL)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

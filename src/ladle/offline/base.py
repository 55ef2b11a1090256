"""The offline-store protocol: what every offline backend (duckdb, postgres, spark) implements.

An offline store reads a view's source history. It builds point-in-time-correct training sets and
feeds materialization. The point-in-time rules are stated once, in ARCHITECTURE.md and
:mod:`ladle.offline.pit_sql`; a backend's job is to run them where the data lives.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from ladle.common.backend_config import BackendConfig
from ladle.definitions import DataSource, FeatureView, Field
from ladle.offline.filesystem import ObjectStoreOptions

__all__ = ["ROW_COUNT", "EngineFrames", "OfflineStore", "ViewRequest"]

#: schema metadata key under which a ``pull_latest`` reader may announce how many rows it will yield
#: (decimal text), so materialization can show progress while it streams
ROW_COUNT = b"ladle.row_count"


@dataclass
class ViewRequest:
    """Features wanted from one (possibly aliased) feature view."""

    view: FeatureView
    #: the name features are reported under (the alias, else the view name)
    name: str
    features: list[Field]
    #: view join key -> column of the caller's entities
    join_key_map: dict[str, str] = field(default_factory=dict)
    #: features fetched only because an on-demand view needs them (not returned)
    hidden: set[str] = field(default_factory=set)

    @property
    def entity_columns(self) -> list[str]:
        """The caller's columns holding this view's join keys, in join-key order."""
        return [self.join_key_map.get(k, k) for k in self.view.join_keys]

    def output_name(self, feature: str) -> str:
        """The column a store names a feature of this view: ``view__feature``."""
        return f"{self.name}__{feature}"

    def add_feature(self, f: Field, hidden: bool) -> None:
        if all(x.name != f.name for x in self.features):
            self.features.append(f)
            if hidden:
                self.hidden.add(f.name)
        elif not hidden:
            self.hidden.discard(f.name)


class OfflineStore(abc.ABC):
    """History of feature values, queried in bulk.

    A store is created as ``Store(config, repo_path)``: its settings (the ``offline_store:`` section,
    validated by :attr:`config_class`) and the repo folder (relative paths resolve against it). It may
    connect lazily. Selected by ``type:`` through :data:`ladle.backends.tables.OFFLINE_STORES`.
    """

    #: the store's name: its ``type:`` in feature_store.yaml (aliases are in the backend table)
    name: ClassVar[str] = ""
    #: the pydantic model of the store's ``offline_store:`` section
    config_class: ClassVar[type[BackendConfig] | None] = None
    #: S3 settings for parquet files this store writes outside its sources (``RetrievalJob.persist``)
    object_store: ObjectStoreOptions = ObjectStoreOptions()

    def __init__(self, config: BackendConfig, repo_path: Path) -> None:
        self.config = config
        self.repo_path = Path(repo_path)

    @abc.abstractmethod
    def point_in_time_join(
        self,
        entities: pa.Table,
        timestamp_column: str,
        views: list[ViewRequest],
        filter_by_created_timestamp: bool = False,
    ) -> pa.Table:
        """The feature columns for every row of ``entities``, per the point-in-time rules.

        ``entities`` holds the join-key columns the views need and ``timestamp_column`` (timestamp[us,
        UTC]). Returns exactly ``entities.num_rows`` rows in the same order, one column per requested
        feature of every view, named ``view__feature`` (``ViewRequest.output_name``), cast to the declared
        Arrow types. With ``filter_by_created_timestamp``, a candidate row also needs ``created <= ts``.
        """

    @abc.abstractmethod
    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.RecordBatchReader:
        """Per entity key, the newest source row with ``start <= ts <= end`` (ties: newest created).

        Columns: the view's join keys, its features (declared types), ``event_ts`` and ``created_ts``. The
        reader is consumed batch by batch (a store may stream it); its schema metadata may hold the row
        count under :data:`ROW_COUNT`.
        """

    @abc.abstractmethod
    def pull_all(
        self, source: DataSource, columns: list[str], start: datetime | None, end: datetime | None
    ) -> pa.Table:
        """Every source row with ``start <= ts <= end`` (open bounds when None), ``columns`` by their mapped
        names (``field_mapping``): what a windowed view's online state is loaded from."""

    @abc.abstractmethod
    def source_schema(self, source: DataSource) -> pa.Schema:
        """The source's columns (raw names, before field_mapping). Raises BackendFailure if unreadable."""

    @abc.abstractmethod
    def append(self, source: DataSource, rows: pa.Table) -> None:
        """Add ``rows`` (mapped names, as pushed) to the source's data so later reads see them.

        ``rows`` must hold every column of the source: InvalidRequest names the missing ones (and a source that
        cannot be appended to, such as a query), before anything is written.
        """

    @abc.abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run a query in the store's own dialect (used for ``entity_df`` given as SQL); all rows, as Arrow.

        Raises InvalidRequest (or BackendFailure) naming the store when the query fails.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class EngineFrames(abc.ABC):
    """Mixin of an offline store whose engine has DataFrames of its own (Spark), so a training set can stay there.

    Entity rows given as the engine's DataFrame (or as SQL) are joined where they are instead of being
    collected; ``RetrievalJob.to_spark_df()`` and ``persist()`` hand the result over without it passing
    through the driver. Stores without this mixin answer those calls with a clear error.
    """

    #: the engine's name, as in ``to_<engine>_df``
    engine: ClassVar[str] = ""

    @abc.abstractmethod
    def entity_schema(self, entity_df: Any) -> pa.Schema | None:
        """The columns of an ``entity_df`` the engine keeps (its DataFrame, or SQL it runs); None for any other."""

    @abc.abstractmethod
    def collect_join(
        self, entity_df: Any, timestamp_column: str, views: list[ViewRequest], filter_by_created_timestamp: bool
    ) -> tuple[pa.Table, dict[str, pa.ChunkedArray]]:
        """The point-in-time join of a kept ``entity_df``, collected: its rows (in order) and every feature of
        every view as ``view__feature`` (declared types)."""

    @abc.abstractmethod
    def result_frame(
        self,
        entity_df: Any,
        timestamp_column: str,
        views: list[ViewRequest],
        outputs: list[tuple[str, str, str]],
        filter_by_created_timestamp: bool,
    ) -> Any:
        """The training set as an engine DataFrame (entity columns, then ``outputs``, each a (view name,
        feature, output column); no on-demand features), computed by the engine. ``entity_df`` is a kept one
        or a pyarrow Table."""

    @abc.abstractmethod
    def frame_from_arrow(self, table: pa.Table) -> Any:
        """An Arrow table as an engine DataFrame."""

    @abc.abstractmethod
    def persist_frame(self, frame: Any, storage: Any, allow_overwrite: bool) -> None:
        """Write an engine DataFrame to ``storage`` (a source naming a table or path) from the engine."""

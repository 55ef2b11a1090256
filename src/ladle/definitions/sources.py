"""Data sources: where a feature view's rows come from (files, pushes, request-time data)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from ladle.definitions.base import Named, check_name, check_tags
from ladle.definitions.field import Field
from ladle.errors import InvalidDefinition

__all__ = [
    "DataSource",
    "FileFormat",
    "FileSource",
    "ParquetFormat",
    "PostgreSQLSource",
    "PushSource",
    "RequestSource",
    "source_from_dict",
]


class FileFormat:
    """Base of the file-format markers (only parquet is read)."""

    name = "parquet"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileFormat) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class ParquetFormat(FileFormat):
    """Parquet files (the only format FileSource reads)."""


class DataSource(Named, abc.ABC):
    """Base of every source. Subclasses set ``source_type`` and implement ``to_dict``/``from_dict``."""

    source_type: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[DataSource]]] = {}

    name: str
    timestamp_field: str
    created_timestamp_column: str
    field_mapping: dict[str, str]
    description: str
    tags: dict[str, str]
    owner: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.source_type:
            DataSource._registry[cls.source_type] = cls

    def _init_common(
        self,
        kind: str,
        name: str,
        timestamp_field: str | None,
        created_timestamp_column: str | None,
        field_mapping: dict[str, str] | None,
        description: str,
        tags: dict[str, str] | None,
        owner: str,
        name_from_path: bool = False,
    ) -> None:
        # An unnamed FileSource is named after its path (as in Feast), which may hold '/' and the like.
        self.name = name if name_from_path else check_name(kind, name)
        self.timestamp_field = timestamp_field or ""
        self.created_timestamp_column = created_timestamp_column or ""
        if field_mapping is not None and not (
            isinstance(field_mapping, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in field_mapping.items())
        ):
            raise InvalidDefinition(
                kind, name, f"field_mapping must map source column -> feature name, got {field_mapping!r}"
            )
        self.field_mapping = dict(field_mapping or {})
        if self.timestamp_field and self.timestamp_field == self.created_timestamp_column:
            raise InvalidDefinition(
                kind, name, "timestamp_field and created_timestamp_column must be different columns"
            )
        self.description = description or ""
        self.tags = check_tags(kind, name, tags)
        self.owner = owner or ""

    def _common_dict(self) -> dict[str, Any]:
        return {
            "kind": "data_source",
            "type": self.source_type,
            "name": self.name,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "field_mapping": self.field_mapping,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
        }

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""

    def source_column(self, name: str) -> str:
        """The source column holding feature (or key) ``name``: the one ``field_mapping`` maps to it, else ``name``.

        >>> FileSource(path="x.parquet", timestamp_field="ts", field_mapping={"rate_raw": "rate"}).source_column("rate")
        'rate_raw'
        """
        for column, mapped in self.field_mapping.items():
            if mapped == name:
                return column
        return name

    def mapped_name(self, column: str) -> str:
        """The name a source ``column`` is known by after ``field_mapping`` (``column`` itself when unmapped).

        >>> FileSource(path="x.parquet", timestamp_field="ts", field_mapping={"rate_raw": "rate"}).mapped_name("rate_raw")
        'rate'
        """
        return self.field_mapping.get(column, column)

    @property
    def batch(self) -> DataSource:
        """The source that holds this source's history (itself, or a push source's batch source)."""
        return self

    @property
    def has_history(self) -> bool:
        """Whether an offline store can hold this source's rows (not so for a push source without a batch source)."""
        return not isinstance(self.batch, PushSource)


class FileSource(DataSource):
    """Parquet data: one file, a directory of files, or a glob — local, ``s3://bucket/...`` (with
    ``s3_endpoint_override`` for an S3-compatible server) or another ``pyarrow.fs`` URI.

    >>> src = FileSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp")
    >>> src.name
    'data/driver_stats.parquet'
    """

    source_type = "file"

    def __init__(
        self,
        *,
        path: str,
        name: str | None = None,
        timestamp_field: str | None = None,
        created_timestamp_column: str | None = None,
        field_mapping: dict[str, str] | None = None,
        file_format: FileFormat | str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        event_timestamp_column: str | None = None,
        s3_endpoint_override: str | None = None,
        date_partition_column: str | None = None,
    ) -> None:
        if not isinstance(path, str) or not path:
            raise InvalidDefinition("FileSource", name, f"path must be a non-empty string, got {path!r}")
        if timestamp_field and event_timestamp_column and timestamp_field != event_timestamp_column:
            raise InvalidDefinition(
                "FileSource", name or path, "give timestamp_field or event_timestamp_column, not both"
            )
        fmt = file_format.name if isinstance(file_format, FileFormat) else (file_format or "parquet")
        if fmt != "parquet":
            raise InvalidDefinition(
                "FileSource", name or path, f"file_format '{fmt}' is not supported", "convert the data to parquet"
            )
        self.path = path
        self.file_format = fmt
        self.s3_endpoint_override = s3_endpoint_override or ""
        self.date_partition_column = date_partition_column or ""
        self._init_common(
            "FileSource",
            name or path,
            timestamp_field or event_timestamp_column,
            created_timestamp_column,
            field_mapping,
            description,
            tags,
            owner,
            name_from_path=name is None,
        )
        if not self.timestamp_field:
            # Feast infers it at apply time; we do too (see the registry's inference step).
            self.timestamp_field = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        out = {**self._common_dict(), "path": self.path, "file_format": self.file_format}
        if self.s3_endpoint_override:  # only when set, so sources without one keep their registry hash
            out["s3_endpoint_override"] = self.s3_endpoint_override
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=None if data["name"] == data["path"] else data["name"],
            path=data["path"],
            timestamp_field=data.get("timestamp_field"),
            created_timestamp_column=data.get("created_timestamp_column"),
            field_mapping=data.get("field_mapping"),
            file_format=data.get("file_format"),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
            s3_endpoint_override=data.get("s3_endpoint_override"),
        )


class SavedDatasetFileStorage:
    """Where ``RetrievalJob.persist`` writes a training set as one parquet file (Feast's name): a local path,
    ``s3://bucket/key.parquet`` (with ``s3_endpoint_override`` for an S3-compatible server) or another URI
    pyarrow knows.

    >>> SavedDatasetFileStorage(path="s3://bucket/training.parquet").file_options.path
    's3://bucket/training.parquet'
    """

    def __init__(
        self, path: str, file_format: FileFormat | str | None = None, s3_endpoint_override: str | None = None
    ) -> None:
        self.file_options = FileSource(
            name="saved_dataset", path=path, file_format=file_format, s3_endpoint_override=s3_endpoint_override
        )


class PushSource(DataSource):
    """Rows pushed by the application (``store.push``), usually backed by a batch source for history.

    Without ``batch_source`` the pushed rows live in the online store only: the views it feeds are
    served online but have no history (no training sets, no materialization, no offline push); their
    rows carry the event time in an ``event_timestamp`` column.

    >>> batch = FileSource(name="trips", path="data/trips.parquet", timestamp_field="ts")
    >>> PushSource(name="trips_push", batch_source=batch).batch.name
    'trips'
    >>> PushSource(name="clicks_push").has_history
    False
    """

    source_type = "push"
    #: the timestamp column of rows pushed to a push source without a batch source
    ONLINE_ONLY_TIMESTAMP: ClassVar[str] = "event_timestamp"

    def __init__(
        self,
        *,
        name: str,
        batch_source: DataSource | None = None,
        schema: list[Field] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
    ) -> None:
        if batch_source is not None and (
            not isinstance(batch_source, DataSource) or isinstance(batch_source, PushSource | RequestSource)
        ):
            raise InvalidDefinition(
                "PushSource", name, f"batch_source must be a batch data source such as FileSource, got {batch_source!r}"
            )
        self.batch_source = batch_source
        self.schema = list(schema or [])
        if batch_source is None:
            self._init_common("PushSource", name, self.ONLINE_ONLY_TIMESTAMP, None, None, description, tags, owner)
            return
        self._init_common(
            "PushSource",
            name,
            batch_source.timestamp_field,
            batch_source.created_timestamp_column,
            batch_source.field_mapping,
            description,
            tags,
            owner,
        )

    @property
    def batch(self) -> DataSource:
        return self.batch_source if self.batch_source is not None else self

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            **self._common_dict(),
            "batch_source": None if self.batch_source is None else self.batch_source.to_dict(),
            "schema": [f.to_dict() for f in self.schema],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushSource:
        """Inverse of :meth:`to_dict`."""
        batch = data.get("batch_source")
        return cls(
            name=data["name"],
            batch_source=None if batch is None else source_from_dict(batch),
            schema=[Field.from_dict(f) for f in data.get("schema", [])],
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )


class RequestSource(DataSource):
    """Values that arrive with the request (``request_context``), used by on-demand views.

    >>> from ladle.types import Int64
    >>> RequestSource(name="vals", schema=[Field(name="val_to_add", dtype=Int64)]).schema[0].name
    'val_to_add'
    """

    source_type = "request"

    def __init__(
        self,
        *,
        name: str,
        schema: list[Field],
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
    ) -> None:
        if not schema or not all(isinstance(f, Field) for f in schema):
            raise InvalidDefinition("RequestSource", name, "schema must be a non-empty list of Field")
        self.schema = list(schema)
        self._init_common("RequestSource", name, None, None, None, description, tags, owner)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {**self._common_dict(), "schema": [f.to_dict() for f in self.schema]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            schema=[Field.from_dict(f) for f in data["schema"]],
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )


class PostgreSQLSource(DataSource):
    """Rows of a PostgreSQL table or query (for the ``postgres`` offline store).

    >>> PostgreSQLSource(name="zipcode_features", table="zipcode_features", timestamp_field="event_timestamp").table
    'zipcode_features'
    """

    source_type = "postgres"

    def __init__(
        self,
        *,
        name: str,
        query: str | None = None,
        table: str | None = None,
        timestamp_field: str | None = None,
        created_timestamp_column: str | None = None,
        field_mapping: dict[str, str] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
    ) -> None:
        if (query is None) == (table is None):
            raise InvalidDefinition("PostgreSQLSource", name, "give exactly one of table= or query=")
        self.query = query or ""
        self.table = table or ""
        self._init_common(
            "PostgreSQLSource", name, timestamp_field, created_timestamp_column, field_mapping, description, tags, owner
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {**self._common_dict(), "query": self.query, "table": self.table}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostgreSQLSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            query=data.get("query") or None,
            table=data.get("table") or None,
            timestamp_field=data.get("timestamp_field"),
            created_timestamp_column=data.get("created_timestamp_column"),
            field_mapping=data.get("field_mapping"),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )


def source_from_dict(data: dict[str, Any]) -> DataSource:
    """Rebuild any data source from its ``to_dict`` form (dispatching on ``type``)."""
    cls = DataSource._registry.get(data.get("type", ""))
    if cls is None:
        raise InvalidDefinition("DataSource", data.get("name"), f"unknown source type {data.get('type')!r}")
    result: DataSource = cls.from_dict(data)  # type: ignore[attr-defined]
    return result

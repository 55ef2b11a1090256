"""``SparkSource``: history read by Spark — a catalog table, a Spark SQL query, or files at a path."""

from __future__ import annotations

from typing import Any

from ladle.definitions.sources import DataSource
from ladle.errors import InvalidDefinition

__all__ = ["SPARK_FILE_FORMATS", "SavedDatasetSparkStorage", "SparkSource"]

#: the ``file_format`` values a path source may have (Spark's own reader names)
SPARK_FILE_FORMATS = ("parquet", "csv", "json", "orc", "avro", "delta")


class SparkSource(DataSource):
    """Rows Spark reads: ``table=`` (a catalog table), ``query=`` (Spark SQL) or ``path=`` with ``file_format=``.

    For the ``spark`` offline store (``offline_store: {type: spark}``). Exactly one of ``table``, ``query``
    and ``path`` is given; a path needs its ``file_format``.

    >>> src = SparkSource(name="driver_stats", path="s3a://bucket/driver_stats", file_format="parquet",
    ...                   timestamp_field="event_timestamp")
    >>> (src.path, src.file_format)
    ('s3a://bucket/driver_stats', 'parquet')
    >>> SparkSource(table="feature_db.driver_stats", timestamp_field="ts").name
    'feature_db.driver_stats'
    """

    source_type = "spark"

    def __init__(
        self,
        *,
        name: str | None = None,
        table: str | None = None,
        query: str | None = None,
        path: str | None = None,
        file_format: str | None = None,
        timestamp_field: str | None = None,
        created_timestamp_column: str | None = None,
        field_mapping: dict[str, str] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        date_partition_column: str | None = None,
    ) -> None:
        label = name or table or path or "SparkSource"
        given = [k for k, v in (("table", table), ("query", query), ("path", path)) if v]
        if len(given) != 1:
            raise InvalidDefinition(
                "SparkSource", label, f"give exactly one of table=, query= or path= (got {given or 'none'})"
            )
        fmt = (file_format or "").lower()
        if path and fmt not in SPARK_FILE_FORMATS:
            raise InvalidDefinition(
                "SparkSource", label, f"path= needs file_format= one of {list(SPARK_FILE_FORMATS)}, got {file_format!r}"
            )
        if not path and file_format:
            raise InvalidDefinition("SparkSource", label, "file_format= goes with path= only")
        if name is None and not table:
            raise InvalidDefinition(
                "SparkSource", label, "give it a name= (only a table source is named after its table)"
            )
        self.table = table or ""
        self.query = query or ""
        self.path = path or ""
        self.file_format = fmt
        self.date_partition_column = date_partition_column or ""
        self._init_common(
            "SparkSource",
            name or table or "",
            timestamp_field,
            created_timestamp_column,
            field_mapping,
            description,
            tags,
            owner,
            name_from_path=name is None,
        )

    def describe_location(self) -> str:
        """Where the rows are, for messages: ``table 'db.t'``, ``parquet files at 's3a://...'`` or ``a query``."""
        if self.table:
            return f"table '{self.table}'"
        if self.path:
            return f"{self.file_format} files at '{self.path}'"
        return "a query"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            **self._common_dict(),
            "table": self.table,
            "query": self.query,
            "path": self.path,
            "file_format": self.file_format,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SparkSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=None if data.get("table") and data["name"] == data["table"] else data["name"],
            table=data.get("table") or None,
            query=data.get("query") or None,
            path=data.get("path") or None,
            file_format=data.get("file_format") or None,
            timestamp_field=data.get("timestamp_field"),
            created_timestamp_column=data.get("created_timestamp_column"),
            field_mapping=data.get("field_mapping"),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )


class SavedDatasetSparkStorage:
    """Where ``RetrievalJob.persist`` writes a training set with the spark offline store (Feast's name).

    >>> SavedDatasetSparkStorage(path="/tmp/training", file_format="parquet").spark_source.path
    '/tmp/training'
    """

    def __init__(
        self,
        table_name: str | None = None,
        query: str | None = None,
        path: str | None = None,
        file_format: str | None = None,
    ) -> None:
        self.spark_source = SparkSource(
            name="saved_dataset", table=table_name, query=query, path=path, file_format=file_format
        )

"""Sources in warehouses ladle does not read: BigQuery, Snowflake, Redshift, Athena, Trino, SQL Server, Oracle.

A Feast repo that defines them still applies on ladle: the definitions load with Feast's arguments, go
into the registry, and show in ``ladle data-sources list/describe``. Nothing reads their rows: a
training set, a materialization or an offline push that needs them fails with
:class:`~ladle.errors.UnsupportedSource`, naming the source and the offline stores ladle has. At
apply time ladle cannot look at their columns, so a view over one must declare its ``schema`` and the
source its ``timestamp_field``.

>>> src = BigQuerySource(table="my_project.my_dataset.driver_stats", timestamp_field="event_timestamp")
>>> (src.name, src.table, src.query)
('my_project.my_dataset.driver_stats', 'my_project.my_dataset.driver_stats', '')
"""

from __future__ import annotations

from typing import Any, ClassVar

from ladle.definitions.sources import DataSource
from ladle.errors import InvalidDefinition, InvalidRequest, UnsupportedSource

__all__ = [
    "READABLE_SOURCES",
    "AthenaSource",
    "BigQuerySource",
    "ExternalSource",
    "MsSqlServerSource",
    "OracleSource",
    "RedshiftSource",
    "SnowflakeSource",
    "TrinoSource",
    "check_readable",
]

#: what ladle's offline stores read, for messages
READABLE_SOURCES = "FileSource (file/duckdb), PostgreSQLSource (postgres), SparkSource and FileSource (spark)"


class ExternalSource(DataSource):
    """A source kept in the registry whose rows no ladle offline store reads.

    Subclasses name Feast's offline store for it (``feast_store``) and its location arguments
    (``location_args``: table, query, database, ...), which become attributes of the same name
    (``""`` when not given).
    """

    feast_store: ClassVar[str] = ""
    location_args: ClassVar[tuple[str, ...]] = ("table", "query")
    #: the location argument an unnamed source is named after
    name_arg: ClassVar[str] = "table"

    def __init__(
        self,
        name: str | None = None,
        *,
        timestamp_field: str | None = None,
        event_timestamp_column: str | None = None,
        created_timestamp_column: str | None = None,
        field_mapping: dict[str, str] | None = None,
        date_partition_column: str | None = None,
        description: str | None = "",
        tags: dict[str, str] | None = None,
        owner: str | None = "",
        **location: str | None,
    ) -> None:
        kind = type(self).__name__
        unknown = sorted(set(location) - set(self.location_args))
        if unknown:
            raise InvalidDefinition(
                kind,
                name,
                f"unknown argument(s) {unknown}",
                f"{kind} takes {', '.join(self.location_args)} besides the common source arguments",
            )
        bad = {k: v for k, v in location.items() if v is not None and not isinstance(v, str)}
        if bad:
            raise InvalidDefinition(kind, name, f"{', '.join(bad)} must be a string, got {bad!r}")
        self.options: dict[str, str] = self._complete({k: location.get(k) or "" for k in self.location_args})
        if {"table", "query"} <= set(self.location_args) and not (self.options["table"] or self.options["query"]):
            raise InvalidDefinition(kind, name, "give table= or query=")
        default_name = self.options[self.name_arg]
        if not name and not default_name:
            raise InvalidDefinition(
                kind, None, f"give it a name= (only a source with {self.name_arg}= is named after it)"
            )
        if timestamp_field and event_timestamp_column and timestamp_field != event_timestamp_column:
            raise InvalidDefinition(
                kind, name or default_name, "give timestamp_field or event_timestamp_column, not both"
            )
        self.date_partition_column = date_partition_column or ""
        self._init_common(
            kind,
            name or default_name,
            timestamp_field or event_timestamp_column,
            created_timestamp_column,
            field_mapping,
            description or "",
            tags,
            owner or "",
            name_from_path=not name,
        )

    def _complete(self, options: dict[str, str]) -> dict[str, str]:
        """Feast's defaults for location arguments left out (a subclass hook)."""
        return options

    def __getattr__(self, attr: str) -> str:
        options = self.__dict__.get("options", {})
        if attr in options:
            return str(options[attr])
        raise AttributeError(f"{type(self).__name__!s} has no attribute {attr!r}")

    def describe_location(self) -> str:
        """Where the rows are, for listings: ``table 'db.t'``, ``a query``, ..."""
        if self.options.get("query") and not self.options.get("table"):
            return "a query"
        where = ", ".join(f"{k} '{v}'" for k, v in self.options.items() if v and k != "query")
        return where or "-"

    def not_readable(self) -> UnsupportedSource:
        """The error for any attempt to read this source's rows."""
        return UnsupportedSource(type(self).__name__, self.name, self.feast_store, READABLE_SOURCES)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            **self._common_dict(),
            "options": dict(self.options),
            "date_partition_column": self.date_partition_column,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExternalSource:
        """Inverse of :meth:`to_dict`."""
        options = data.get("options", {})
        return cls(
            None if data["name"] == options.get(cls.name_arg) else data["name"],
            timestamp_field=data.get("timestamp_field"),
            created_timestamp_column=data.get("created_timestamp_column"),
            field_mapping=data.get("field_mapping"),
            date_partition_column=data.get("date_partition_column"),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
            **options,
        )


def check_readable(source: DataSource) -> None:
    """Raise when an offline store cannot hold ``source``'s rows: :class:`~ladle.errors.UnsupportedSource`
    for a warehouse ladle does not read, InvalidRequest for a push source without a batch source."""
    if isinstance(source, ExternalSource):
        raise source.not_readable()
    if not source.has_history:
        raise InvalidRequest(
            f"{type(source).__name__} '{source.name}' has no batch_source, so its rows are kept online only: "
            "there is no history to train on, materialize from or push offline to "
            "(give it batch_source=FileSource(...) for that)"
        )


class BigQuerySource(ExternalSource):
    """A BigQuery table or query (Feast's ``offline_store: {type: bigquery}``)."""

    source_type = "bigquery"
    feast_store = "bigquery"


class SnowflakeSource(ExternalSource):
    """A Snowflake table or query (Feast's ``offline_store: {type: snowflake.offline}``)."""

    source_type = "snowflake"
    feast_store = "snowflake.offline"
    location_args = ("database", "warehouse", "schema", "table", "query")

    def _complete(self, options: dict[str, str]) -> dict[str, str]:
        if options["database"] and options["table"] and not options["schema"]:
            options["schema"] = "PUBLIC"  # Snowflake's default schema, as Feast fills it in
        return options


class RedshiftSource(ExternalSource):
    """A Redshift table or query (Feast's ``offline_store: {type: redshift}``)."""

    source_type = "redshift"
    feast_store = "redshift"
    location_args = ("table", "schema", "query", "database")

    def _complete(self, options: dict[str, str]) -> dict[str, str]:
        if options["table"] and not options["schema"]:
            options["schema"] = "public"
        return options


class AthenaSource(ExternalSource):
    """An Athena table or query (Feast's ``offline_store: {type: athena}``)."""

    source_type = "athena"
    feast_store = "athena"
    location_args = ("table", "database", "data_source", "query")

    def _complete(self, options: dict[str, str]) -> dict[str, str]:
        if options["table"] and not options["database"]:
            options["database"] = "default"
        return options


class TrinoSource(ExternalSource):
    """A Trino table or query (Feast's ``offline_store: {type: trino}``)."""

    source_type = "trino"
    feast_store = "trino"


class MsSqlServerSource(ExternalSource):
    """A SQL Server table (Feast's ``offline_store: {type: mssql}``)."""

    source_type = "mssql"
    feast_store = "mssql"
    location_args = ("table_ref", "connection_str")
    name_arg = "table_ref"


class OracleSource(ExternalSource):
    """An Oracle table (Feast's ``offline_store: {type: oracle}``)."""

    source_type = "oracle"
    feast_store = "oracle"
    location_args = ("table_ref",)
    name_arg = "table_ref"

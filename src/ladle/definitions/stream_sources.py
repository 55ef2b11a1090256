"""Stream sources: where events arrive as they happen (Kafka, Kinesis, a Redis Stream), each optionally
backed by a ``batch_source`` holding their history for training sets and materialization.

These are definitions only. ``ladle stream`` consumes the sources it has a reader for (a Redis Stream);
any other stream source loads, applies and serves its ``batch_source`` offline, and asking a worker to
consume it fails naming the readers ladle has.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, TypedDict, Unpack

from ladle.definitions.field import Field
from ladle.definitions.sources import DataSource, PushSource, RequestSource, source_from_dict
from ladle.errors import InvalidDefinition

__all__ = [
    "AvroFormat",
    "JsonFormat",
    "KafkaSource",
    "KinesisSource",
    "ProtoFormat",
    "RedisStreamSource",
    "StreamFormat",
    "StreamSource",
    "StreamSourceArgs",
    "stream_format_from_dict",
]


class StreamFormat:
    """Base of the message formats (Feast's ``feast.data_format.StreamFormat``)."""

    format_type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {"type": self.format_type, **self._fields()}

    def _fields(self) -> dict[str, str]:
        return {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamFormat) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.format_type)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({args})"


class JsonFormat(StreamFormat):
    """Messages are JSON objects; ``schema_json`` (optional) documents their shape.

    >>> JsonFormat(schema_json="amount double, user_id bigint").to_dict()["type"]
    'json'
    """

    format_type = "json"

    def __init__(self, schema_json: str = "") -> None:
        self.schema_json = schema_json or ""

    def _fields(self) -> dict[str, str]:
        return {"schema_json": self.schema_json}


class AvroFormat(StreamFormat):
    """Messages are Avro records of the schema ``schema_json``."""

    format_type = "avro"

    def __init__(self, schema_json: str) -> None:
        self.schema_json = schema_json or ""

    def _fields(self) -> dict[str, str]:
        return {"schema_json": self.schema_json}


class ProtoFormat(StreamFormat):
    """Messages are protobuf messages of the class ``class_path``."""

    format_type = "proto"

    def __init__(self, class_path: str) -> None:
        self.class_path = class_path or ""

    def _fields(self) -> dict[str, str]:
        return {"class_path": self.class_path}


_FORMATS: dict[str, type[StreamFormat]] = {"json": JsonFormat, "avro": AvroFormat, "proto": ProtoFormat}


def stream_format_from_dict(data: dict[str, Any] | None) -> StreamFormat | None:
    """Inverse of :meth:`StreamFormat.to_dict` (``None`` stays ``None``)."""
    if data is None:
        return None
    cls = _FORMATS.get(data.get("type", ""))
    if cls is None:
        raise InvalidDefinition("StreamFormat", None, f"unknown message format {data.get('type')!r}")
    args = {k: v for k, v in data.items() if k != "type"}
    return cls(**args)


class StreamSourceArgs(TypedDict, total=False):
    """The keywords every stream source takes besides its own (Feast's names and meanings)."""

    timestamp_field: str
    created_timestamp_column: str
    field_mapping: dict[str, str] | None
    description: str
    tags: dict[str, str] | None
    owner: str
    batch_source: DataSource | None


class StreamSource(DataSource):
    """Base of the stream sources: events from a broker, history in ``batch_source`` (when given)."""

    batch_source: DataSource | None
    message_format: StreamFormat | None
    watermark_delay_threshold: timedelta | None

    def __init__(
        self, *, name: str, message_format: StreamFormat | None = None, **common: Unpack[StreamSourceArgs]
    ) -> None:
        """What every stream source takes (its own keywords aside): ``name``, the message format and
        :class:`StreamSourceArgs`; the subclasses set their own fields, then call this."""
        self._init_stream(
            type(self).__name__,
            name,
            common.get("batch_source"),
            message_format,
            common.get("timestamp_field", ""),
            common.get("created_timestamp_column", ""),
            common.get("field_mapping"),
            (common.get("description", ""), common.get("tags"), common.get("owner", "")),
        )

    def _init_stream(
        self,
        kind: str,
        name: str,
        batch_source: DataSource | None,
        message_format: StreamFormat | None,
        timestamp_field: str | None,
        created_timestamp_column: str | None,
        field_mapping: dict[str, str] | None,
        common: tuple[str, dict[str, str] | None, str],
    ) -> None:
        if batch_source is not None and (
            not isinstance(batch_source, DataSource)
            or isinstance(batch_source, PushSource | RequestSource | StreamSource)
        ):
            raise InvalidDefinition(
                kind, name, f"batch_source must be a batch data source such as FileSource, got {batch_source!r}"
            )
        if message_format is not None and not isinstance(message_format, StreamFormat):
            raise InvalidDefinition(
                kind, name, f"the message format must be JsonFormat(...) or AvroFormat(...), got {message_format!r}"
            )
        self.batch_source = batch_source
        self.message_format = message_format
        description, tags, owner = common
        ts = timestamp_field or (batch_source.timestamp_field if batch_source is not None else "")
        created = created_timestamp_column or (batch_source.created_timestamp_column if batch_source else "")
        mapping = field_mapping if field_mapping is not None else (batch_source.field_mapping if batch_source else None)
        self._init_common(kind, name, ts, created, mapping, description, tags, owner)

    @property
    def batch(self) -> DataSource:
        return self.batch_source if self.batch_source is not None else self

    @property
    def has_history(self) -> bool:
        """Only through a ``batch_source``: ladle does not read a broker's history offline."""
        return self.batch_source is not None

    def _stream_dict(self) -> dict[str, Any]:
        return {
            **self._common_dict(),
            "batch_source": None if self.batch_source is None else self.batch_source.to_dict(),
            "message_format": None if self.message_format is None else self.message_format.to_dict(),
        }

    @staticmethod
    def _common_args(data: dict[str, Any]) -> dict[str, Any]:
        batch = data.get("batch_source")
        return {
            "name": data["name"],
            "batch_source": None if batch is None else source_from_dict(batch),
            "timestamp_field": data.get("timestamp_field"),
            "created_timestamp_column": data.get("created_timestamp_column"),
            "field_mapping": data.get("field_mapping"),
            "description": data.get("description", ""),
            "tags": data.get("tags"),
            "owner": data.get("owner", ""),
        }


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


class KafkaSource(StreamSource):
    """A Kafka topic (Feast's ``KafkaSource``). Defined, applied and read offline through ``batch_source``;
    ``ladle stream`` has no Kafka reader (it names the readers it has).

    >>> from ladle.definitions.sources import FileSource
    >>> batch = FileSource(name="tx", path="data/tx.parquet", timestamp_field="ts")
    >>> KafkaSource(name="tx_stream", kafka_bootstrap_servers="localhost:9092", topic="tx",
    ...             message_format=JsonFormat(schema_json=""), batch_source=batch).timestamp_field
    'ts'
    """

    source_type = "kafka"

    def __init__(
        self,
        *,
        name: str,
        message_format: StreamFormat | None = None,
        kafka_bootstrap_servers: str = "",
        topic: str = "",
        bootstrap_servers: str = "",
        watermark_delay_threshold: timedelta | None = None,
        kafka_settings: dict[str, str] | None = None,
        **common: Unpack[StreamSourceArgs],
    ) -> None:
        self.kafka_bootstrap_servers = kafka_bootstrap_servers or bootstrap_servers or ""
        self.topic = topic or ""
        self.watermark_delay_threshold = watermark_delay_threshold
        self.kafka_settings = dict(kafka_settings or {})
        super().__init__(name=name, message_format=message_format, **common)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            **self._stream_dict(),
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "topic": self.topic,
            "watermark_delay_threshold_seconds": _seconds(self.watermark_delay_threshold),
            "kafka_settings": self.kafka_settings,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KafkaSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **cls._common_args(data),
            message_format=stream_format_from_dict(data.get("message_format")),
            kafka_bootstrap_servers=data.get("kafka_bootstrap_servers", ""),
            topic=data.get("topic", ""),
            watermark_delay_threshold=_delta(data.get("watermark_delay_threshold_seconds")),
            kafka_settings=data.get("kafka_settings"),
        )


class KinesisSource(StreamSource):
    """An AWS Kinesis stream (Feast's ``KinesisSource``). Defined, applied and read offline through
    ``batch_source``; ``ladle stream`` has no Kinesis reader (it names the readers it has)."""

    source_type = "kinesis"

    def __init__(
        self,
        *,
        name: str,
        record_format: StreamFormat | None = None,
        region: str = "",
        stream_name: str = "",
        **common: Unpack[StreamSourceArgs],
    ) -> None:
        self.region = region or ""
        self.stream_name = stream_name or ""
        self.watermark_delay_threshold = None
        super().__init__(name=name, message_format=record_format, **common)

    @property
    def record_format(self) -> StreamFormat | None:
        """Feast's name for the message format of a Kinesis record."""
        return self.message_format

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {**self._stream_dict(), "region": self.region, "stream_name": self.stream_name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KinesisSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **cls._common_args(data),
            record_format=stream_format_from_dict(data.get("message_format")),
            region=data.get("region", ""),
            stream_name=data.get("stream_name", ""),
        )


class RedisStreamSource(StreamSource):
    """A Redis Stream that ``ladle stream`` consumes (consumer group), ladle's own stream source.

    Each entry's fields are the event's columns: a ``JsonFormat`` message puts them as one JSON object in
    the entry field ``payload_field`` (default ``"payload"``); without a format each entry field is a column.
    ``schema`` declares the event columns and their types (values are converted to them); ``field_mapping``
    renames message keys to column names as on every source; ``event_id_field`` names a column that
    identifies an event, so a replayed event is recognised by it (else by key, timestamp and payload).
    ``connection_string`` is the Redis to read (``redis://host:port/db``); empty means the one
    ``ladle stream`` is given. Events are appended to ``batch_source`` when it is writable.

    >>> from ladle.types import Float64, Int64
    >>> from ladle.definitions.sources import FileSource
    >>> batch = FileSource(name="tx", path="data/tx.parquet", timestamp_field="event_timestamp")
    >>> src = RedisStreamSource(name="tx_events", stream="tx", batch_source=batch, message_format=JsonFormat(),
    ...                         schema=[Field(name="user_id", dtype=Int64), Field(name="amount", dtype=Float64)])
    >>> src.stream, src.timestamp_field
    ('tx', 'event_timestamp')
    """

    source_type = "redis_stream"

    def __init__(
        self,
        *,
        name: str,
        stream: str,
        batch_source: DataSource | None = None,
        schema: list[Field] | None = None,
        message_format: StreamFormat | None = None,
        payload_field: str = "payload",
        event_id_field: str = "",
        connection_string: str = "",
        timestamp_field: str = "",
        created_timestamp_column: str = "",
        field_mapping: dict[str, str] | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
    ) -> None:
        if not isinstance(stream, str) or not stream:
            raise InvalidDefinition("RedisStreamSource", name, f"stream must be a non-empty string, got {stream!r}")
        if message_format is not None and not isinstance(message_format, JsonFormat):
            raise InvalidDefinition(
                "RedisStreamSource",
                name,
                f"reads JSON messages or plain entry fields, not {type(message_format).__name__}",
                "use message_format=JsonFormat() or leave it out",
            )
        if not all(isinstance(f, Field) for f in schema or []):
            raise InvalidDefinition("RedisStreamSource", name, "schema entries must be Field objects")
        self.stream = stream
        self.schema = list(schema or [])
        self.payload_field = payload_field or "payload"
        self.event_id_field = event_id_field or ""
        self.connection_string = connection_string or ""
        self.watermark_delay_threshold = None
        self._init_stream(
            "RedisStreamSource",
            name,
            batch_source,
            message_format,
            timestamp_field or (PushSource.ONLINE_ONLY_TIMESTAMP if batch_source is None else ""),
            created_timestamp_column,
            field_mapping,
            (description, tags, owner),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            **self._stream_dict(),
            "stream": self.stream,
            "schema": [f.to_dict() for f in self.schema],
            "payload_field": self.payload_field,
            "event_id_field": self.event_id_field,
            "connection_string": self.connection_string,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RedisStreamSource:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **cls._common_args(data),
            stream=data["stream"],
            schema=[Field.from_dict(f) for f in data.get("schema", [])],
            message_format=stream_format_from_dict(data.get("message_format")),
            payload_field=data.get("payload_field", "payload"),
            event_id_field=data.get("event_id_field", ""),
            connection_string=data.get("connection_string", ""),
        )

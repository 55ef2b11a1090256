"""Which sources ``ladle stream`` consumes, and how: the views each feeds, its columns and its reader.

The worker consumes stream sources it has a reader for (:data:`READERS`: a Redis Stream, i.e.
``RedisStreamSource``); naming any other source is one error that lists what is supported. Adding a
broker is a reader module plus one entry here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from ladle.definitions import DataSource, FeatureView
from ladle.definitions.stream_sources import RedisStreamSource, StreamSource
from ladle.errors import BackendError, InvalidRequest, NotFound
from ladle.stream.decode import MessageDecoder
from ladle.stream.reader_base import StreamReader
from ladle.types import to_arrow

__all__ = ["READERS", "ReaderSettings", "StreamBinding", "make_reader", "resolve_bindings"]

from ladle.common.times import UTC_US as _UTC_US


@dataclass(frozen=True)
class ReaderSettings:
    """How to consume: the consumer group and name, where Redis is when the source does not say."""

    group: str = "ladle"
    consumer: str = ""
    connection: str = ""
    claim_idle_seconds: float = 30.0

    def consumer_name(self) -> str:
        """The consumer's name: as given, else ``host-pid`` (a restart then claims its old messages
        after ``claim_idle_seconds``; give a fixed name to take them back at once)."""
        return self.consumer or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class StreamBinding:
    """One consumed source: the views it feeds and how its messages become rows."""

    source: DataSource
    views: tuple[FeatureView, ...]
    decoder: MessageDecoder
    #: the batch source is written to (appended offline) as well as the online store
    offline: bool

    @property
    def online(self) -> bool:
        """Whether any view fed by the source is served online."""
        return any(v.online for v in self.views)


def _redis_reader(source: DataSource, settings: ReaderSettings, online_connection: str) -> StreamReader:
    from ladle.stream.redis_streams import RedisStreamReader

    assert isinstance(source, RedisStreamSource)
    return RedisStreamReader(
        source.connection_string or settings.connection or online_connection or "localhost:6379",
        source.stream,
        settings.group,
        settings.consumer_name(),
        settings.claim_idle_seconds,
    )


#: source type -> reader factory (source, settings, the online store's Redis connection or "")
READERS: dict[str, tuple[str, Callable[[DataSource, ReaderSettings, str], StreamReader]]] = {
    RedisStreamSource.source_type: ("RedisStreamSource (a Redis Stream)", _redis_reader),
}


def supported() -> str:
    """The sources ``ladle stream`` can consume, for messages."""
    return ", ".join(label for label, _ in READERS.values())


def make_reader(source: DataSource, settings: ReaderSettings, online_connection: str = "") -> StreamReader:
    """The reader for ``source`` (InvalidRequest naming the supported sources when there is none)."""
    entry = READERS.get(source.source_type)
    if entry is None:
        raise InvalidRequest(
            f"ladle stream cannot consume {type(source).__name__} '{source.name}': it reads {supported()} only"
        )
    return entry[1](source, settings, online_connection)


def resolve_bindings(
    sources: list[DataSource],
    views: list[FeatureView],
    names: Sequence[str],
    batch_schema: Callable[[DataSource], pa.Schema],
    offline: bool,
    project: str,
) -> list[StreamBinding]:
    """The bindings of the sources ``names`` (every consumable source feeding a view when empty)."""
    by_name = {s.name: s for s in sources}
    if names:
        chosen = []
        for name in names:
            if name not in by_name:
                streams = [s.name for s in sources if isinstance(s, StreamSource)]
                raise NotFound("stream source", name, project, streams)
            chosen.append(by_name[name])
    else:
        chosen = [s for s in sources if s.source_type in READERS and any(v.source.name == s.name for v in views)]
        if not chosen:
            raise InvalidRequest(
                f"project '{project}' has no stream source feeding a feature view that ladle stream can "
                f"consume ({supported()}); define one, use it as a view's source and run `ladle apply`"
            )
    out = []
    for source in chosen:
        if source.source_type not in READERS:
            make_reader(source, ReaderSettings())  # raises: one line naming the supported sources
        fed = tuple(v for v in views if v.source.name == source.name)
        if not fed:
            raise InvalidRequest(
                f"stream source '{source.name}' is not the source of any feature view, so its events would go "
                "nowhere (use it as a view's source and run `ladle apply`)"
            )
        writable = offline and source.has_history
        out.append(StreamBinding(source, fed, _decoder(source, fed, batch_schema, writable), writable))
    return out


def _decoder(
    source: DataSource, views: tuple[FeatureView, ...], batch_schema: Callable[[DataSource], pa.Schema], offline: bool
) -> MessageDecoder:
    """Columns (raw names) and their types: the source's declared schema, else the batch source's columns,
    else what the views need; the timestamp and join keys are required."""
    inverse = {v: k for k, v in source.field_mapping.items()}
    columns: dict[str, pa.DataType] = {}
    declared = getattr(source, "schema", None) or []
    for f in declared:
        columns[f.name] = to_arrow(f.dtype)
    if offline or not declared:
        try:
            for f in batch_schema(source.batch) if source.has_history else []:
                columns.setdefault(f.name, f.type)
        except BackendError:
            if offline:
                raise
    for view in views:
        for f in [*view.entity_columns, *view.features]:
            columns.setdefault(inverse.get(f.name, f.name), to_arrow(f.dtype))
    ts = source.timestamp_field
    columns[ts] = columns.get(ts, _UTC_US) if pa.types.is_timestamp(columns.get(ts, _UTC_US)) else _UTC_US
    keys = [inverse.get(k, k) for v in views for k in v.join_keys]
    payload = getattr(source, "payload_field", "payload") if getattr(source, "message_format", None) else ""
    return MessageDecoder(columns, list(dict.fromkeys([*keys, ts])), payload)

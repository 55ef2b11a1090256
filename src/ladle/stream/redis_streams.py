"""Reading a Redis Stream with a consumer group (``XREADGROUP``), for ``ladle stream``.

Delivery: a message is acknowledged (``XACK``) only after the worker wrote it, so a worker that dies
leaves its batch pending in the group. On start the reader first hands out its own pending messages
(same consumer name), then periodically claims messages other consumers left pending longer than
``claim_idle_seconds`` (``XAUTOCLAIM``), then reads new ones (``>``).

Batch identity: before a batch is handed out, the id of its batch is recorded for each message in the
*journal*, a hash ``ladle:stream:{stream}:{group}:journal`` (message id -> batch id). A redelivered
message is regrouped with the other messages of its journaled batch, so the batch comes back with the same
id and the same messages however the broker redelivers them. Acknowledging removes the messages from the
group and from the journal in one transaction. The journal holds only messages in flight (at most the
workers times the batch size).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ladle.drivers.lazy_import import lazy_module
from ladle.errors import BackendFailure, BackendUnavailable, InvalidConfig, MissingExtra
from ladle.online.redis import _connection_kwargs
from ladle.stream.reader_base import Batch, Message, StreamReader

redis_lib = lazy_module("redis")

__all__ = ["RedisStreamReader", "dead_letter_stream", "journal_key"]

_PAGE = 1_000


def journal_key(stream: str, group: str) -> str:
    """The hash recording the batch of every message in flight."""
    return f"ladle:stream:{stream}:{group}:journal"


def dead_letter_stream(stream: str) -> str:
    """Where messages that cannot be processed are kept (with an ``error`` field)."""
    return f"{stream}:dead"


def batch_id_of(ids: Iterable[str]) -> str:
    """A batch id derived from its message ids only (the first id, the count and a digest of all)."""
    ordered = sorted(ids, key=_id_order)
    digest = hashlib.sha1(",".join(ordered).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{ordered[0]}_{len(ordered)}_{digest}"


def _id_order(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


class RedisStreamReader(StreamReader):
    """One consumer (``consumer``) of ``stream`` in ``group``; creates the group (from the stream's start)
    when it does not exist yet."""

    def __init__(
        self,
        connection_string: str,
        stream: str,
        group: str,
        consumer: str,
        claim_idle_seconds: float = 30.0,
        start_id: str = "0",
    ) -> None:
        if redis_lib is None:
            raise MissingExtra("ladle stream (Redis Streams)", "redis", "redis")
        self._url = connection_string if "://" in connection_string else ""
        try:
            self._kwargs = {} if self._url else _connection_kwargs(connection_string)
        except ValueError as exc:
            raise InvalidConfig("the stream source", f"Redis connection string {exc}") from None
        # never the password: only host and port appear in messages
        parts = urlsplit(self._url) if self._url else None
        self._where = (
            f"{parts.hostname}:{parts.port or 6379}" if parts else f"{self._kwargs['host']}:{self._kwargs['port']}"
        )
        self.stream, self.group, self.consumer = stream, group, consumer
        self.description = f"redis stream '{stream}' (group '{group}', consumer '{consumer}')"
        self.claim_idle_ms = max(1, int(claim_idle_seconds * 1000))
        self._start_id = start_id
        self._client: Any = None
        self._journal = journal_key(stream, group)
        self._own_pending_done = False
        self._next_claim = 0.0
        self._queue: list[Batch] = []

    # --- connection --------------------------------------------------------------------------------
    def _redis(self) -> Any:
        if self._client is None:
            timeouts = {"socket_timeout": 10, "socket_connect_timeout": 2}
            if self._url:
                client = redis_lib.Redis.from_url(self._url, **timeouts)
            else:
                client = redis_lib.Redis(**self._kwargs, **timeouts)
            try:
                client.xgroup_create(self.stream, self.group, id=self._start_id, mkstream=True)
            except redis_lib.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._client = client
        return self._client

    def _call(self, doing: str, fn: Any) -> Any:
        """Run ``fn(client)``, mapping driver errors to ladle's (a lost connection is retryable)."""
        try:
            return fn(self._redis())
        except (redis_lib.ConnectionError, redis_lib.TimeoutError) as exc:
            self.close()
            raise BackendUnavailable(
                "redis stream", f"cannot reach Redis at {self._where} while {doing}: {exc}", "start Redis"
            ) from exc
        except redis_lib.RedisError as exc:
            raise BackendFailure("redis stream", f"{doing} on '{self.stream}' failed: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    # --- reading -----------------------------------------------------------------------------------
    def next_batch(self, max_messages: int, wait_seconds: float) -> Batch | None:
        if self._queue:
            return self._queue.pop(0)
        if not self._own_pending_done:
            self._queue = self._call("reading this consumer's pending messages", self._own_pending)
            self._own_pending_done = True
            if self._queue:
                return self._queue.pop(0)
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self.claim_idle_ms / 1000 / 2
            self._queue = self._call("claiming messages idle in other consumers", self._claim_idle)
            if self._queue:
                return self._queue.pop(0)
        block_ms = max(1, int(wait_seconds * 1000))
        reply = self._call(
            "reading new messages",
            lambda r: r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=max_messages, block=block_ms),
        )
        messages = [m for _, entries in reply or [] for m in _messages(entries)]
        if not messages:
            return None
        batch = Batch(batch_id_of(m.message_id for m in messages), tuple(messages))
        self._call("recording the batch in the journal", lambda r: self._record(r, batch))
        return batch

    def _record(self, r: Any, batch: Batch) -> None:
        r.hset(self._journal, mapping={m.message_id: batch.batch_id for m in batch.messages})

    def _own_pending(self, r: Any) -> list[Batch]:
        """This consumer's pending messages (a batch it was processing when it stopped), regrouped."""
        found: list[tuple[str, dict[str, bytes] | None]] = []
        after = "0"
        while True:
            reply = r.xreadgroup(self.group, self.consumer, {self.stream: after}, count=_PAGE)
            entries = reply[0][1] if reply else []
            if not entries:
                break
            found.extend((_text(i), f or None) for i, f in entries)
            after = _text(entries[-1][0])
        return self._regroup(r, found)

    def _claim_idle(self, r: Any) -> list[Batch]:
        """Messages other consumers left pending longer than the claim time, taken over and regrouped."""
        found: list[tuple[str, dict[str, bytes] | None]] = []
        start = "0-0"
        for _ in range(100):  # bounded: at most 100 pages per claim round
            reply = r.xautoclaim(self.stream, self.group, self.consumer, self.claim_idle_ms, start, count=_PAGE)
            start, entries = _text(reply[0]), reply[1]
            found.extend((_text(i), f or None) for i, f in entries)
            if start == "0-0":
                break
        return self._regroup(r, found)

    def _regroup(self, r: Any, found: list[tuple[str, dict[str, bytes] | None]]) -> list[Batch]:
        """Pending messages as the batches the journal recorded (complete, same ids); unrecorded ones (read
        but never handed out) as a new batch."""
        if not found:
            return []
        recorded = r.hmget(self._journal, [i for i, _ in found])
        fields = dict(found)
        groups: dict[str, list[str]] = {}
        fresh: list[str] = []
        for (message_id, _), batch_id in zip(found, recorded, strict=True):
            if batch_id is None:
                fresh.append(message_id)
            else:
                groups.setdefault(_text(batch_id), []).append(message_id)
        batches = [self._complete(r, batch_id, ids, fields) for batch_id, ids in groups.items()]
        if fresh:
            batch_id = batch_id_of(fresh)
            r.hset(self._journal, mapping=dict.fromkeys(fresh, batch_id))
            batches.append(self._batch(batch_id, fresh, fields, redelivered=True))
        return sorted(batches, key=lambda b: _id_order(b.batch_id.partition("_")[0]))

    def _complete(self, r: Any, batch_id: str, ids: list[str], fields: dict[str, Any]) -> Batch:
        """The whole journaled batch ``batch_id``: messages of it found elsewhere are read by id."""
        members = [_text(k) for k, v in r.hgetall(self._journal).items() if _text(v) == batch_id]
        for message_id in members:
            if message_id not in fields:
                entries = r.xrange(self.stream, message_id, message_id)
                fields[message_id] = entries[0][1] if entries else None
        return self._batch(batch_id, members or ids, fields, redelivered=True)

    @staticmethod
    def _batch(batch_id: str, ids: list[str], fields: dict[str, Any], redelivered: bool) -> Batch:
        ordered = sorted(ids, key=_id_order)
        messages = tuple(Message(i, _fields(fields[i])) for i in ordered if fields.get(i))
        vanished = tuple(i for i in ordered if not fields.get(i))
        return Batch(batch_id, messages, redelivered, vanished)

    # --- acknowledging ----------------------------------------------------------------------------
    def ack(self, batch: Batch) -> None:
        ids = batch.message_ids
        if not ids:
            return

        def run(r: Any) -> None:
            with r.pipeline(transaction=True) as tx:
                tx.xack(self.stream, self.group, *ids)
                tx.hdel(self._journal, *ids)
                tx.execute()

        self._call("acknowledging a batch", run)

    def dead_letter(self, message: Message, reason: str) -> None:
        record = {**message.fields, "error": reason.encode(), "message_id": message.message_id.encode()}
        self._call("keeping a bad message", lambda r: r.xadd(dead_letter_stream(self.stream), record))

    def lag(self) -> int | None:
        def run(r: Any) -> int | None:
            for info in r.xinfo_groups(self.stream):
                if _text(info.get("name")) == self.group:
                    value = info.get("lag")
                    return None if value is None else int(value)
            return None

        return self._call("reading the group's lag", run)  # type: ignore[no-any-return]


def _messages(entries: list[Any]) -> list[Message]:
    return [Message(_text(i), _fields(f)) for i, f in entries if f]


def _fields(raw: dict[Any, Any]) -> dict[str, bytes]:
    return {_text(k): v if isinstance(v, bytes) else str(v).encode() for k, v in raw.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""The stream worker behind ``ladle stream`` and ``ladle serve --stream``.

Per batch: decode the messages (bad ones go to the dead-letter stream), write the rows online through
``FeatureStore.push`` (which updates window state idempotently: a replayed event never counts twice), append
them offline keyed by the batch id (:mod:`.offline_sink`), and only then acknowledge the batch. A write that
fails is retried with backoff, the batch still unacknowledged; a worker that dies leaves its batch pending and
the reader hands it out again, same id, same messages. :meth:`StreamWorker.stop` (SIGTERM) lets the batch in
hand finish, then returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ladle.errors import InvalidRequest, LadleError
from ladle.ingest.push import PushMode
from ladle.stream.binding import StreamBinding
from ladle.stream.metrics import PrometheusStreamMetrics, StreamStats
from ladle.stream.offline_sink import OfflineSink
from ladle.stream.reader_base import Batch, Message, StreamReader

if TYPE_CHECKING:
    from ladle.store import FeatureStore

__all__ = ["StreamWorker", "WorkerOptions"]

_log = logging.getLogger("ladle.stream")


@dataclass(frozen=True)
class WorkerOptions:
    """Batch size, how long one read waits, how often the lag is read, the retry backoff cap."""

    batch_size: int = 500
    wait_seconds: float = 1.0
    lag_every_seconds: float = 2.0
    max_backoff_seconds: float = 30.0
    #: stop after this many events (None: run until stopped); for scripted runs and tests
    max_events: int | None = None


class StreamWorker:
    """Consumes one source (``binding``) with ``reader`` into ``store``."""

    def __init__(
        self,
        store: FeatureStore,
        binding: StreamBinding,
        reader: StreamReader,
        options: WorkerOptions | None = None,
        metrics: PrometheusStreamMetrics | None = None,
    ) -> None:
        self.store, self.binding, self.reader = store, binding, reader
        self.options = options or WorkerOptions()
        self.metrics = metrics
        self.name = binding.source.name
        self.stats = StreamStats(self.name)
        self.sink = OfflineSink(store.offline_store, binding.source, store.repo_path) if binding.offline else None
        self._stop = threading.Event()
        self._next_lag = 0.0

    def stop(self) -> None:
        """Ask the worker to stop after the batch in hand (safe from a signal handler or another thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def run(self) -> StreamStats:
        """Consume until stopped (or ``max_events``); returns the totals. The reader is closed at the end."""
        try:
            while not self._stop.is_set():
                self._report_lag()
                batch = self._with_retries("reading", lambda: self.reader.next_batch(*self._read_args()))
                if batch is not None:
                    self._with_retries("writing", lambda b=batch: self.process(b))
                limit = self.options.max_events
                if limit is not None and self.stats.events + self.stats.rejected >= limit:
                    break
        finally:
            self._report_lag(force=True)  # the totals printed at the end show the lag as it is then
            self.reader.close()
        return self.stats

    def _read_args(self) -> tuple[int, float]:
        return self.options.batch_size, self.options.wait_seconds

    def _report_lag(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_lag:
            return
        self._next_lag = now + self.options.lag_every_seconds
        try:
            self.stats.lag = self.reader.lag()
        except LadleError as exc:
            _log.debug("could not read the lag of %s: %s", self.name, exc)
            return
        if self.metrics is not None:
            self.metrics.set_lag(self.name, self.stats.lag)

    def _with_retries(self, doing: str, step: Any) -> Any:
        """Run ``step()`` until it succeeds or the worker is stopped (then ``None``), backing off on errors."""
        delay = 0.1
        while True:
            try:
                return step()
            except Exception as exc:  # a stream worker outlives any one failure
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if self.metrics is not None:
                    self.metrics.error(self.name)
                _log.warning("stream source '%s': %s failed, retrying in %.1f s: %s", self.name, doing, delay, exc)
            if self._stop.wait(delay):
                return None
            delay = min(delay * 2, self.options.max_backoff_seconds)

    # --- one batch ---------------------------------------------------------------------------------
    def process(self, batch: Batch) -> None:
        """Write ``batch`` online and offline, keep its bad messages, then acknowledge it."""
        started = time.perf_counter()
        decoded = self.binding.decoder.decode(batch.messages)
        rejected = list(decoded.rejected)
        rows, messages = decoded.table, decoded.messages
        try:
            self._write(rows, batch.batch_id)
        except InvalidRequest:
            rows, more = self._isolate(messages, batch.batch_id)
            rejected += more
        for message, reason in rejected:
            self.reader.dead_letter(message, reason)
            _log.warning("stream source '%s': message %s rejected: %s", self.name, message.message_id, reason)
        self.reader.ack(batch)
        self.stats.rejected += len(rejected)
        self.stats.redelivered_batches += int(batch.redelivered)
        self.stats.wrote(rows.num_rows)
        if self.metrics is not None:
            self.metrics.batch(self.name, rows.num_rows, len(rejected), time.perf_counter() - started)

    def _write(self, rows: pa.Table, batch_id: str) -> None:
        """Online through push, then offline; every row is checked against the offline source first."""
        if rows.num_rows == 0:
            return
        if self.sink is not None:
            self.sink.aligned(rows)  # a value the offline source cannot hold fails before any write
        if self.binding.online:
            self.store.push(self.binding.source.name, rows, to=PushMode.ONLINE)
        if self.sink is not None:
            self.sink.write(rows, batch_id)

    def _isolate(self, messages: list[Message], batch_id: str) -> tuple[pa.Table, list[tuple[Message, str]]]:
        """The batch failed as a whole on its data: find the messages at fault, write the rest."""
        rejected: list[tuple[Message, str]] = []
        good: list[Message] = []
        for m in messages:
            one = self.binding.decoder.decode([m])
            try:
                if self.sink is not None:
                    self.sink.aligned(one.table)
                if self.binding.online:
                    self.store.push(self.binding.source.name, one.table, to=PushMode.ONLINE)
                good.append(m)
            except InvalidRequest as exc:
                rejected.append((m, str(exc)))
        rows = self.binding.decoder.decode(good).table
        if self.sink is not None:
            self.sink.write(rows, batch_id)
        return rows, rejected

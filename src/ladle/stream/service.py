"""Running stream workers: one thread per consumed source, started and stopped together (what ``ladle
stream`` and ``ladle serve --stream`` hold)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ladle.stream.binding import ReaderSettings, make_reader, resolve_bindings
from ladle.stream.metrics import PrometheusStreamMetrics, StreamStats
from ladle.stream.worker import StreamWorker, WorkerOptions

if TYPE_CHECKING:
    from ladle.store import FeatureStore

__all__ = ["StreamService"]


class StreamService:
    """Workers for the stream sources ``names`` of ``store``'s registry (all consumable ones when empty).

    >>> # service = StreamService(FeatureStore("."), ["transactions_stream"]); service.start(); ...; service.stop()
    """

    def __init__(
        self,
        store: FeatureStore,
        names: Sequence[str] = (),
        reader: ReaderSettings | None = None,
        options: WorkerOptions | None = None,
        offline: bool = True,
        metrics: PrometheusStreamMetrics | None = None,
    ) -> None:
        store.finish_pending_apply()
        bindings = resolve_bindings(
            store.registry.list_data_sources(),
            store.list_feature_views(),
            names,
            store.offline_store.source_schema,
            offline,
            store.project,
        )
        settings = reader or ReaderSettings()
        online = store.config.online_store
        connection = str(getattr(online, "connection_string", "")) if online is not None else ""
        if online is not None and online.type != "redis":
            connection = ""
        self.workers = [
            StreamWorker(store, b, make_reader(b.source, settings, connection), options, metrics) for b in bindings
        ]
        self._threads: list[threading.Thread] = []

    @property
    def stats(self) -> list[StreamStats]:
        """Each worker's running totals."""
        return [w.stats for w in self.workers]

    def start(self) -> None:
        """Start every worker in its own daemon thread."""
        for worker in self.workers:
            thread = threading.Thread(target=worker.run, name=f"ladle-stream-{worker.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        """Whether any worker is still running."""
        return any(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask every worker to stop after its batch in hand and wait up to ``timeout`` seconds; ``True``
        when all stopped in time."""
        for worker in self.workers:
            worker.stop()
        for thread in self._threads:
            thread.join(timeout)
        return not self.alive()

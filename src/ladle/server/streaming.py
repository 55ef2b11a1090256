"""``ladle serve --stream``: the stream workers of ``ladle stream`` inside the server process.

The workers run in background threads with their own :class:`~ladle.store.FeatureStore` (their writes
never wait behind requests for a connection), start with the app and stop — their batch in hand finished
and acknowledged — when it shuts down. Their metrics are served by the server's ``/metrics``.
"""

from __future__ import annotations

import logging

from ladle.config import RepoConfig
from ladle.server.metrics import ServerMetrics
from ladle.store import FeatureStore
from ladle.stream.binding import resolve_bindings
from ladle.stream.metrics import PrometheusStreamMetrics
from ladle.stream.service import StreamService

__all__ = ["ServerStream", "check_streamable"]

_log = logging.getLogger("ladle.server")
#: how long shutdown waits for the workers' batches in hand
STOP_TIMEOUT_S = 20.0


def check_streamable(config: RepoConfig) -> None:
    """Raise the error ``ladle serve --stream`` would hit at start (no stream source to consume, a source
    without a reader), so the command fails in one line before the server starts."""
    store = FeatureStore(config=config)
    try:
        resolve_bindings(
            store.registry.list_data_sources(),
            store.list_feature_views(),
            (),
            store.offline_store.source_schema,
            True,
            store.project,
        )
    finally:
        store.close()


class ServerStream:
    """Stream workers for every consumable source of the repo of ``config``."""

    def __init__(self, config: RepoConfig, metrics: ServerMetrics) -> None:
        self._config = config
        self._metrics = PrometheusStreamMetrics(metrics.registry)
        self._store: FeatureStore | None = None
        self._service: StreamService | None = None

    def start(self) -> None:
        """Resolve the sources and start the workers (a LadleError here stops the server from starting)."""
        self._store = FeatureStore(config=self._config)
        self._service = StreamService(self._store, metrics=self._metrics)
        self._service.start()
        for worker in self._service.workers:
            _log.info("consuming %s", worker.reader.description)

    def stop(self) -> None:
        """Stop the workers after their batch in hand, then close their store."""
        if self._service is not None and not self._service.stop(STOP_TIMEOUT_S):
            _log.warning("stream workers did not stop within %.0f s", STOP_TIMEOUT_S)
        if self._store is not None:
            self._store.close()

"""Prometheus metrics of the feature server (``GET /metrics``), collected by an ASGI middleware.

* ``ladle_server_requests_total{route, method, status}``
* ``ladle_server_request_duration_seconds{route}`` (histogram, 0.5 ms to 10 s buckets)
* ``ladle_server_errors_total{route, type}`` (``type`` is the error type of the JSON body)
* ``ladle_server_registry_refreshes_total{outcome}`` (``ok`` or ``error``)

``route`` is the route's path, or ``unmatched`` for paths the server does not have (so a scan of random
paths cannot grow the label set). With several workers, ``ladle serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` and every worker's ``/metrics`` reports the sum over all workers.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

__all__ = ["MetricsMiddleware", "ServerMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


class ServerMetrics:
    """The server's metric objects and their exposition."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        # In multiprocess mode values live in files shared by the workers, collected at exposition.
        reg = None if self.multiprocess else self.registry
        self.requests = Counter(
            "ladle_server_requests", "HTTP requests served.", ["route", "method", "status"], registry=reg
        )
        self.latency = Histogram(
            "ladle_server_request_duration_seconds",
            "Time to answer a request.",
            ["route"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.errors = Counter("ladle_server_errors", "Error responses by type.", ["route", "type"], registry=reg)
        self.refreshes = Counter(
            "ladle_server_registry_refreshes", "Background registry reads.", ["outcome"], registry=reg
        )

    def refreshed(self, ok: bool) -> None:
        """Count one background registry read."""
        self.refreshes.labels("ok" if ok else "error").inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the text format the scraper accepts, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return encoder(registry), content_type
        return encoder(self.registry), content_type


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: no per-request objects beyond two closures)."""

    def __init__(self, app: Any, metrics: ServerMetrics, routes: set[str]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (str(id(metric)), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in self.routes else UNMATCHED
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            status = 500
            scope.setdefault("ladle", {})["error_type"] = "InternalError"
            raise
        finally:
            self._record(scope, route, status, time.perf_counter() - start)

    def _record(self, scope: dict[str, Any], route: str, status: int, seconds: float) -> None:
        m = self.metrics
        self._child(m.requests, route, scope["method"], str(status)).inc()
        self._child(m.latency, route).observe(seconds)
        if status >= 400:
            kind = scope.get("ladle", {}).get("error_type", str(status))
            self._child(m.errors, route, kind).inc()

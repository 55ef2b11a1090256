"""What a stream worker reports: counts and rates for the console, Prometheus metrics when the server
extra (``prometheus_client``) is installed.

* ``ladle_stream_events_total{source}``: events written (online, and offline when the source is writable)
* ``ladle_stream_batches_total{source}``: batches written and acknowledged
* ``ladle_stream_rejected_total{source}``: messages that could not be processed (kept in ``{stream}:dead``)
* ``ladle_stream_errors_total{source}``: failed attempts to write a batch (retried)
* ``ladle_stream_lag{source}``: messages in the stream not yet handed to the group
* ``ladle_stream_batch_duration_seconds{source}``: time to write and acknowledge one batch
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PrometheusStreamMetrics", "StreamStats", "prometheus_metrics"]


@dataclass
class StreamStats:
    """Running totals of one worker (read by the console from another thread: plain ints, no locking)."""

    source: str
    events: int = 0
    batches: int = 0
    rejected: int = 0
    errors: int = 0
    redelivered_batches: int = 0
    lag: int | None = None
    last_error: str = ""
    started: float = field(default_factory=time.monotonic)
    _window: list[tuple[float, int]] = field(default_factory=list)

    def wrote(self, events: int, now: float | None = None) -> None:
        """Count a written batch of ``events`` events."""
        self.events += events
        self.batches += 1
        self._window.append((time.monotonic() if now is None else now, self.events))
        if len(self._window) > 64:
            del self._window[: len(self._window) - 64]

    def rate(self, now: float | None = None, span: float = 10.0) -> float:
        """Events per second since about ``span`` seconds ago (since the start at first)."""
        now = time.monotonic() if now is None else now
        base_t, base_n = self.started, 0
        for t, n in self._window:
            if now - t <= span:
                break
            base_t, base_n = t, n
        elapsed = now - base_t
        return (self.events - base_n) / elapsed if elapsed > 0 else 0.0


class PrometheusStreamMetrics:
    """The stream metrics in a Prometheus ``registry`` (``None``: prometheus_client's default registry). In
    multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) values also go to the shared files, whatever the registry."""

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        registry = REGISTRY if registry is None else registry

        self.events = Counter("ladle_stream_events", "Stream events written.", ["source"], registry=registry)
        self.batches = Counter("ladle_stream_batches", "Stream batches written.", ["source"], registry=registry)
        self.rejected = Counter(
            "ladle_stream_rejected", "Stream messages that could not be processed.", ["source"], registry=registry
        )
        self.errors = Counter(
            "ladle_stream_errors", "Failed attempts to write a stream batch.", ["source"], registry=registry
        )
        self.lag = Gauge(
            "ladle_stream_lag",
            "Stream messages not yet handed to the consumer group.",
            ["source"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.duration = Histogram(
            "ladle_stream_batch_duration_seconds",
            "Time to write and acknowledge one stream batch.",
            ["source"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
        )

    def batch(self, source: str, events: int, rejected: int, seconds: float) -> None:
        """Record one written batch."""
        self.events.labels(source).inc(events)
        self.batches.labels(source).inc()
        if rejected:
            self.rejected.labels(source).inc(rejected)
        self.duration.labels(source).observe(seconds)

    def error(self, source: str) -> None:
        """Record one failed write attempt."""
        self.errors.labels(source).inc()

    def set_lag(self, source: str, lag: int | None) -> None:
        """Record the group's lag (unknown lags are not exported)."""
        if lag is not None:
            self.lag.labels(source).set(lag)


def prometheus_metrics(registry: Any = None) -> PrometheusStreamMetrics | None:
    """Stream metrics when ``prometheus_client`` is installed (the server extra), else ``None``."""
    if importlib.util.find_spec("prometheus_client") is None:
        return None
    return PrometheusStreamMetrics(registry)

"""``ladle stream``: running the stream workers in the foreground with progress on the console.

On a terminal a live table shows, per source, events written, the rate, the lag and rejected messages; on a
pipe the same is one line every few seconds. SIGTERM or Ctrl-C stops the workers after their batch in hand
and prints the totals; the exit code is 0.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ladle.errors import InvalidRequest, MissingExtra

if TYPE_CHECKING:
    from ladle.store import FeatureStore
    from ladle.stream.metrics import StreamStats
    from ladle.stream.service import StreamService

__all__ = ["run_stream"]

#: seconds between progress lines when stdout is not a terminal
LINE_EVERY_S = 5.0


def _stats_table(stats: Sequence[StreamStats]) -> Table:
    table = Table(title="ladle stream", title_justify="left")
    for column in ("source", "events", "events/s", "lag", "rejected", "retries"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for s in stats:
        lag = "?" if s.lag is None else f"{s.lag:,}"
        table.add_row(s.source, f"{s.events:,}", f"{s.rate():,.0f}", lag, f"{s.rejected:,}", f"{s.errors:,}")
    return table


def _line(s: StreamStats) -> str:
    lag = "?" if s.lag is None else f"{s.lag:,}"
    text = f"{s.source}: {s.events:,} events ({s.rate():,.0f}/s), lag {lag}, {s.rejected:,} rejected"
    return text + (f", last error: {s.last_error}" if s.errors and s.last_error else "")


def _start_metrics_server(port: int | None, host: str) -> Any:
    """Prometheus metrics on ``host:port`` (``None``: no endpoint; the metrics objects still need the extra)."""
    from ladle.stream.metrics import prometheus_metrics

    metrics = prometheus_metrics()
    if port is None:
        return metrics
    if metrics is None:
        raise MissingExtra("ladle stream --metrics-port", "server", "prometheus_client")
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
    return metrics


def run_stream(
    store: FeatureStore,
    names: Sequence[str],
    console: Console,
    service_args: dict[str, Any],
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Start workers for ``names`` and block until they stop (signal, ``max_events``, or all failed)."""
    from ladle.stream.service import StreamService

    if threading.current_thread() is not threading.main_thread():
        raise InvalidRequest("ladle stream must run in the main thread (it handles SIGTERM)")
    metrics = _start_metrics_server(metrics_port, metrics_host)
    service = StreamService(store, names, metrics=metrics, **service_args)
    for worker in service.workers:
        sink = worker.sink
        target = "online" if sink is None else "online and offline" + ("" if sink.exactly_once else " (at least once)")
        console.print(
            f"Consuming {worker.reader.description} into {target} ({', '.join(v.name for v in worker.binding.views)})."
        )

    def on_signal(signum: int, frame: Any) -> None:
        service.stop(timeout=0)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        _watch(service, console)
        service.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for s in service.stats:
        console.print(f"Stopped. {_line(s)}.")


def _watch(service: StreamService, console: Console) -> None:
    """Show progress until every worker has stopped."""
    if console.is_terminal:
        with Live(_stats_table(service.stats), console=console, refresh_per_second=2) as live:
            while service.alive():
                time.sleep(0.5)
                live.update(_stats_table(service.stats))
        return
    next_line = time.monotonic() + LINE_EVERY_S
    while service.alive():
        time.sleep(0.2)
        if time.monotonic() >= next_line:
            next_line += LINE_EVERY_S
            for s in service.stats:
                console.print(_line(s))

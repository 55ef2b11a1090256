"""Background registry refresh: requests read the registry from memory; a thread re-reads it.

Every ``interval`` seconds the thread calls ``reload`` (``FeatureStore.refresh_registry``), which swaps
the new state in atomically when the stored registry changed. A failed read keeps the state already
loaded; :meth:`RegistryRefresher.status` reports it (``/health``). Until a first read succeeds the
thread retries every second and requests get 503.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["RegistryRefresher"]

log = logging.getLogger("ladle.server")
_RETRY_UNLOADED_S = 1.0


class RegistryRefresher:
    """Keeps a registry fresh from a daemon thread; never blocks the caller of :attr:`loaded`."""

    def __init__(
        self,
        reload: Callable[[], None],
        version: Callable[[], int],
        interval: float,
        on_result: Callable[[bool], None] | None = None,
    ) -> None:
        self._reload, self._version, self.interval = reload, version, interval
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.loaded = False
        self._error: str | None = None
        self._last_ok: datetime | None = None
        self._last_attempt: datetime | None = None
        self._seconds = 0.0

    def load_now(self) -> bool:
        """Read the registry once; record the outcome. True when it succeeded."""
        started = time.perf_counter()
        try:
            self._reload()
            self._version()
        except Exception as exc:
            error: str | None = f"{type(exc).__name__}: {exc}"
            log.warning("registry refresh failed (still serving the registry loaded before): %s", error)
        else:
            error = None
        now = datetime.now(UTC)
        with self._lock:
            self._last_attempt, self._error, self._seconds = now, error, time.perf_counter() - started
            if error is None:
                self.loaded, self._last_ok = True, now
        if self._on_result is not None:
            self._on_result(error is None)
        return error is None

    def start(self) -> None:
        """Load once now (a failure is tolerated), then keep refreshing in the background."""
        self.load_now()
        self._thread = threading.Thread(target=self._run, name="ladle-registry-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            wait = self.interval if self.loaded else _RETRY_UNLOADED_S
            if self.loaded and self.interval <= 0:
                return  # a ttl of 0 reads once
            if self._stop.wait(wait):
                return
            self.load_now()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (waits up to ``timeout`` for a read in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        """``ok`` (last read succeeded), ``loaded`` (some registry is in memory), version, times, error."""
        with self._lock:
            info: dict[str, Any] = {
                "ok": self.loaded and self._error is None,
                "loaded": self.loaded,
                "error": self._error,
                "last_refresh": _iso(self._last_ok),
                "last_attempt": _iso(self._last_attempt),
                "refresh_interval_sec": self.interval,
                "last_read_ms": round(self._seconds * 1000, 3),
            }
        if self.loaded:
            try:
                info["version"] = self._version()
            except Exception as exc:  # pragma: no cover - the state is in memory once loaded
                info["version"] = None
                info["error"] = info["error"] or str(exc)
        return info


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")

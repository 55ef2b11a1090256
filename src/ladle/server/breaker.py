"""A circuit breaker in front of the online store: during an outage, requests get 503 at once.

``closed``: calls go through; ``failures`` unavailable answers in a row (a refused connection, a
timeout) open it. ``open``: every call is refused at once with :class:`CircuitOpen` (503) for
``open_for`` seconds. ``half_open``: one call goes through as a probe — its success closes the breaker,
its failure opens it again — while the others are still refused. So a dead or stalled store costs the
first few requests their timeout, not every request, and the server recovers without a restart.

Only the online store's unavailability counts (``BackendUnavailable`` of an online store, or the server's
own deadline); a caller's mistake or an offline-store error neither opens nor closes the breaker.

>>> breaker = CircuitBreaker(failures=2, open_for=1.0)
>>> for _ in range(2):
...     probe = breaker.admit(); breaker.record(BackendUnavailable("redis online store", "down"), probe)
>>> breaker.state
'open'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from ladle.errors import BackendUnavailable

__all__ = ["CircuitBreaker", "CircuitOpen", "is_online_outage"]

State = Literal["closed", "open", "half_open"]


class CircuitOpen(BackendUnavailable):
    """The online store failed repeatedly; the server refuses calls to it for a moment."""


def is_online_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the online store cannot be reached (what the breaker counts)."""
    return isinstance(exc, BackendUnavailable) and not isinstance(exc, CircuitOpen) and "online" in exc.store


class CircuitBreaker:
    """Thread-safe: :meth:`admit` before a call to the store, :meth:`record` its outcome after."""

    def __init__(self, failures: int, open_for: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.open_for, self._clock = failures, open_for, clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failed = 0
        self._opened_at = 0.0
        self._probing = False
        self._last_error: str | None = None
        self.opened = 0  # times the breaker opened (for /health)

    @property
    def state(self) -> State:
        """``closed``, ``open`` or ``half_open`` (an open breaker whose wait is over)."""
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.open_for:
            self._state = "half_open"
        return self._state

    def admit(self) -> bool:
        """Let a call through (True when it is the half-open probe), or raise :class:`CircuitOpen` at once."""
        with self._lock:
            state = self._current()
            if state == "closed":
                return False
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            wait = max(0.0, self.open_for - (self._clock() - self._opened_at))
        raise CircuitOpen(
            "online store",
            f"it failed {self.failures} times in a row ({self._last_error}); the server does not call it "
            f"for {self.open_for:g} s (next probe in {wait:.1f} s)",
            "retry later; /health shows when it answers again",
        )

    def record(self, error: BaseException | None, probe: bool = False) -> None:
        """The outcome of an admitted call (``probe``: what :meth:`admit` said): ``None`` or its exception."""
        with self._lock:
            if probe:
                self._probing = False
            if error is None:
                self._state, self._failed = "closed", 0
                return
            if not is_online_outage(error):
                return  # says nothing about the store's health
            self._failed += 1
            self._last_error = str(error)[:300]
            if probe or self._failed >= self.failures:
                if self._state != "open":
                    self.opened += 1
                self._state, self._opened_at = "open", self._clock()

    def status(self) -> dict[str, Any]:
        """For ``/health``: state, failures in a row, the last error, times opened."""
        with self._lock:
            return {
                "state": self._current(),
                "failures_in_a_row": self._failed,
                "last_error": self._last_error,
                "times_opened": self.opened,
            }

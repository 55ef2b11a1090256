"""What the routes share (one per worker), and how request work runs: never on the event loop.

Every request's work — parsing its body, the checks, the store call, encoding the answer — runs in a
worker thread, so the event loop only moves bytes: a stalled store or a large body holds a thread, never
``/health`` or the other requests. Calls that touch the online store pass the
:class:`~ladle.server.breaker.CircuitBreaker` first; online reads also have a deadline
(``feature_server.online_timeout_sec``): past it the request gets 503 and the thread is left to finish
on its own (the store's client has its own socket timeouts).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ladle.errors import BackendUnavailable
from ladle.retrieval.online_read import AsyncReads
from ladle.server.breaker import CircuitBreaker
from ladle.server.errors import RegistryUnavailable, TooManyRows
from ladle.server.health import OnlineProbe
from ladle.server.metrics import ServerMetrics
from ladle.server.refresh import RegistryRefresher
from ladle.store import FeatureStore

__all__ = ["Limits", "ServerState"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Limits:
    """The bounds a request is held to (``feature_server:`` in feature_store.yaml)."""

    max_entities_per_request: int = 10_000
    online_timeout_sec: float = 1.0
    max_future_event_sec: float | None = 300.0

    def check_rows(self, what: str, rows: int) -> None:
        """Raise :class:`TooManyRows` (413) when ``rows`` is over the cap."""
        if rows > self.max_entities_per_request:
            raise TooManyRows(what, rows, self.max_entities_per_request)


@dataclass
class ServerState:
    """The store, the registry refresher, the metrics, the breaker and the limits of one worker."""

    store: FeatureStore
    refresher: RegistryRefresher
    metrics: ServerMetrics
    breaker: CircuitBreaker = field(default_factory=lambda: CircuitBreaker(failures=3, open_for=1.0))
    limits: Limits = field(default_factory=Limits)
    probe: OnlineProbe = field(init=False)

    def __post_init__(self) -> None:
        self.probe = OnlineProbe(self.store, self.breaker)

    def ready_store(self) -> FeatureStore:
        """The store, once a registry is loaded (503 before)."""
        if not self.refresher.loaded:
            raise RegistryUnavailable(
                "registry",
                f"no registry loaded yet: {self.refresher.status()['error']}",
                "the server keeps retrying; check the registry path and its store",
            )
        return self.store

    def _online_store_name(self) -> str:
        config = getattr(self.store, "config", None)
        return f"{config.online_store.type} online store" if config is not None else "online store"

    async def off_loop(self, work: Callable[..., _T], *args: Any) -> _T:
        """``work(*args)`` in a worker thread (request work that does not touch the online store)."""
        return await anyio.to_thread.run_sync(functools.partial(work, *args))

    async def online(self, work: Callable[..., _T], *args: Any, timeout: float | None = None) -> _T:
        """``work(*args)``, which calls the online store, in a worker thread behind the breaker.

        With ``timeout``, the request gets :class:`BackendUnavailable` (503) once it passes; the thread,
        abandoned, ends when the store's client gives up.
        """
        probe = self.breaker.admit()
        outcome: BaseException | None = None
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(functools.partial(work, *args), abandon_on_cancel=True)
        except TimeoutError:
            outcome = self._deadline_passed(timeout)
            raise outcome from None
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            self.breaker.record(outcome, probe)

    async def online_on_loop(self, work: Callable[..., Awaitable[_T]], *args: Any, timeout: float | None = None) -> _T:
        """``await work(*args)`` (which awaits the online store) on the event loop, behind the breaker and
        within ``timeout`` as :meth:`online`: a store that stalls cancels the wait, it never blocks the loop."""
        probe = self.breaker.admit()
        outcome: BaseException | None = None
        try:
            async with asyncio.timeout(timeout):
                return await work(*args)
        except TimeoutError:
            outcome = self._deadline_passed(timeout)
            raise outcome from None
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            self.breaker.record(outcome, probe)

    def _deadline_passed(self, timeout: float | None) -> BackendUnavailable:
        return BackendUnavailable(
            self._online_store_name(),
            f"no answer within {timeout:g} s",
            "the store is slow or stalled; raise feature_server.online_timeout_sec if it is just slow",
        )

    @functools.cached_property
    def reads_on_loop(self) -> bool:
        """Whether the online store reads on the event loop (Redis): small reads are then served there."""
        config = getattr(self.store, "config", None)
        if config is None or config.online_store is None:
            return False
        return isinstance(self.store.online_store, AsyncReads)

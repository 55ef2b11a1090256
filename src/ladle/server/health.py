"""``GET /health``: readiness of the server — a registry in memory and an online store that answers.

The online store is probed with a real read of one key that is not stored (through the store's own
connection pool), for the first online feature view; with no online view there is nothing to probe.
The answer is 200 when a registry is loaded and the probe succeeded within :data:`PROBE_BUDGET_S`
(``status`` is ``degraded`` when the last background refresh failed but an older registry is being
served), 503 otherwise — within ~100 ms whatever the store does: the probe runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ladle.errors import LadleError
from ladle.online.base import ViewRead
from ladle.server.breaker import CircuitBreaker
from ladle.store import FeatureStore
from ladle.types import to_arrow

if TYPE_CHECKING:
    from ladle.server.state import ServerState

__all__ = ["PROBE_BUDGET_S", "OnlineProbe", "health_report", "read_probe"]

#: how long ``/health`` waits for the online store's answer
PROBE_BUDGET_S = 0.08


def _probe_key(dtype: pa.DataType) -> pa.Array:
    """One key value of ``dtype`` that is not expected to be stored."""
    for value in (-7_135_913, "__ladle_health_probe__", b"__ladle_health_probe__"):
        try:
            return pa.array([value]).cast(dtype)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
    return pa.nulls(1, dtype)


def _online_type(store: FeatureStore) -> str | None:
    online = store.config.online_store
    return None if online is None else online.type


def read_probe(store: FeatureStore) -> str:
    """Read one absent key of the first online view (raises the store's error); what was probed."""
    views = [v for v in store.registry.list_feature_views() if v.online and v.features]
    if not views:
        return "no online feature view to read"
    view = views[0]
    types = {f.name: to_arrow(f.dtype) for f in view.entity_columns}
    keys = pa.table({k: _probe_key(types.get(k, pa.int64())) for k in view.join_keys})
    store.online_store.read_many(store.project, [ViewRead(view, keys, [view.features[0].name])])
    return f"read feature view '{view.name}'"


class OnlineProbe:
    """Probes the online store from a thread of its own, one probe at a time, within :data:`PROBE_BUDGET_S`.

    ``/health`` never waits for the request threads or for a stalled store: a probe not done in time is
    reported as such (and the next ``/health`` waits for the same probe, it does not start another). A
    probe passes the breaker like any call, so an open breaker is reported without touching the store,
    and a half-open one is probed by ``/health`` too.
    """

    def __init__(self, store: FeatureStore, breaker: CircuitBreaker) -> None:
        self.store, self.breaker = store, breaker
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ladle-health-probe")
        self._running: asyncio.Future[str] | None = None
        self._started = 0.0

    def _start(self) -> Future[str]:
        probe = self.breaker.admit()
        future = self._executor.submit(read_probe, self.store)

        def record(done: Future[str]) -> None:
            self.breaker.record(done.exception(), probe)

        future.add_done_callback(record)
        return future

    async def check(self) -> dict[str, Any]:
        """``{"type", "ok", "probe" | "error", "breaker"}``."""
        info: dict[str, Any] = {"type": _online_type(self.store)}
        try:
            if self._running is None or self._running.done():
                self._running, self._started = asyncio.wrap_future(self._start()), time.monotonic()
                self._running.add_done_callback(_retrieved)
            # a probe still running from an earlier /health is waited for only what is left of its budget
            budget = max(0.0, self._started + PROBE_BUDGET_S - time.monotonic())
            probed = await asyncio.wait_for(asyncio.shield(self._running), budget)
        except TimeoutError:
            info.update(ok=False, error=f"the online store did not answer a probe within {PROBE_BUDGET_S * 1000:g} ms")
        except LadleError as exc:
            info.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        else:
            info.update(ok=True, probe=probed)
        info["breaker"] = self.breaker.status()
        return info

    def close(self) -> None:
        """Stop the probe thread (a probe in progress is left to finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _retrieved(future: asyncio.Future[str]) -> None:
    """Mark a probe's exception as seen (it was reported, or no /health was waiting any more)."""
    if not future.cancelled():
        future.exception()


async def health_report(state: ServerState) -> tuple[int, dict[str, Any]]:
    """The status code and JSON document of ``/health``."""
    registry = state.refresher.status()
    registry["project"] = state.store.project
    if not state.refresher.loaded:
        online: dict[str, Any] = {
            "type": _online_type(state.store),
            "ok": False,
            "error": "not probed: no registry loaded yet",
        }
    else:
        online = await state.probe.check()
    ready = state.refresher.loaded and bool(online["ok"])
    status = "unavailable" if not ready else ("ok" if registry["ok"] else "degraded")
    return (200 if ready else 503), {"status": status, "registry": registry, "online_store": online}

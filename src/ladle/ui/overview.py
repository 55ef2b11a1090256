"""The overview page: project, registry version and last apply, counts per kind, stores and their health.

Health is the feature server's: the registry refresher's status and the online store's bounded probe
(:class:`~ladle.server.health.OnlineProbe`); the offline store is checked by reading the schema of one
feature view's source, in a thread, within :data:`OFFLINE_BUDGET_S`.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ladle.config import masked
from ladle.server.state import ServerState
from ladle.store import FeatureStore
from ladle.ui.catalog import Snapshot

__all__ = ["OFFLINE_BUDGET_S", "OfflineProbe", "overview"]

#: how long the overview waits for the offline store's check
OFFLINE_BUDGET_S = 0.25


def _offline_check(store: FeatureStore) -> dict[str, Any]:
    try:
        views = store.registry.list_feature_views()
        if not views:
            return {"ok": True, "probe": "no feature view source to read"}
        source = views[0].batch_source
        store.offline_store.source_schema(source)
    except Exception as exc:  # a health check reports any failure (a driver's own error too), it never raises
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "probe": f"read the schema of source '{source.name}'"}


class OfflineProbe:
    """Checks the offline store from a thread of its own, one check at a time, within :data:`OFFLINE_BUDGET_S`
    (the pattern of the feature server's online probe): a check not done in time is reported as such, and
    the next overview waits for the same check instead of starting another."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ladle-ui-offline-probe")
        self._running: asyncio.Future[dict[str, Any]] | None = None
        self._started = 0.0

    async def check(self) -> dict[str, Any]:
        """``{"ok", "probe" | "error"}``."""
        if self._running is None or self._running.done():
            self._running = asyncio.wrap_future(self._executor.submit(_offline_check, self.store))
            self._started = time.monotonic()
        budget = max(0.0, self._started + OFFLINE_BUDGET_S - time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), budget)
        except TimeoutError:
            return {"ok": False, "error": f"no answer within {OFFLINE_BUDGET_S * 1000:g} ms"}

    def close(self) -> None:
        """Stop the check thread (a check in progress is left to finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _stores(store: FeatureStore) -> dict[str, Any]:
    config = masked(store.config)
    return {
        "registry": {"type": config["registry"].get("registry_type"), "path": config["registry"].get("path")},
        "offline_store": config.get("offline_store"),
        "online_store": config.get("online_store"),
        "batch_engine": config.get("batch_engine"),
    }


async def overview(state: ServerState, offline_probe: OfflineProbe, snapshot: Snapshot) -> dict[str, Any]:
    """The overview document."""
    registry_state = snapshot.state
    last_apply = registry_state.history[-1]["time"] if registry_state.history else None
    if state.store.config.online_store is None:
        online: dict[str, Any] = {"type": None, "ok": True, "probe": "no online store configured (offline only)"}
    else:
        online = await state.probe.check()
    offline = await offline_probe.check()
    return {
        "project": registry_state.project,
        "registry": {
            "version": registry_state.version,
            "last_updated": registry_state.last_updated,
            "last_apply": last_apply,
            "refresh": state.refresher.status(),
        },
        "counts": snapshot.counts(),
        "stores": _stores(state.store),
        "health": {
            "registry": {"ok": bool(state.refresher.status()["ok"])},
            "online_store": online,
            "offline_store": offline,
        },
    }

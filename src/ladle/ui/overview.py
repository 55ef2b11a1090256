"""The overview page: project, registry version and last apply, counts per kind, stores and their health.

Health is the feature server's: the registry refresher's status and the online store's bounded probe
(:class:`~ladle.server.health.OnlineProbe`); the offline store is checked by reading the schema of one
feature view's source, in a thread, within :data:`OFFLINE_BUDGET_S`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ladle.config import masked
from ladle.errors import LadleError
from ladle.server.state import ServerState
from ladle.store import FeatureStore
from ladle.ui.catalog import Snapshot

__all__ = ["OFFLINE_BUDGET_S", "overview"]

#: how long the overview waits for the offline store's check
OFFLINE_BUDGET_S = 0.25


def _offline_check(store: FeatureStore) -> dict[str, Any]:
    views = store.registry.list_feature_views()
    if not views:
        return {"ok": True, "probe": "no feature view source to read"}
    source = views[0].batch_source
    try:
        store.offline_store.source_schema(source)
    except LadleError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "probe": f"read the schema of source '{source.name}'"}


async def _offline_health(state: ServerState) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(state.off_loop(_offline_check, state.store), OFFLINE_BUDGET_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {OFFLINE_BUDGET_S * 1000:g} ms"}


def _stores(store: FeatureStore) -> dict[str, Any]:
    config = masked(store.config)
    return {
        "registry": {"type": config["registry"].get("registry_type"), "path": config["registry"].get("path")},
        "offline_store": config.get("offline_store"),
        "online_store": config.get("online_store"),
        "batch_engine": config.get("batch_engine"),
    }


async def overview(state: ServerState, snapshot: Snapshot) -> dict[str, Any]:
    """The overview document."""
    registry_state = snapshot.state
    last_apply = registry_state.history[-1]["time"] if registry_state.history else None
    if state.store.config.online_store is None:
        online: dict[str, Any] = {"type": None, "ok": True, "probe": "no online store configured (offline only)"}
    else:
        online = await state.probe.check()
    offline = await _offline_health(state)
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

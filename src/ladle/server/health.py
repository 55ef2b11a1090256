"""``GET /health``: readiness of the server — a registry in memory and an online store that answers.

The online store is probed with a real read of one key that is not stored (through the store's own
connection pool), for the first online feature view; with no online view there is nothing to probe.
The answer is 200 when a registry is loaded and the probe succeeded (``status`` is ``degraded`` when
the last background refresh failed but an older registry is being served), 503 otherwise.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ladle.errors import LadleError
from ladle.online.base import ViewRead
from ladle.server.refresh import RegistryRefresher
from ladle.store import FeatureStore
from ladle.types import to_arrow

__all__ = ["health_report", "probe_online_store"]


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


def probe_online_store(store: FeatureStore) -> dict[str, Any]:
    """Read one absent key from the online store: ``{"ok", "type", "error"?}``."""
    info: dict[str, Any] = {"type": _online_type(store)}
    views = [v for v in store.registry.list_feature_views() if v.online and v.features]
    if not views:
        info.update(ok=True, probe="no online feature view to read")
        return info
    view = views[0]
    types = {f.name: to_arrow(f.dtype) for f in view.entity_columns}
    keys = pa.table({k: _probe_key(types.get(k, pa.int64())) for k in view.join_keys})
    try:
        store.online_store.read_many(store.project, [ViewRead(view, keys, [view.features[0].name])])
    except LadleError as exc:
        info.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    else:
        info.update(ok=True, probe=f"read feature view '{view.name}'")
    return info


def health_report(store: FeatureStore, refresher: RegistryRefresher) -> tuple[int, dict[str, Any]]:
    """The status code and JSON document of ``/health``."""
    registry = refresher.status()
    registry["project"] = store.project
    if not refresher.loaded:
        online: dict[str, Any] = {"type": _online_type(store), "ok": False,
                                  "error": "not probed: no registry loaded yet"}
    else:
        online = probe_online_store(store)
    ready = refresher.loaded and bool(online["ok"])
    status = "unavailable" if not ready else ("ok" if registry["ok"] else "degraded")
    return (200 if ready else 503), {"status": status, "registry": registry, "online_store": online}

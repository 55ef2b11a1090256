"""The window state of a configured online store: the backend that matches its ``type:``, on its settings
and connections (the SQLite file, the Redis client, the PostgreSQL pool, the DynamoDB client).

One :class:`~ladle.windows.serving.WindowServing` per online-store object, created on first use.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from ladle.errors import InvalidConfig
from ladle.online.base import OnlineStore
from ladle.windows.state_base import DEFAULT_MAX_EVENTS, WindowState

if TYPE_CHECKING:
    from ladle.windows.serving import WindowServing

__all__ = ["window_serving", "window_state_of"]

_SERVING: weakref.WeakKeyDictionary[OnlineStore, WindowServing] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _max_events(online: OnlineStore) -> int:
    config: Any = getattr(online, "config", None)
    value = getattr(config, "window_max_events_per_key", None)
    return DEFAULT_MAX_EVENTS if value is None else int(value)


def window_state_of(online: OnlineStore) -> WindowState:
    """A new :class:`WindowState` on ``online``'s settings and connections.

    The stores' connection accessors are their own (``_redis``, ``_connection``, ``_dynamodb``): the state
    shares them rather than opening a second pool per store.
    """
    cap = _max_events(online)
    kind = online.name
    if kind == "sqlite":
        from ladle.windows.state_sqlite import SqliteWindowState

        return SqliteWindowState(online.path, cap)  # type: ignore[attr-defined]
    if kind == "redis":
        from ladle.windows.state_redis import RedisWindowState, redis_errors

        return RedisWindowState(online._redis, redis_errors(online), cap)  # type: ignore[attr-defined]
    if kind == "postgres":
        from ladle.online.postgres import table_name
        from ladle.windows.state_postgres import PostgresWindowState

        store: Any = online
        return PostgresWindowState(store._connection, store.config.db_schema, table_name, store._driver_error, cap)
    if kind == "dynamodb":
        from ladle.windows.state_dynamodb import DynamoDBWindowState

        store = online
        template = store.config.table_name_template
        return DynamoDBWindowState(
            store._dynamodb,
            lambda project, name: template.format(project=project, table_name=name),
            store._driver_error,
            cap,
        )
    raise InvalidConfig(
        "feature_store.yaml",
        f"online_store type '{kind}' keeps no window state, so views with aggregations cannot be served from it "
        "(use sqlite, redis, postgres or dynamodb)",
    )


def window_serving(online: OnlineStore) -> WindowServing:
    """The windowed-view service of ``online`` (one per store object)."""
    from ladle.windows.serving import WindowServing

    with _LOCK:
        serving = _SERVING.get(online)
        if serving is None:
            serving = _SERVING[online] = WindowServing(window_state_of(online))
        return serving

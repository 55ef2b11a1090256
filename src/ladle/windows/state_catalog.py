"""The window state of a configured online store: the backend that matches its ``type:``, on its settings
and connections (the SQLite file, the Redis client, the PostgreSQL pool, the DynamoDB client), which the
store lends through its public ``shared_access()``.

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
    """A new :class:`WindowState` on ``online``'s settings and connections (its :meth:`~ladle.online.base.
    OnlineStore.shared_access`): the state shares them rather than opening a second pool per store."""
    cap = _max_events(online)
    kind = online.name
    access = online.shared_access()
    if access is None:
        raise InvalidConfig(
            "feature_store.yaml",
            f"online_store type '{kind}' keeps no window state, so views with aggregations cannot be served from "
            "it (use sqlite, redis, postgres or dynamodb)",
        )
    config: Any = online.config
    if kind == "sqlite":
        from ladle.windows.state_sqlite import SqliteWindowState

        return SqliteWindowState(access.connect, access.errors, cap)
    if kind == "redis":
        from ladle.windows.state_redis import RedisWindowState

        return RedisWindowState(access.connect, access.errors, cap)
    if kind == "postgres":
        from ladle.online.postgres import table_name
        from ladle.windows.state_postgres import PostgresWindowState

        return PostgresWindowState(access.connect, config.db_schema, table_name, access.errors, cap)
    if kind == "dynamodb":
        from ladle.windows.state_dynamodb import DynamoDBWindowState

        template = config.table_name_template
        return DynamoDBWindowState(
            access.connect, lambda project, name: template.format(project=project, table_name=name), access.errors, cap
        )
    raise InvalidConfig(
        "feature_store.yaml",
        f"online_store type '{kind}' lends its connection but ladle has no window state for it "
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

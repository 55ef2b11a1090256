"""The online-store protocol: what every online backend (sqlite, redis, postgres, dynamodb) implements.

Data crosses this boundary as Arrow tables. Rows written carry the view's join-key columns, its
feature columns (declared Arrow types), ``event_ts`` (timestamp[us, UTC]) and ``created_ts``
(timestamp[us, UTC], may be null). The *newer-wins* rule (see :func:`ladle.online.newer_wins.is_newer`)
holds for every write path and within one batch: a stored row is replaced only by a row whose
``(event_ts, created_ts)`` is not older (null created sorts first); an older row is ignored.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from ladle.common.backend_config import BackendConfig
from ladle.definitions import FeatureView
from ladle.errors import BackendFailure

__all__ = ["CREATED_TS", "EVENT_TS", "OnlineStore", "SharedAccess", "ViewRead"]

EVENT_TS = "event_ts"
CREATED_TS = "created_ts"


@dataclass(frozen=True)
class ViewRead:
    """One view's part of an online read: ``keys`` (join-key columns in join-key order) and ``features``."""

    view: FeatureView
    keys: pa.Table
    features: list[str]


class OnlineStoreConfig(BackendConfig):
    """Settings shared by every online store; each store's config narrows ``type`` and adds its own keys."""

    #: serve values older than the view's ttl as OUTSIDE_MAX_AGE (null) instead of as fresh
    enforce_ttl: bool = True
    #: events kept per key and windowed view (the oldest are dropped beyond it; docs/semantics.md)
    window_max_events_per_key: int = Field(default=10_000, ge=1)


@dataclass(frozen=True)
class SharedAccess:
    """An online store's connection, lent to code keeping its own data in the same backend (the window
    state of windowed views, :mod:`ladle.windows.state_catalog`), so that it opens no second pool.

    ``connect()`` is what the store itself calls for a connection: the SQLite connection of this thread,
    the Redis client, a PostgreSQL pool checkout (a context manager) or the DynamoDB client.
    ``errors(exc, doing)`` maps a driver error to the ladle error the store would raise.
    """

    connect: Callable[[], Any]
    errors: Callable[[Exception, str], Exception]


class OnlineStore(abc.ABC):
    """Latest feature values per entity key, for low-latency reads.

    A store is created as ``Store(config, repo_path)``: its own config (the ``online_store:`` mapping of
    feature_store.yaml, as its :attr:`config_class` model) and the repo folder (to resolve relative paths).
    It may open connections lazily. Selected by ``type:`` through :data:`ladle.backends.tables.ONLINE_STORES`.
    """

    #: the store's name: its ``type:`` in feature_store.yaml
    name: ClassVar[str] = ""
    #: the pydantic model of the store's ``online_store:`` section
    config_class: ClassVar[type[OnlineStoreConfig] | None] = None

    def __init__(self, config: OnlineStoreConfig, repo_path: Path) -> None:
        self.config = config
        self.repo_path = Path(repo_path)

    def shared_access(self) -> SharedAccess | None:
        """The store's connection, lent to code keeping its own data beside the store's (see
        :class:`SharedAccess`); None when the store lends none (then no windowed view is served from it)."""
        return None

    def portable_config(self) -> OnlineStoreConfig:
        """The config another process (a Spark executor) rebuilds this store from: :attr:`config` with
        anything relative to this process resolved. Stores with local paths override it."""
        return self.config

    @abc.abstractmethod
    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        """Create (or alter to the current schema) the storage for ``keep``; drop what ``delete`` owns.

        Idempotent. A kept view whose definition changed follows one rule (:mod:`ladle.online.shape`): its
        rows stay with the values of every feature still declared with the same type; a dropped feature's
        values are removed, a retyped feature's cleared; a change of its join keys drops its rows.
        """

    @abc.abstractmethod
    def teardown(self, project: str, views: list[FeatureView]) -> None:
        """Remove everything stored for ``views`` (and the store's own files/tables if it owns them)."""

    @abc.abstractmethod
    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        """Write ``rows`` (join keys, features, ``event_ts``, ``created_ts``) with the newer-wins rule.

        Duplicated keys inside ``rows`` are resolved by the same rule. Returns the number of rows given.
        """

    @abc.abstractmethod
    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        """Look up ``keys`` (a table of the view's join-key columns, in join-key order).

        Returns a table with exactly ``keys.num_rows`` rows in the same order: one column per requested
        feature (declared Arrow type) and ``event_ts``. A key that is not stored has a null ``event_ts``
        (and null features); a stored null feature has a non-null ``event_ts``. One round trip per call.
        """

    def read_many(self, project: str, reads: list[ViewRead]) -> list[pa.Table]:
        """:meth:`read` for several views at once, one result per item of ``reads``.

        Remote stores override it to fetch every view in one round trip; this default reads them in turn.
        """
        return [self.read(project, r.view, r.keys, r.features) for r in reads]

    def check(self) -> None:  # noqa: B027 - optional hook: an embedded store has no server to reach
        """Connect and verify the store answers (and accepts the credentials), writing nothing.

        ``ladle validate`` calls it; a failure raises :class:`~ladle.errors.BackendError` naming the store,
        where it was looked for and the fix, within a bounded time. Embedded stores need not override it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook: most stores hold connections
        """Release connections. The store may be used again afterwards (it reconnects)."""

    def delete(self, project: str, view: FeatureView, keys: pa.Table) -> None:
        """Remove the stored row of each of ``keys`` (the view's join-key columns), whatever its timestamps.

        The one way past the newer-wins rule: a rollback (``ladle rollback``) deletes the keys it replaces,
        then writes the older version's rows. Keys not stored are ignored; another view's values stored
        with the same key (Redis shares a hash per entity key) are kept. Every built-in store implements
        it; a plugin store that does not cannot be rolled back and says so.
        """
        raise BackendFailure(
            self.name or type(self).__name__,
            f"cannot delete keys of feature view '{view.name}': the store does not implement `delete`",
            "implement OnlineStore.delete in the store (docs/plugins.md) to roll feature-set versions back",
        )

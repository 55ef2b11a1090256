"""The online-store protocol: what every online backend (sqlite, redis, postgres, dynamodb) implements.

Data crosses this boundary as Arrow tables. Rows written carry the view's join-key columns, its
feature columns (declared Arrow types), ``event_ts`` (timestamp[us, UTC]) and ``created_ts``
(timestamp[us, UTC], may be null). The *newer-wins* rule (see :func:`ladle.online.newer_wins.is_newer`)
holds for every write path and within one batch: a stored row is replaced only by a row whose
``(event_ts, created_ts)`` is not older (null created sorts first); an older row is ignored.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ladle.definitions import FeatureView

__all__ = ["CREATED_TS", "EVENT_TS", "OnlineStore", "ViewRead"]

EVENT_TS = "event_ts"
CREATED_TS = "created_ts"


@dataclass(frozen=True)
class ViewRead:
    """One view's part of an online read: ``keys`` (join-key columns in join-key order) and ``features``."""

    view: FeatureView
    keys: pa.Table
    features: list[str]


class OnlineStoreConfig(BaseModel):
    """Settings shared by every online store; each store's config adds ``type`` and its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: serve values older than the view's ttl as OUTSIDE_MAX_AGE (null) instead of as fresh
    enforce_ttl: bool = True
    #: events kept per key and windowed view (the oldest are dropped beyond it; docs/semantics.md)
    window_max_events_per_key: int = Field(default=10_000, ge=1)


class OnlineStore(abc.ABC):
    """Latest feature values per entity key, for low-latency reads.

    A store is created with its own config (the ``online_store:`` mapping of feature_store.yaml, as its
    pydantic model) and the repo folder (to resolve relative paths). It may open connections lazily.
    """

    #: the ``type:`` value in feature_store.yaml that selects this store
    type_name: ClassVar[str] = ""

    @abc.abstractmethod
    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        """Create (or alter to the current schema) the storage for ``keep``; drop what ``delete`` owns.

        Idempotent. A view whose feature list changed keeps no stale columns.
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

"""The window-state protocol: the raw events each key of a windowed view needs, in the online store.

A windowed view (one with aggregations) is served from the events of the *longest* window before the
read time, not from a precomputed value: the read computes every aggregate over the window ending at the
read time. Every online backend keeps those events in its own way behind this protocol, one module each
(``state_sqlite.py``, ``state_redis.py``, ``state_postgres.py``, ``state_dynamodb.py``), on the connection
settings of the configured online store.

The contract every backend keeps (checked by ``tests/conformance/test_window_state.py``):

* **idempotent**: an event is identified by its key and id (:func:`ladle.windows.events.event_ids`, a
  digest of time and payload); adding it again changes nothing;
* **evicted**: after :meth:`WindowState.add`, a key written keeps no event with ``ts <= now - horizon``
  (``horizon`` is the view's longest window), and storage of keys not written expires the same way or is
  swept by :meth:`WindowState.sweep`;
* **bounded**: a key keeps at most ``max_events`` events; when more arrive, the oldest are dropped
  (so that key's aggregates then cover only its newest ``max_events`` events of the window);
* **fetch**: :meth:`WindowState.fetch` returns every kept event of the asked keys with
  ``since < ts <= until``, in one round trip where the backend allows it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from ladle.windows.events import EventBatch, FetchedEvents

__all__ = ["DEFAULT_MAX_EVENTS", "StateTarget", "WindowState"]

#: the default cap on the events kept per key and view (``online_store: {window_max_events_per_key: ...}``)
DEFAULT_MAX_EVENTS = 10_000


@dataclass(frozen=True)
class StateTarget:
    """Where one view's state lives: ``name`` (project, view and layout fingerprint) and its limits."""

    project: str
    view: str
    #: changes when the aggregated columns or their types change: a new layout starts with new storage
    layout: str
    #: the longest window, in microseconds
    horizon_us: int

    @property
    def name(self) -> str:
        return f"{self.project}_{self.view}__win_{self.layout}"


class WindowState(abc.ABC):
    """Per key, the raw events of a windowed view's longest window (see the module docstring)."""

    #: the online store ``type:`` this backend serves
    type_name: ClassVar[str] = ""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self.max_events = max_events

    @abc.abstractmethod
    def add(self, target: StateTarget, events: EventBatch, now_us: int) -> None:
        """Keep ``events`` (each once per key and id), then evict the written keys' events with
        ``ts <= now_us - target.horizon_us`` and all but their newest :attr:`max_events`. Creates the
        storage on first use."""

    @abc.abstractmethod
    def fetch(self, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> FetchedEvents:
        """Every kept event of ``keys`` (encoded entity keys) with ``since_us < ts <= until_us``; a key or a
        view with no storage yet has none."""

    @abc.abstractmethod
    def sweep(self, target: StateTarget, now_us: int) -> None:
        """Evict every key's events with ``ts <= now_us - target.horizon_us``."""

    @abc.abstractmethod
    def drop(self, project: str, view: str) -> None:
        """Remove everything kept for ``view`` (every layout)."""

    def close(self) -> None:  # noqa: B027 - optional hook: an embedded backend may hold nothing
        """Release connections; the backend reconnects when used again."""

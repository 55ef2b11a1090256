"""Freshness of feature views: materialized intervals, the newest event time online and offline, the lag
against the view's ttl.

The list (every view) reads only the registry: each view's merged materialized intervals and where the
last run ended; its lag is ``now - materialized_until``. One view's page also probes the stores
(:func:`probe`): the newest event time in the offline source and, among the newest keys there, in the
online store; the lag is then measured from the newest online event. A view is **stale** when it is
served online with a ttl and the lag is over the ttl (or it was never materialized and is not fed by a
push or stream source, whose rows reach the online store without materialization).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ladle.definitions import FeatureView
from ladle.store import FeatureStore
from ladle.ui.catalog import Snapshot
from ladle.ui.values import offline_sample, online_newest

__all__ = ["freshness_row", "freshness_rows", "probe"]

#: source types whose rows reach the online store without a materialization
_FED_DIRECTLY = frozenset({"push", "kafka", "kinesis", "redis_stream", "redis-stream", "stream"})


def _seconds_since(when: str | None, now: datetime) -> float | None:
    if when is None:
        return None
    return round((now - datetime.fromisoformat(when.replace("Z", "+00:00"))).total_seconds(), 3)


def _verdict(spec: dict[str, Any], lag: float | None, fed_directly: bool, online_store: bool) -> tuple[bool, str]:
    """``(stale, why)`` for an online view with this lag (seconds, None: never materialized)."""
    ttl = spec.get("ttl_seconds")
    if not spec.get("online", True):
        return False, "not served online"
    if not online_store:
        return False, "the repo has no online store (offline only)"
    if lag is None:
        if fed_directly:
            return False, "fed by its push or stream source (no materialization needed)"
        return True, "never materialized: run `ladle materialize-incremental`"
    if not ttl:
        return False, "no ttl: values never expire"
    if lag > ttl:
        return True, f"lag {lag:.0f} s is over the ttl of {ttl:.0f} s: online values are expiring"
    return False, f"lag {lag:.0f} s is within the ttl of {ttl:.0f} s"


def _base(snapshot: Snapshot, name: str) -> dict[str, Any]:
    """What a view's freshness takes from the registry, parsed once per snapshot."""
    spec = snapshot.stored("feature_views", name).spec
    record = snapshot.state.materialization.get(name)
    until = record.materialized_until if record is not None else None
    return {
        "spec": spec,
        "until": until,
        "until_time": None if until is None else datetime.fromisoformat(until.replace("Z", "+00:00")),
        "source_type": str((spec.get("source") or {}).get("type", "")),
        "intervals": [list(i) for i in record.intervals] if record is not None else [],
    }


def _bases(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    bases: dict[str, dict[str, Any]] = snapshot.cached(
        "freshness", lambda: {row["name"]: _base(snapshot, row["name"]) for row in snapshot.rows["feature_views"]}
    )
    return bases


def freshness_row(snapshot: Snapshot, name: str, now: datetime, online_store: bool = True) -> dict[str, Any]:
    """One view's freshness from the registry alone (``online_store``: whether the repo has one)."""
    base = _bases(snapshot).get(name) or _base(snapshot, name)
    spec, until_time = base["spec"], base["until_time"]
    lag = None if until_time is None else round((now - until_time).total_seconds(), 3)
    stale, why = _verdict(spec, lag, base["source_type"] in _FED_DIRECTLY, online_store)
    return {
        "name": name,
        "online": bool(spec.get("online", True)),
        "ttl_seconds": spec.get("ttl_seconds"),
        "source_type": base["source_type"],
        "intervals": base["intervals"],
        "materialized_until": base["until"],
        "lag_seconds": lag,
        "stale": stale,
        "why": why,
    }


def freshness_rows(snapshot: Snapshot, online_store: bool = True, now: datetime | None = None) -> list[dict[str, Any]]:
    """:func:`freshness_row` of every feature view, by name."""
    at = now or datetime.now(UTC)
    return [freshness_row(snapshot, name, at, online_store) for name in _bases(snapshot)]


def probe(store: FeatureStore, snapshot: Snapshot, view: FeatureView, now: datetime | None = None) -> dict[str, Any]:
    """:func:`freshness_row` plus what the stores hold now: ``offline`` (newest event time in the source)
    and ``online`` (keys read among the newest offline keys, how many are present, the newest event time);
    with an online event time the lag is measured from it."""
    at = now or datetime.now(UTC)
    has_online = store.config.online_store is not None
    row = freshness_row(snapshot, view.name, at, has_online)
    sample = offline_sample(store, view, 1)
    keys = sample.pop("keys")
    online: dict[str, Any] = {"keys_read": 0, "present": 0, "newest_event_time": None}
    if has_online:
        online = online_newest(store, view, keys)
    row["offline"] = {"newest_event_time": sample["newest_event_time"]}
    row["online_store"] = online
    if online["newest_event_time"] is not None:
        row["lag_seconds"] = _seconds_since(online["newest_event_time"], at)
        row["lag_from"] = "newest online event"
        spec = snapshot.stored("feature_views", view.name).spec
        row["stale"], row["why"] = _verdict(spec, row["lag_seconds"], True, has_online)
    else:
        row["lag_from"] = "materialized_until"
    return row

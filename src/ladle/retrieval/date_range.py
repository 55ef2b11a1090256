"""``get_historical_features(features=..., start_date=, end_date=)`` without an ``entity_df``: Feast's
entity-less retrieval by date range, built on the offline-store protocol.

The entity rows are derived from the data, as Feast (0.67) does: every distinct ``(join keys, event
timestamp)`` of the requested views' source rows with ``start_date <= ts <= end_date`` (the union over the
views), named ``event_timestamp`` and ordered by it. The normal point-in-time join then gives each row every
view's value as of that timestamp (ttl and created-timestamp rules included), so a row of one view also
carries the other views' values at that moment. Defaults match Feast: ``end_date`` is now; ``start_date`` is
``end_date`` minus the largest ttl of the views, or 30 days when no view has one. All views must be keyed by
the same join keys (Feast's union needs it too); on-demand views that read request data need an entity_df.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ladle.errors import InvalidRequest
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.retrieval.feature_refs import ResolvedFeatures
from ladle.retrieval.historical import DEFAULT_TIMESTAMP_COLUMN

__all__ = ["DEFAULT_SPAN", "date_range", "range_entity_rows"]

#: the window when neither ``start_date`` nor any view's ttl bounds it (Feast's default)
DEFAULT_SPAN = timedelta(days=30)
_UTC_US = pa.timestamp("us", tz="UTC")


def _utc(when: datetime, name: str) -> datetime:
    if not isinstance(when, datetime):
        raise InvalidRequest(f"{name} must be a datetime, got {type(when).__name__} {str(when)[:80]!r}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def date_range(
    views: list[ViewRequest], start_date: datetime | None, end_date: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """``(start, end)`` with Feast's defaults: end = now, start = end - the largest view ttl (else 30 days)."""
    end = _utc(end_date, "end_date") if end_date is not None else (now or datetime.now(UTC))
    if start_date is not None:
        start = _utc(start_date, "start_date")
    else:
        ttls = [v.view.ttl for v in views if v.view.ttl is not None and v.view.ttl > timedelta(0)]
        start = end - (max(ttls) if ttls else DEFAULT_SPAN)
    if start > end:
        raise InvalidRequest(f"start_date {start.isoformat()} is after end_date {end.isoformat()}")
    return start, end


def _check(resolved: ResolvedFeatures) -> list[str]:
    if resolved.request_fields:
        names = [r.view.name for r in resolved.on_demand if r.request_fields]
        raise InvalidRequest(
            f"on-demand view(s) {names} read request data, which only an entity_df can carry; pass entity_df "
            "instead of start_date/end_date"
        )
    if not resolved.views:
        raise InvalidRequest("get_historical_features without entity_df needs at least one feature view's features")
    keys = {tuple(sorted(v.entity_columns)) for v in resolved.views}
    if len(keys) > 1:
        by_view = {v.name: v.entity_columns for v in resolved.views}
        raise InvalidRequest(
            f"without an entity_df all feature views must share their join keys, but they differ: {by_view}; "
            "pass an entity_df, or request the views separately"
        )
    for v in resolved.views:
        if not v.view.batch_source.has_history:
            raise InvalidRequest(f"feature view '{v.name}' has no offline source to read the date range from")
    return resolved.views[0].entity_columns


def _view_rows(offline: OfflineStore, request: ViewRequest, start: datetime, end: datetime) -> pa.Table:
    source = request.view.batch_source
    keys = list(request.view.join_keys)
    rows = offline.pull_all(source, [*keys, source.timestamp_field], start, end)
    ts = rows.column(source.timestamp_field)
    columns = {request.join_key_map.get(k, k): rows.column(k) for k in keys}
    columns[DEFAULT_TIMESTAMP_COLUMN] = ts.cast(_UTC_US)
    return pa.table(columns)


def range_entity_rows(
    offline: OfflineStore,
    resolved: ResolvedFeatures,
    start_date: datetime | None,
    end_date: datetime | None,
    now: datetime | None = None,
) -> pa.Table:
    """The entity rows of an entity-less retrieval: distinct ``(keys, event_timestamp)`` of the views' rows in
    the range, ordered by time then keys, with keys in their declared types."""
    columns = _check(resolved)
    start, end = date_range(resolved.views, start_date, end_date, now)
    key_types = resolved.key_arrow_types()
    parts = []
    for request in resolved.views:
        rows = _view_rows(offline, request, start, end)
        cast = {c: rows.column(c).cast(key_types[c]) if c in key_types else rows.column(c) for c in columns}
        parts.append(pa.table({**cast, DEFAULT_TIMESTAMP_COLUMN: rows.column(DEFAULT_TIMESTAMP_COLUMN)}))
    table = pa.concat_tables(parts)
    names = [*columns, DEFAULT_TIMESTAMP_COLUMN]
    distinct = table.group_by(names, use_threads=False).aggregate([]).select(names)
    order = [(DEFAULT_TIMESTAMP_COLUMN, "ascending"), *((c, "ascending") for c in columns)]
    return distinct.sort_by(order)

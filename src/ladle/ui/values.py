"""Values the UI shows: a view's newest offline rows, what the online store holds for their keys, an online
lookup, and a training-set preview of a feature service.

The offline sample is the newest row of each entity key (the store's ``pull_latest``, what materialization
reads), newest first; a windowed view's sample is its newest raw events (``pull_all``). The online side
is read through :meth:`~ladle.store.FeatureStore.get_online_features`, so it shows exactly what serving
returns, statuses included.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.definitions import FeatureService, FeatureView
from ladle.errors import InvalidRequest
from ladle.ingest.materialize import EPOCH
from ladle.store import FeatureStore

__all__ = ["MAX_KEYS", "MAX_SAMPLE_ROWS", "offline_sample", "online_newest", "plain", "training_preview"]

#: the most rows a sample returns
MAX_SAMPLE_ROWS = 100
#: the most keys whose online values are read to find the newest online event time
MAX_KEYS = 1000
_EVENT_TS = "event_ts"


def plain(value: Any) -> Any:
    """A value as JSON can carry it: times in ISO-8601, bytes as text, other scalars unchanged."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(table: pa.Table) -> dict[str, Any]:
    return {"columns": table.column_names, "rows": [[plain(v) for v in row.values()] for row in table.to_pylist()]}


def _newest_first(view: FeatureView, store: FeatureStore) -> tuple[pa.Table, str]:
    """The view's newest rows (one per key; raw events for a windowed view), newest first, and their time column."""
    aggregations = getattr(view, "aggregations", None) or []
    if aggregations:
        source = view.batch_source
        columns = [*view.join_keys, source.timestamp_field, *(a.column for a in aggregations)]
        table = store.offline_store.pull_all(source, list(dict.fromkeys(columns)), None, None)
        time_column = source.timestamp_field
    else:
        # the far end covers rows stamped ahead of the clock: the sample shows what the source holds
        end = datetime.now(UTC) + timedelta(days=36_500)
        table = store.offline_store.pull_latest(view, EPOCH, end).read_all()
        time_column = _EVENT_TS
    if table.num_rows:
        table = table.take(pc.sort_indices(table, [(time_column, "descending")]))
    return table, time_column


def offline_sample(store: FeatureStore, view: FeatureView, limit: int) -> dict[str, Any]:
    """``{"columns", "rows", "newest_event_time", "keys"}``: the newest ``limit`` rows of the view's source
    and the newest event time found there (``keys``: the entity keys of those rows, for online reads)."""
    if not 1 <= limit <= MAX_SAMPLE_ROWS:
        raise InvalidRequest(f"limit must be between 1 and {MAX_SAMPLE_ROWS} (got {limit})")
    table, time_column = _newest_first(view, store)
    newest = table.column(time_column)[0].as_py() if table.num_rows else None
    return {**_rows(table.slice(0, limit)), "newest_event_time": plain(newest), "keys": _distinct_keys(view, table)}


def _distinct_keys(view: FeatureView, table: pa.Table) -> pa.Table:
    """The first :data:`MAX_KEYS` distinct entity keys of ``table``, in its order."""
    keys = table.select(view.join_keys)
    seen = dict.fromkeys(zip(*(keys.column(k).to_pylist() for k in view.join_keys), strict=True))
    rows = list(seen)[:MAX_KEYS]
    return pa.table(
        {k: pa.array([r[i] for r in rows], keys.schema.field(k).type) for i, k in enumerate(view.join_keys)}
    )


def online_newest(store: FeatureStore, view: FeatureView, keys: pa.Table) -> dict[str, Any]:
    """For the given entity keys (the newest of the offline source): how many have an online value and the
    newest online event time among them."""
    if not view.online or keys.num_rows == 0 or not view.features:
        return {"keys_read": 0, "present": 0, "newest_event_time": None}
    refs = [f"{view.name}:{f.name}" for f in view.features]
    rows = {k: keys.column(k).to_pylist() for k in view.join_keys}
    response = store.get_online_features(refs, rows if rows else [{}])
    first = view.features[0].name
    statuses = response.statuses[first]
    stamps = [t for t in response.event_timestamps[first] if t is not None and t.year > 1970]
    return {
        "keys_read": len(statuses),
        "present": sum(s == "PRESENT" for s in statuses),
        "newest_event_time": plain(max(stamps)) if stamps else None,
    }


def _default_rows(store: FeatureStore, service: FeatureService, count: int) -> list[dict[str, Any]]:
    """Entity rows for a preview: the newest keys of the service's first feature view, at their event times,
    with every request-data field of its on-demand views set to 0."""
    views = [
        store.get_feature_view(p.name)
        for p in service.feature_view_projections
        if p.name not in service.on_demand_names
    ]
    if not views:
        raise InvalidRequest(f"feature service '{service.name}' has no feature view to take entity rows from")
    table, time_column = _newest_first(views[0], store)
    table = table.slice(0, count)
    rows = [
        {**{k: row[k] for k in views[0].join_keys}, "event_timestamp": row[time_column]} for row in table.to_pylist()
    ]
    request_fields = _request_fields(store, service)
    return [{**row, **dict.fromkeys(request_fields, 0)} for row in rows]


def _request_fields(store: FeatureStore, service: FeatureService) -> list[str]:
    fields: list[str] = []
    for projection in service.feature_view_projections:
        if projection.name in service.on_demand_names:
            odfv = store.get_on_demand_feature_view(projection.name)
            for source in odfv.request_sources:
                fields.extend(f.name for f in source.schema)
    return list(dict.fromkeys(fields))


def training_preview(
    store: FeatureStore,
    service: FeatureService,
    entity_rows: list[dict[str, Any]] | None,
    count: int,
    full_feature_names: bool = False,
) -> dict[str, Any]:
    """The training set of ``service`` for ``entity_rows`` (default: ``count`` recent rows, see
    :func:`_default_rows`): ``{"entity_rows", "columns", "rows"}``."""
    if not 1 <= count <= MAX_SAMPLE_ROWS:
        raise InvalidRequest(f"rows must be between 1 and {MAX_SAMPLE_ROWS} (got {count})")
    rows = entity_rows if entity_rows else _default_rows(store, service, count)
    if not rows:
        raise InvalidRequest(f"no entity rows to preview feature service '{service.name}' with: give entity_rows")
    if len(rows) > MAX_SAMPLE_ROWS:
        raise InvalidRequest(f"at most {MAX_SAMPLE_ROWS} entity rows can be previewed (got {len(rows)})")
    columns = {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}
    if "event_timestamp" in columns:
        columns["event_timestamp"] = [_as_time(v) for v in columns["event_timestamp"]]
    table = store.get_historical_features(pa.table(columns), service, full_feature_names).to_arrow()
    return {"entity_rows": plain(rows), **_rows(table)}


def _as_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"event_timestamp {value!r} is not an ISO-8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value

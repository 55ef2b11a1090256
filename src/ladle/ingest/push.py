"""Writing caller-supplied rows: ``push`` to a push source and ``write_to_online_store`` for one view."""

from __future__ import annotations

import enum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import conform_keys
from ladle.common.frames import as_arrow
from ladle.common.times import UTC_US
from ladle.definitions import DataSource, FeatureView, PushSource
from ladle.definitions.stream_sources import StreamSource
from ladle.errors import DataSourceNotFound, InvalidRequest, NotFound
from ladle.ingest.windowed import is_windowed, write_windowed
from ladle.offline.base import OfflineStore
from ladle.offline.columns import align_to_source, cast_to_declared, ensure_utc_micros
from ladle.online.base import CREATED_TS, EVENT_TS, OnlineStore
from ladle.registry import Registry

__all__ = [  # as_arrow: from ladle.common.frames
    "PushMode",
    "as_arrow",
    "check_offline_rows",
    "online_rows",
    "push_rows",
    "push_targets",
    "write_view_rows",
]


class PushMode(enum.Enum):
    """Where ``store.push`` writes."""

    ONLINE = 1
    OFFLINE = 2
    ONLINE_AND_OFFLINE = 3

    @classmethod
    def parse(cls, value: Any) -> PushMode:
        """Accept a PushMode or its name in any case (``"online_and_offline"``)."""
        if isinstance(value, PushMode):
            return value
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise InvalidRequest(f"push mode {value!r} is not one of online, offline, online_and_offline") from None


def _mapped(source: DataSource, name: str) -> str:
    return source.mapped_name(name)


def online_rows(view: FeatureView, rows: pa.Table, what: str, write_all_null_rows: bool = False) -> pa.Table:
    """``rows`` (source column names) as the online store's write format for ``view``.

    Every join key, the source's timestamp column and every feature must be present. A row whose
    features are all null is dropped unless ``write_all_null_rows``: it would otherwise replace every
    stored value of its key with nulls. A row with some nulls is kept (null is then the value).
    """
    src = view.batch_source
    renamed = rows.rename_columns([_mapped(src, c) for c in rows.column_names])
    ts_name = src.timestamp_field
    needed = [*view.join_keys, ts_name, *(f.name for f in view.features)]
    missing = [c for c in needed if c not in renamed.column_names]
    if missing:
        raise InvalidRequest(
            f"{what}: the rows lack column(s) {missing} of feature view '{view.name}' "
            f"(needs join keys {view.join_keys}, timestamp '{ts_name}' and features {[f.name for f in view.features]})"
        )
    keys = conform_keys(renamed.select(view.join_keys), view.entity_columns)
    out: dict[str, pa.ChunkedArray] = {k: keys.column(k) for k in view.join_keys}
    for f in view.features:
        out[f.name] = cast_to_declared(renamed.column(f.name), f.dtype, f"{view.name}:{f.name}")
    out[EVENT_TS] = ensure_utc_micros(renamed.column(ts_name), ts_name)
    cr = src.created_timestamp_column
    if cr and cr in renamed.column_names:
        out[CREATED_TS] = ensure_utc_micros(renamed.column(cr), cr)
    else:
        out[CREATED_TS] = pa.chunked_array([pa.nulls(rows.num_rows, UTC_US)])
    if out[EVENT_TS].null_count:
        raise InvalidRequest(f"{what}: {out[EVENT_TS].null_count} row(s) have no value in timestamp column '{ts_name}'")
    table = pa.table(out)
    if write_all_null_rows or not view.features:
        return table
    return table.filter(_has_a_value(table, [f.name for f in view.features]))


def _has_a_value(table: pa.Table, features: list[str]) -> pa.ChunkedArray | pa.Array:
    """Per row: is at least one of ``features`` not null."""
    mask = pc.is_valid(table.column(features[0]))
    for name in features[1:]:
        mask = pc.or_(mask, pc.is_valid(table.column(name)))
    return mask


def check_offline_rows(source: DataSource, schema: pa.Schema, rows: pa.Table, what: str) -> None:
    """Raise :class:`~ladle.errors.InvalidRequest` if ``rows`` cannot be appended to ``source`` (``schema``:
    its raw columns): a column is missing or a value does not fit. Run before anything is written."""
    align_to_source(source, schema, rows, f"{what} (nothing was written)")


def write_view_rows(
    online: OnlineStore,
    offline: OfflineStore | None,
    project: str,
    view: FeatureView,
    rows: Any,
    what: str,
    write_all_null_rows: bool = False,
) -> int:
    """``write_to_online_store``: ``rows`` (any frame) prepared by :func:`online_rows` and written, newer-wins
    (a windowed view adds them to its window state); the number of rows handed to the online store (0 for no
    rows, or only all-null ones)."""
    table = as_arrow(rows)
    if table.num_rows == 0:
        return 0
    if is_windowed(view):
        return write_windowed(online, offline, project, [view], table, what)
    prepared = online_rows(view, table, what, write_all_null_rows)
    return online.write(project, view, prepared) if prepared.num_rows else 0


def push_targets(registry: Registry, name: str, mode: PushMode) -> tuple[PushSource | StreamSource, list[FeatureView]]:
    """The push source ``name`` and the views it feeds; :class:`~ladle.errors.NotFound` or
    :class:`~ladle.errors.InvalidRequest` when the push could not write anything."""
    try:
        source = registry.get_data_source(name)
    except DataSourceNotFound:
        pushes = [s.name for s in registry.list_data_sources() if isinstance(s, PushSource)]
        raise NotFound("push source", name, registry.project, pushes) from None
    if not isinstance(source, PushSource | StreamSource):  # stream sources: what `ladle stream` writes
        raise InvalidRequest(f"data source '{name}' is a {type(source).__name__}, not a PushSource")
    views = [v for v in registry.list_feature_views() if v.source.name == name]
    if not views:
        raise InvalidRequest(
            f"push source '{name}' is not the source of any feature view, so the rows would go "
            "nowhere (use it as a FeatureView's source and run `ladle apply`, or push to another source)"
        )
    if mode is PushMode.ONLINE and not any(v.online for v in views):
        raise InvalidRequest(
            f"push source '{name}' feeds only views with online=False "
            f"({', '.join(v.name for v in views)}), so an online push writes nothing (push with to='offline')"
        )
    return source, views


def push_rows(
    offline: OfflineStore,
    online: OnlineStore | None,
    project: str,
    targets: tuple[PushSource | StreamSource, list[FeatureView]],
    rows: Any,
    mode: PushMode,
    write_all_null_rows: bool = False,
) -> None:
    """Write ``rows`` to the push source's views (``targets``, from :func:`push_targets`) as ``mode`` says.

    Everything is checked (online rows prepared, offline rows aligned to the source) before anything is
    written. ``online`` may be ``None`` only for :attr:`PushMode.OFFLINE`.
    """
    source, views = targets
    table = as_arrow(rows)
    if table.num_rows == 0:
        return
    what = f"push to '{source.name}'"
    to_online = mode is not PushMode.OFFLINE
    to_offline = mode is not PushMode.ONLINE
    online_views = [v for v in views if v.online] if to_online else []
    prepared = [(v, online_rows(v, table, what, write_all_null_rows)) for v in online_views if not is_windowed(v)]
    if to_online and to_offline:
        check_offline_rows(source.batch, offline.source_schema(source.batch), table, what)
    if to_online:
        assert online is not None, "an online push needs the online store"
        write_windowed(online, offline, project, [v for v in online_views if is_windowed(v)], table, what)
        for v, prepared_rows in prepared:
            if prepared_rows.num_rows:
                online.write(project, v, prepared_rows)
    if to_offline:
        offline.append(source.batch, table)

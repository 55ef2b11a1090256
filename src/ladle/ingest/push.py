"""Writing caller-supplied rows: ``push`` to a push source and ``write_to_online_store`` for one view."""

from __future__ import annotations

import enum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.conform import conform_keys
from ladle.common.frames import as_arrow
from ladle.common.times import UTC_US
from ladle.definitions import DataSource, FeatureView
from ladle.errors import InvalidRequest
from ladle.offline.columns import align_to_source, cast_to_declared, ensure_utc_micros
from ladle.online.base import CREATED_TS, EVENT_TS

__all__ = ["PushMode", "as_arrow", "check_offline_rows", "online_rows"]  # as_arrow: from ladle.common.frames


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
    return source.field_mapping.get(name, name)


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

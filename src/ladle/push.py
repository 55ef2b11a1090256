"""Writing caller-supplied rows: ``push`` to a push source and ``write_to_online_store`` for one view."""

from __future__ import annotations

import enum
from typing import Any

import pandas as pd
import pyarrow as pa

from ladle.conform import arrow_from_pandas, conform_keys, plain_python
from ladle.definitions import DataSource, FeatureView
from ladle.errors import InvalidRequest
from ladle.offline.columns import cast_to_declared, ensure_utc_micros
from ladle.online.base import CREATED_TS, EVENT_TS

__all__ = ["PushMode", "as_arrow", "online_rows"]


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
            raise InvalidRequest(
                f"push mode {value!r} is not one of online, offline, online_and_offline"
            ) from None


def as_arrow(df: Any) -> pa.Table:
    """A pandas/Polars frame, an Arrow table or a dict of lists as Arrow."""
    if isinstance(df, pa.Table):
        return df
    if isinstance(df, pd.DataFrame):
        return arrow_from_pandas(df, "the pushed rows")
    if isinstance(df, dict):
        try:
            try:
                return pa.table(df)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # UUIDs, sets: read as text and lists
                return pa.table({k: [plain_python(v) for v in vs] for k, vs in df.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise InvalidRequest(f"cannot read the rows as columns: {exc}") from exc
    if type(df).__module__.startswith("polars"):
        return df.to_arrow()
    raise InvalidRequest(f"rows must be a pandas DataFrame, a pyarrow Table or a dict of lists, got {type(df).__name__}")


def _mapped(source: DataSource, name: str) -> str:
    return source.field_mapping.get(name, name)


def online_rows(view: FeatureView, rows: pa.Table, what: str) -> pa.Table:
    """``rows`` (source column names) as the online store's write format for ``view``.

    Every join key, the source's timestamp column and every feature must be present.
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
        out[CREATED_TS] = pa.chunked_array([pa.nulls(rows.num_rows, pa.timestamp("us", tz="UTC"))])
    if out[EVENT_TS].null_count:
        raise InvalidRequest(f"{what}: {out[EVENT_TS].null_count} row(s) have no value in timestamp column '{ts_name}'")
    return pa.table(out)

"""``get_historical_features``: normalize the caller's entity rows, run the offline join, add on-demand
features, and hand back a lazy :class:`~ladle.retrieval.job.RetrievalJob`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa

from ladle.common.frames import pandas_to_arrow
from ladle.errors import EntityColumnsMissing, InvalidRequest, RequestDataNotFoundInEntityDf
from ladle.offline.base import EngineFrames, OfflineStore
from ladle.retrieval.feature_refs import ResolvedFeatures
from ladle.retrieval.job import RetrievalJob
from ladle.retrieval.on_demand_exec import apply_on_demand
from ladle.windows.offline import split_windowed, windowed_join

__all__ = ["DEFAULT_TIMESTAMP_COLUMN", "entity_table", "find_timestamp_column", "historical_job"]

DEFAULT_TIMESTAMP_COLUMN = "event_timestamp"


def entity_table(entity_df: Any, offline: OfflineStore) -> tuple[pa.Table, pd.DataFrame | None]:
    """The caller's entity rows as Arrow, plus the original pandas frame when one was given."""
    if isinstance(entity_df, pd.DataFrame):
        if entity_df.columns.duplicated().any():
            dup = sorted(set(entity_df.columns[entity_df.columns.duplicated()]))
            raise InvalidRequest(f"entity_df has duplicated column names: {dup}")
        return pandas_to_arrow(entity_df, "entity_df"), entity_df
    if isinstance(entity_df, pa.Table):
        return entity_df, None
    if isinstance(entity_df, str):
        return offline.query(entity_df), None
    if type(entity_df).__module__.startswith("polars"):
        return entity_df.to_arrow(), None
    raise InvalidRequest(
        f"entity_df must be a pandas DataFrame, a pyarrow Table, a Polars DataFrame or a SQL string, "
        f"got {type(entity_df).__name__}"
    )


def find_timestamp_column(table: pa.Table) -> str:
    """``event_timestamp`` if present, else the only timestamp column."""
    if DEFAULT_TIMESTAMP_COLUMN in table.column_names:
        return DEFAULT_TIMESTAMP_COLUMN
    candidates: list[str] = [f.name for f in table.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidRequest(
            "entity_df has no timestamp column; add an 'event_timestamp' column with the time of each row"
        )
    raise InvalidRequest(
        f"entity_df has several timestamp columns {candidates} and none is named 'event_timestamp'; "
        "rename the one to join on to 'event_timestamp'"
    )


def _check_columns(table: pa.Table, resolved: ResolvedFeatures) -> None:
    for v in resolved.views:
        missing = [c for c in v.entity_columns if c not in table.column_names]
        if missing:
            raise EntityColumnsMissing(
                f"entity_df lacks column(s) {missing} needed to join feature view '{v.name}' "
                f"(join keys {v.view.join_keys}); its columns are {table.column_names}"
            )
    for f in resolved.request_fields:
        if f.name not in table.column_names:
            users = [r.view.name for r in resolved.on_demand if any(x.name == f.name for x in r.request_fields)]
            raise RequestDataNotFoundInEntityDf(
                f"entity_df lacks request column '{f.name}' needed by on-demand view(s) {users}"
            )


def _check_key_types(table: pa.Table, key_types: dict[str, pa.DataType]) -> None:
    """The online rule for entity keys: integer keys take integers (integral floats too), never booleans or
    strings; string and bytes keys take only their kind. ``True`` or ``"1"`` is never silently key 1."""
    for name, target in key_types.items():
        if name not in table.column_names:
            continue
        t = table.schema.field(name).type
        if isinstance(t, pa.BaseExtensionType):  # pyarrow's uuid type: 16 bytes, read as canonical text for Uuid keys
            t = t.storage_type
        if pa.types.is_integer(target):
            ok = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)
        elif pa.types.is_string(target) or pa.types.is_large_string(target):
            uuid_bytes = pa.types.is_fixed_size_binary(t) and t.byte_width == 16
            ok = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t) or uuid_bytes
        elif pa.types.is_binary(target) or pa.types.is_large_binary(target):
            ok = pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_null(t)
        else:
            continue
        if not ok:
            raise InvalidRequest(
                f"entity column '{name}' has a value of the wrong type (expected {target}): entity_df holds {t}"
            )


def historical_job(
    offline: OfflineStore,
    resolved: ResolvedFeatures,
    entity_df: Any,
    filter_by_created_timestamp: bool = False,
    key_types: dict[str, pa.DataType] | None = None,
) -> RetrievalJob:
    """Build the lazy training-set job (validation happens now; the join runs on first access).

    ``key_types`` (entity column -> declared Arrow type) applies the online key-typing rule to entity_df.
    """
    engine = offline if isinstance(offline, EngineFrames) else None
    # entity rows already in the store's engine (a Spark DataFrame, or SQL) stay there: checks use the schema
    kept = engine.entity_schema(entity_df) if engine is not None else None
    if engine is not None and kept is not None:
        table, frame = kept.empty_table(), None
    else:
        table, frame = entity_table(entity_df, offline)
    ts_col = find_timestamp_column(table)
    _check_columns(table, resolved)
    _check_key_types(table, key_types or {})
    clash = [o[2] for o in resolved.outputs if o[2] in table.column_names]
    if clash:
        raise InvalidRequest(
            f"entity_df already has column(s) {clash}, which are also feature names; "
            "rename them or pass full_feature_names=True"
        )

    plain, windowed = split_windowed(resolved.views)

    def compute() -> pa.Table:
        rows = table
        columns: dict[str, Any]
        if engine is not None and kept is not None:
            rows, columns = engine.collect_join(entity_df, ts_col, plain, filter_by_created_timestamp)
        else:
            joined = (
                offline.point_in_time_join(table, ts_col, plain, True, filter_by_created_timestamp)
                if plain
                else pa.table({})
            )
            columns = {name: joined.column(name) for name in joined.column_names}
        columns.update(windowed_join(offline, rows, ts_col, windowed, True))
        if resolved.on_demand:
            columns.update({c: rows.column(c) for c in rows.column_names})
            columns.update(apply_on_demand(resolved, columns, rows.num_rows))
        out = {c: rows.column(c) for c in rows.column_names}
        for view, feature, col in resolved.outputs:
            out[col] = columns[f"{view}__{feature}"]
        return pa.table(out)

    engine_frame: Callable[[], Any] | None = None
    if engine is not None and not resolved.on_demand and not windowed:  # computed on the driver
        native, entities = engine, (entity_df if kept is not None else table)

        def engine_frame() -> Any:
            return native.result_frame(entities, ts_col, resolved.views, resolved.outputs, filter_by_created_timestamp)

    return RetrievalJob(
        compute,
        frame,
        [o[2] for o in resolved.outputs],
        resolved.full_feature_names,
        {"timestamp_column": ts_col, "features": [f"{o[0]}:{o[1]}" for o in resolved.outputs]},
        offline_store=type(offline).type_names[0] if type(offline).type_names else type(offline).__name__,
        engine=engine,
        engine_frame=engine_frame,
        object_store=offline.object_store,
    )

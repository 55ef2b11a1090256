"""Windowed features in training sets: the one entry point ``get_historical_features`` calls, dispatching to
the window SQL of the offline store in use (one module per backend: ``offline_duckdb``, ``offline_postgres``,
``offline_spark``).

Every backend computes the same thing (docs/semantics.md, "Windowed aggregations"): for each entity row
``(k, t)`` and each spec, the function over the events of ``k`` with ``t - W < ts <= t``. They share the plan:
stack the entity rows with the events of the keys they ask for, ordered by time per key, and compute each
function as a window aggregate over ``RANGE BETWEEN W - 1 PRECEDING AND CURRENT ROW`` on epoch microseconds
(which is exactly ``(t - W, t]`` on integers, peers at ``t`` included). The cost is a sort of the events
and entity rows per key plus one windowed aggregate per spec (segment trees, no per-row rescans), so a hot
key never costs ``entity rows x events``; DuckDB joins a key's rows to its events directly when that product
is the cheaper plan (few entity rows per key).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.errors import BackendFailure, InvalidRequest
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.offline.columns import cast_to_declared, ensure_utc_micros
from ladle.windows.spec import WindowSpec, is_windowed, window_specs

__all__ = ["ROW", "TS", "WindowJoin", "bounds_for", "in_row_order", "split_windowed", "windowed_join"]

#: columns of the entity table every backend is given: the row number and the entity time in epoch µs
ROW = "__ladle_row"
TS = "__ladle_ts"

#: ``join(store, entities, requests) -> {request name: table of (ROW, spec name...)}`` per backend: ``entities``
#: holds ROW, TS and the entity columns the requests need; rows may come back in any order
WindowJoin = Callable[[Any, pa.Table, list[ViewRequest], dict[str, list[WindowSpec]]], dict[str, pa.Table]]

_BACKENDS = {"duckdb": "offline_duckdb", "postgres": "offline_postgres", "spark": "offline_spark"}


def split_windowed(views: list[ViewRequest]) -> tuple[list[ViewRequest], list[ViewRequest]]:
    """``(plain, windowed)`` requests: the windowed ones are answered by :func:`windowed_join`."""
    plain = [v for v in views if not is_windowed(v.view)]
    return plain, [v for v in views if is_windowed(v.view)]


def _backend(store: OfflineStore) -> WindowJoin:
    names = [n for n in type(store).type_names if n in _BACKENDS]
    if not names:
        kinds = ", ".join(sorted(_BACKENDS))
        raise InvalidRequest(
            f"the {type(store).__name__} offline store cannot compute windowed aggregations; "
            f"use one of the offline stores that can: {kinds}"
        )
    module = importlib.import_module(f"ladle.windows.{_BACKENDS[names[0]]}")
    join: WindowJoin = module.join
    return join


def bounds_for(entity_ts: pa.ChunkedArray, specs: list[WindowSpec]) -> tuple[int | None, int | None]:
    """The event times (epoch µs, inclusive) any entity row can see: from the earliest row's longest window."""
    lo, hi = pc.min(entity_ts).as_py(), pc.max(entity_ts).as_py()
    longest = max((s.window_us for s in specs), default=0)
    return (None if lo is None else lo - longest + 1, hi)


def in_row_order(result: pa.Table, n: int, what: str) -> pa.Table:
    """Put a backend's unordered result back in entity-row order (``ROW`` is a permutation of 0..n-1)."""
    if result.num_rows != n:
        raise BackendFailure("offline store", f"{what}: the window query returned {result.num_rows} rows for {n}")
    rows = result.column(ROW).to_numpy()
    order = np.empty(n, dtype=np.int64)
    order[rows] = np.arange(n, dtype=np.int64)
    return result.take(pa.array(order))


def windowed_join(
    store: OfflineStore,
    entities: pa.Table,
    timestamp_column: str,
    views: list[ViewRequest],
    full_feature_names: bool,
) -> dict[str, pa.ChunkedArray]:
    """The windowed features of ``views`` for every row of ``entities``, as ``{output name: column}`` in row
    order, cast to the declared types (output names per ``ViewRequest.output_name``)."""
    if not views:
        return {}
    n = entities.num_rows
    ts = ensure_utc_micros(entities.column(timestamp_column), timestamp_column).cast(pa.int64())
    key_cols = sorted({c for v in views for c in v.entity_columns})
    slim = pa.table({ROW: pa.array(np.arange(n, dtype=np.int64)), TS: ts} | {c: entities.column(c) for c in key_cols})
    specs = {}
    for req in views:
        wanted = {f.name for f in req.features}
        specs[req.name] = [s for s in window_specs(req.view) if s.name in wanted]
    results = _backend(store)(store, slim, views, specs)
    out: dict[str, pa.ChunkedArray] = {}
    for req in views:
        table = in_row_order(results[req.name], n, f"windowed features of '{req.name}'")
        for f in req.features:
            col = table.column(f.name)
            out[req.output_name(f.name, full_feature_names)] = cast_to_declared(col, f.dtype, f"{req.name}:{f.name}")
    return out


def window_us(delta: timedelta) -> int:
    """A window length in whole microseconds."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

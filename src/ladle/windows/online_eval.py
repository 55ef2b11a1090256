"""Every aggregate of a read, for many keys at once, from the events fetched from the window state.

The same rules as the reference evaluator (:func:`ladle.windows.functions.evaluate`): the window ending at
``at`` holds the events with ``at - W < ts <= at``; null values are skipped; an empty window gives 0 for
``count``/``count_distinct`` and null for the rest; ``std``/``var`` are sample statistics; ``first``/``last``
and ``first_k``/``last_k`` order events by time, then created time (missing first), then value. Columnar:
one Arrow group-by per window length (and per ordered column), never a loop over events.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ladle.windows.spec import WindowSpec

__all__ = ["CREATED", "aggregate"]

#: the payload column holding the source's created timestamp (for the tie order of first/last)
CREATED = "__created"
_KEY = "__k"
_TS = "__ts"

#: canonical function -> (Arrow hash aggregate, options)
_UNORDERED: dict[str, tuple[str, pc.FunctionOptions | None]] = {
    "sum": ("sum", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)),
    "count": ("count", pc.CountOptions(mode="only_valid")),
    "mean": ("mean", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)),
    "min": ("min", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)),
    "max": ("max", pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)),
    "std": ("stddev", pc.VarianceOptions(ddof=1, skip_nulls=True, min_count=2)),
    "var": ("variance", pc.VarianceOptions(ddof=1, skip_nulls=True, min_count=2)),
    "count_distinct": ("count_distinct", pc.CountOptions(mode="only_valid")),
}
_ORDERED = {"first", "last", "first_k", "last_k"}
_ZERO_WHEN_EMPTY = {"count", "count_distinct"}


def aggregate(specs: Sequence[WindowSpec], key_count: int, events: pa.Table, at_us: int) -> dict[str, pa.Array]:
    """``{spec name: one value per key}`` for the windows ending at ``at_us``.

    ``events`` has ``__k`` (the key's position, ``0 <= __k < key_count``), ``__ts`` (UTC micros, all
    ``<= at_us``), every spec's column and, when the source has one, ``__created``.
    """
    out: dict[str, pa.Array] = {}
    by_window: dict[int, list[WindowSpec]] = {}
    for spec in specs:
        by_window.setdefault(spec.window_us, []).append(spec)
    ts = events.column(_TS)
    for window_us, group in by_window.items():
        inside = events.filter(pc.greater(ts, pa.scalar(at_us - window_us, pa.int64())))
        unordered = [s for s in group if s.function not in _ORDERED]
        if unordered:
            out.update(_unordered(unordered, key_count, inside))
        for spec in group:
            if spec.function in _ORDERED:
                out[spec.name] = _ordered(spec, key_count, inside)
    return {spec.name: _finish(spec, out[spec.name]) for spec in specs}


def _scatter(keys: pa.Array, key_count: int) -> pa.Array:
    """Indices that put a group-by result (one row per key present in ``keys``) in key order, null where absent."""
    positions = np.full(key_count, -1, np.int64)
    positions[keys.to_numpy(zero_copy_only=False)] = np.arange(len(keys))
    return pa.array(positions, mask=positions < 0)


def _unordered(specs: list[WindowSpec], key_count: int, inside: pa.Table) -> dict[str, pa.Array]:
    aggs = [(s.column, *_UNORDERED[s.function]) for s in specs]
    result = inside.group_by(_KEY, use_threads=False).aggregate(aggs)
    take = _scatter(result.column(_KEY).combine_chunks(), key_count)
    out = {}
    for spec, (column, function, _) in zip(specs, aggs, strict=True):
        values = result.column(f"{column}_{function}").combine_chunks().take(take)
        out[spec.name] = values.fill_null(0) if spec.function in _ZERO_WHEN_EMPTY else values
    return out


def _ordered(spec: WindowSpec, key_count: int, inside: pa.Table) -> pa.Array:
    column = spec.column
    rows = inside.filter(pc.is_valid(inside.column(column)))
    order = [(_KEY, "ascending"), (_TS, "ascending")]
    if CREATED in rows.column_names:
        order.append((CREATED, "ascending"))
    rows = rows.sort_by([*order, (column, "ascending")]) if rows.num_rows > 1 else rows
    if CREATED in rows.column_names and rows.num_rows > 1:
        # a missing created time sorts before any present one (Arrow puts nulls last): stable re-sort on presence
        rows = rows.take(_created_nulls_first(rows))
    function = {"first": "first", "last": "last"}.get(spec.function, "list")
    result = rows.group_by(_KEY, use_threads=False).aggregate([(column, function)])
    values = result.column(f"{column}_{function}").combine_chunks()
    if function == "list":
        k = spec.param or 0
        values = pa.array([v[:k] if spec.function == "first_k" else v[-k:] for v in values.to_pylist()], values.type)
    return values.take(_scatter(result.column(_KEY).combine_chunks(), key_count))


def _created_nulls_first(rows: pa.Table) -> np.ndarray:
    keys = rows.column(_KEY).to_numpy()
    ts = rows.column(_TS).to_numpy()
    present = rows.column(CREATED).is_valid().to_numpy(zero_copy_only=False)
    return np.lexsort((np.arange(len(keys)), present, ts, keys))


def _finish(spec: WindowSpec, values: pa.Array) -> pa.Array:
    """``values`` as the spec's declared type."""
    if values.type == spec.dtype:
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), spec.dtype)
    return values.cast(spec.dtype, safe=False)

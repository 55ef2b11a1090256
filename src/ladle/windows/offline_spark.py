"""Window expressions for the Spark offline store (see :mod:`ladle.windows.offline` for the plan).

Entity rows and the events of their keys are stacked (``unionByName``) and every spec is a window
aggregate over ``rangeBetween(-(W - 1), 0)`` on epoch microseconds, partitioned by the join keys. ``first``
and ``last`` are ``min_by``/``max_by`` over the total order ``(event time, created, value)`` (a missing created
time is the oldest); ``count_distinct`` and the ``_k`` lists collect the frame's values.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ladle.offline.base import ViewRequest
from ladle.offline.spark import SparkOfflineStore, _key_column, _pyspark, col
from ladle.windows.offline import ROW, TS, bounds_for
from ladle.windows.spec import WindowSpec

__all__ = ["join"]


def _ordered(spec: WindowSpec) -> Any:
    """The event's place in the total order with its value, or null when the value is null (then skipped)."""
    _, F, _ = _pyspark()
    value = col(spec.column)
    return F.when(value.isNotNull(), F.struct(F.col("__ts"), F.col("__cr"), value.alias("v")))


def _expr(spec: WindowSpec, window: Any) -> Any:
    _, F, _ = _pyspark()
    value = col(spec.column)
    simple = {
        "sum": F.sum,
        "count": F.count,
        "mean": F.avg,
        "min": F.min,
        "max": F.max,
        "std": F.stddev_samp,
        "var": F.var_samp,
    }
    if spec.function in simple:
        return simple[spec.function](value).over(window)
    if spec.function == "count_distinct":
        return F.size(F.collect_set(value).over(window))
    if spec.function == "first":
        return F.min_by(value, _ordered(spec)).over(window)
    if spec.function == "last":
        return F.max_by(value, _ordered(spec)).over(window)
    k = int(spec.param or 1)
    items = F.sort_array(F.collect_list(_ordered(spec)).over(window))
    n = F.size(items)
    start = F.lit(1) if spec.function == "first_k" else F.greatest(n - F.lit(k - 1), F.lit(1))
    picked = F.transform(F.slice(items, start, F.lit(k)), lambda s: s["v"])
    return F.when(n > 0, picked)


def _view_frame(
    store: SparkOfflineStore, entities: Any, req: ViewRequest, specs: list[WindowSpec], slim: pa.Table
) -> Any:
    _, F, Window = _pyspark()
    view = req.view
    lo, hi = bounds_for(slim.column(TS), specs)
    columns = sorted({s.column for s in specs})
    rows = store._view_rows(view, columns, lo, hi)
    keys = [f"__k{i}" for i in range(len(view.join_keys))]
    key_types = {k: rows.schema[k].dataType for k in view.join_keys}
    types = {f.name: f.dtype for f in view.entity_columns}
    ent_side = entities.select(
        *[
            _key_column(col(c), types.get(k)).cast(key_types[k]).alias(kk)
            for c, k, kk in zip(req.entity_columns, view.join_keys, keys, strict=True)
        ],
        col(TS).alias("__ts"),
        col(ROW).alias("__row"),
    )
    ev_side = rows.select(
        *[col(k).alias(kk) for k, kk in zip(view.join_keys, keys, strict=True)],
        F.col("__ts"),
        F.col("__cr"),
        *[col(c) for c in columns],
    )
    if keys:  # only the keys some entity row asks for
        ev_side = ev_side.join(ent_side.select(*keys).distinct(), on=keys, how="left_semi")
    stacked = ev_side.unionByName(ent_side, allowMissingColumns=True)
    exprs = []
    for spec in specs:
        window = Window.partitionBy(*keys).orderBy("__ts").rangeBetween(-(spec.window_us - 1), 0)
        exprs.append(_expr(spec, window).alias(spec.name))
    return stacked.select(F.col("__row").alias(ROW), *exprs).where(F.col(ROW).isNotNull())


def join(
    store: SparkOfflineStore, slim: pa.Table, views: list[ViewRequest], specs: dict[str, list[WindowSpec]]
) -> dict[str, pa.Table]:
    """Each windowed request's features for the entity rows of ``slim``, as ``(ROW, feature...)`` tables."""
    entities = store._upload(slim)
    return {
        req.name: store._to_arrow(
            _view_frame(store, entities, req, specs[req.name], slim), f"windowed features of '{req.name}'"
        )
        for req in views
    }

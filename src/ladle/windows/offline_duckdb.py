"""Window SQL for the DuckDB offline store (see :mod:`ladle.windows.offline` for the plan).

Each spec is one DuckDB window aggregate over ``RANGE BETWEEN W - 1 PRECEDING AND CURRENT ROW``; DuckDB
evaluates framed aggregates with segment trees, so a key with many events costs a sort, not a rescan per
row. ``first``/``last`` (and their ``_k`` forms) are ``arg_min``/``arg_max`` by the total order
``(event time, created present, created time, value)``.
"""

from __future__ import annotations

import pyarrow as pa

from ladle.offline.base import ViewRequest
from ladle.offline.duckdb import DuckDBOfflineStore, _key_sql, q
from ladle.windows.offline import ROW, TS, bounds_for
from ladle.windows.spec import WindowSpec

__all__ = ["join", "spec_sql"]

_ENTITY = "__ladle_window_entities"
#: a window aggregate costs about this many joined (entity row, event) pairs per row and spec (measured with
#: bench/windowed_historical.py); 0 frames every key
FRAME_COST = 60


def _order_key(column: str, has_created: bool) -> str:
    created = "coalesce(__cr, 0)" if has_created else "0"
    flag = "__cr IS NOT NULL" if has_created else "false"
    return f"CASE WHEN {column} IS NOT NULL THEN struct_pack(t := __ts, h := {flag}, c := {created}, v := {column}) END"


def spec_sql(spec: WindowSpec, has_created: bool, over: str = "", within: str = "") -> str:
    """One spec as an aggregate: a window aggregate when ``over`` names a window, else a grouped aggregate
    restricted to the events of its window by the condition ``within`` (empty: every joined event)."""
    c = q(spec.column)
    key = _order_key(c, has_created)
    calls = {
        "sum": f"sum({c})",
        "count": f"count({c})",
        "mean": f"avg({c})",
        "min": f"min({c})",
        "max": f"max({c})",
        "std": f"stddev_samp({c})",
        "var": f"var_samp({c})",
        "count_distinct": f"count(DISTINCT {c})",
        "first": f"arg_min({c}, {key})",
        "last": f"arg_max({c}, {key})",
        "first_k": f"arg_min({c}, {key}, {spec.param})",
        "last_k": f"arg_max({c}, {key}, {spec.param})",
    }
    tail = (f" FILTER (WHERE {within})" if within else "") + (f" OVER {over}" if over else "")
    expr = calls[spec.function] + tail
    if spec.function == "last_k":
        expr = f"list_reverse({expr})"
    if spec.function in ("first_k", "last_k"):  # an empty window is null, not an empty list
        expr = f"CASE WHEN count({c}){tail} > 0 THEN {expr} END"
    return f"{expr} AS {q(spec.name)}"


def _view_sql(store: DuckDBOfflineStore, req: ViewRequest, specs: list[WindowSpec], slim: pa.Table) -> str:
    view = req.view
    columns = sorted({s.column for s in specs})
    has_created = bool(view.batch_source.created_timestamp_column)
    lo, hi = bounds_for(slim.column(TS), specs)
    events = store._view_select(view, columns, (lo, hi))
    types = {f.name: f.dtype for f in view.entity_columns}
    keys = view.join_keys
    entity_keys = [f"{_key_sql(q(ec), types.get(k))} AS {q(k)}" for ec, k in zip(req.entity_columns, keys, strict=True)]
    ent = f"SELECT {', '.join([*entity_keys, f'{TS} AS __ts', f'{ROW} AS __row'])} FROM {_ENTITY}"
    windows = sorted({s.window_us for s in specs})
    if not keys:
        aggs = ", ".join(spec_sql(s, has_created, over=f"w{s.window_us}") for s in specs)
        named = ", ".join(
            f"w{us} AS (ORDER BY __ts RANGE BETWEEN {us - 1} PRECEDING AND CURRENT ROW)" for us in windows
        )
        stacked = f"SELECT * FROM ({events}) UNION ALL BY NAME {ent}"
        return f"SELECT * FROM (SELECT __row AS {ROW}, {aggs} FROM ({stacked}) WINDOW {named}) WHERE {ROW} IS NOT NULL"
    return _keyed_sql(keys, ent, events, specs, has_created, (lo, hi), slim.num_rows)


def _keyed_sql(
    keys: list[str],
    ent: str,
    events: str,
    specs: list[WindowSpec],
    has_created: bool,
    bounds: tuple[int | None, int | None],
    rows: int,
) -> str:
    """Per key, the cheaper of two exact plans: join its entity rows to its events and group (rows x events
    pairs), or frame them: one ordered sequence (key number x stride + time, keys further apart than any
    window) that DuckDB frames with segment trees, far faster than thousands of small partitions."""
    longest = max(s.window_us for s in specs)
    windows = sorted({s.window_us for s in specs})
    key_list = ", ".join(q(k) for k in keys)
    match = " AND ".join(f"s.{q(k)} = w.{q(k)}" for k in keys)
    base = (bounds[0] or 0) - 1
    stride = (bounds[1] or 0) - base + longest + 1
    if (rows + 2) * stride < 2**62:
        order, partition = f"__kr * {stride} + (__ts - {base})", ""
    else:  # the numbered sequence would overflow BIGINT: partition by key instead
        order, partition = "__ts", f"PARTITION BY {key_list} "
    named = ", ".join(
        f"w{us} AS ({partition}ORDER BY __o RANGE BETWEEN {us - 1} PRECEDING AND CURRENT ROW)" for us in windows
    )
    framed = ", ".join(spec_sql(s, has_created, over=f"w{s.window_us}") for s in specs)
    banded = ", ".join(
        spec_sql(s, has_created, within="" if s.window_us == longest else f"__ts > __et - {s.window_us}") for s in specs
    )
    band_match = " AND ".join(f"v.{q(k)} = e.{q(k)}" for k in keys)
    # a key is framed when joining its entity rows to its events (rows x events pairs) would cost more than
    # framing them (rows + events, times the number of specs and the measured per-row cost of a frame)
    framed_when = f"__n * __m > {FRAME_COST} * {len(specs)} * (__n + __m)"
    return (
        f"WITH ent AS ({ent}), "
        f"span AS (SELECT {key_list}, min(__ts) AS __lo, max(__ts) AS __hi, count(*) AS __n, "
        f"row_number() OVER () AS __kr FROM ent GROUP BY ALL), "
        f"ev0 AS (SELECT s.*, w.__kr, w.__n FROM ({events}) s JOIN span w ON {match} "
        f"WHERE s.__ts > w.__lo - {longest} AND s.__ts <= w.__hi), "
        f"mode AS (SELECT __kr, {framed_when} AS __framed FROM "
        f"(SELECT __kr, any_value(__n) AS __n, count(*) AS __m FROM ev0 GROUP BY __kr)), "
        f"ev AS (SELECT s.*, coalesce(m.__framed, false) AS __framed FROM ev0 s LEFT JOIN mode m USING (__kr)), "
        f"er AS (SELECT s.*, w.__kr, coalesce(m.__framed, false) AS __framed FROM ent s "
        f"LEFT JOIN span w ON {match} LEFT JOIN mode m ON m.__kr = w.__kr), "
        f"stacked AS (SELECT *, {order} AS __o FROM (SELECT * EXCLUDE (__n) FROM ev WHERE __framed "
        f"UNION ALL BY NAME SELECT * FROM er WHERE __framed)), "
        f"joined AS (SELECT e.__row, e.__ts AS __et, v.* EXCLUDE (__kr, __n, __framed) FROM er e LEFT JOIN ev v "
        f"ON {band_match} AND v.__ts <= e.__ts AND v.__ts > e.__ts - {longest} WHERE NOT e.__framed) "
        f"SELECT * FROM (SELECT __row AS {ROW}, {framed} FROM stacked WINDOW {named}) WHERE {ROW} IS NOT NULL "
        f"UNION ALL SELECT __row AS {ROW}, {banded} FROM joined GROUP BY __row"
    )


def join(
    store: DuckDBOfflineStore, slim: pa.Table, views: list[ViewRequest], specs: dict[str, list[WindowSpec]]
) -> dict[str, pa.Table]:
    """Each windowed request's features for the entity rows of ``slim``, as ``(ROW, feature...)`` tables."""
    out = {}
    for req in views:
        sql = _view_sql(store, req, specs[req.name], slim)
        out[req.name] = store._run(sql, f"windowed features of '{req.name}'", {_ENTITY: slim})
    return out

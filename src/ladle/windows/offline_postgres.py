"""Window SQL for the PostgreSQL offline store (see :mod:`ladle.windows.offline` for the plan).

On one ADBC connection (Arrow in and out, no Python rows), the entity rows are ingested into a temporary table
and the events of their keys (in the time range they can see) copied into another, indexed on ``(keys,
time)``; both vanish with the transaction. ``sum``, ``count``, ``mean``, ``std`` and ``var`` are window
aggregates over ``RANGE BETWEEN W - 1 PRECEDING AND CURRENT ROW``; ``sum``, ``mean``, ``std`` and ``var`` take
the column as ``numeric``, whose aggregates PostgreSQL slides (an inverse transition as the frame moves) where
float8's re-read the whole frame per row. PostgreSQL has no ``arg_max``, so ``first``/``last`` (and their
``_k`` forms) are per-row subqueries on the index, each reading ``k`` index entries (``ORDER BY ... LIMIT k``).

``min`` and ``max`` have no inverse transition either, so framed over ``RANGE`` they would re-read each row's
frame (rows x events on a hot key). They are split at block edges instead: with blocks ``[bW, (b+1)W)`` per
key, the window ``(t - W, t]`` of a time ``t`` in block ``b`` is the tail of block ``b - 1`` after ``t - W``
plus the head of block ``b`` up to ``t``. The head is a running extreme in time order within the block, the
tail a running extreme in reverse time order read at a probe placed at ``t - W`` (which lies in block
``b - 1``); both are ``ROWS UNBOUNDED PRECEDING`` frames, which PostgreSQL extends without re-reading, and
the answer is the ``GREATEST``/``LEAST`` of the two (both skip nulls). One sort each way per window length.

PostgreSQL has no framed ``count(DISTINCT)`` either; reading each row's window would cost rows x events on a
hot key. Instead, an event of value ``v`` at ``ts`` is the one that makes ``v`` count in the windows ending at
``t`` for ``ts <= t < min(next, ts + W)``, ``next`` being the time of the key's next event of the same value
(``lead``; equal to ``ts`` for all but the last of duplicates). So each event adds +1 at ``ts`` and -1 at
``min(next, ts + W)``, and ``count_distinct`` at ``t`` is the running sum of those steps up to ``t``
inclusive, per key: one sort of events and entity rows, exact, whatever the skew.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ladle.drivers.postgres_arrow import plain_columns
from ladle.offline.base import ViewRequest
from ladle.offline.postgres import PostgreSQLOfflineStore, _key_sql, _key_upload, sql
from ladle.windows.offline import ROW, TS, bounds_for
from ladle.windows.spec import WindowSpec

__all__ = ["join"]

_ENTITY = "__ladle_window_entities"
_EVENTS = "__ladle_window_events"
_WINDOWED = {"sum", "count", "mean", "std", "var"}
#: computed from block heads and tails (see the module docstring)
_EXTREMES = {"min", "max"}
#: framed over ``numeric`` so PostgreSQL can slide them (see :func:`_window_expr`)
_MOVING_AS_NUMERIC = {"sum", "mean", "std", "var"}
#: the alias of the running-sum subquery of the i-th count_distinct spec
_DISTINCT = "__cd{}"
#: the alias of the block-extremes subquery of the min/max specs of window length ``us``
_EXTREME = "__mm{}"


def _ident(name: str) -> Any:
    return sql.Identifier(name)


def _cast(spec: WindowSpec) -> str:
    if spec.function in ("mean", "std", "var") or (spec.function == "sum" and pa.types.is_floating(spec.dtype)):
        return "::float8"
    if spec.function == "sum":
        return "::bigint"
    return ""


def _window_expr(spec: WindowSpec) -> Any:
    fn = {"mean": "avg", "std": "stddev_samp", "var": "var_samp"}.get(spec.function, spec.function)
    col = _ident(spec.column)
    if spec.function in _MOVING_AS_NUMERIC:
        # float8 sum/avg/var have no inverse transition, so each row would re-read its whole frame (rows x
        # events on a hot key); over numeric they are moving aggregates, and exact
        col = sql.SQL("{}::numeric").format(col)
    return sql.SQL("({fn}({col}) OVER {w}){cast} AS {name}").format(
        fn=sql.SQL(fn),
        col=col,
        w=sql.SQL(f"w{spec.window_us}"),
        cast=sql.SQL(_cast(spec)),
        name=_ident(spec.name),
    )


def _row_expr(spec: WindowSpec, keys: list[str], has_created: bool) -> Any:
    """A per-entity-row subquery over the indexed events (for what PostgreSQL cannot frame)."""
    col = _ident(spec.column)
    match = [sql.SQL("v.{k} = u.{k}").format(k=_ident(k)) for k in keys]
    match.append(sql.SQL("v.__ts > u.__ts - {} AND v.__ts <= u.__ts").format(sql.Literal(spec.window_us)))
    match.append(sql.SQL("v.{} IS NOT NULL").format(col))
    where = sql.SQL(" AND ").join(match)
    last = spec.function.startswith("last")
    direction = "DESC" if last else "ASC"
    created = f"(v.__cr IS NOT NULL) {direction}, v.__cr {direction}, " if has_created else ""
    order = sql.SQL(f"v.__ts {direction}, {created}v.{{c}} {direction}").format(c=col)
    limit = spec.param or 1
    picked = sql.SQL("SELECT v.{c} AS x, v.__ts AS t{cr} FROM {ev} v WHERE {w} ORDER BY {o} LIMIT {k}").format(
        c=col,
        cr=sql.SQL(", v.__cr AS cr" if has_created else ""),
        ev=_ident(_EVENTS),
        w=where,
        o=order,
        k=sql.Literal(limit),
    )
    if spec.function in ("first", "last"):
        return sql.SQL("(SELECT p.x FROM ({p}) p) AS {n}").format(p=picked, n=_ident(spec.name))
    # chronological order: the total order ascending
    asc = "p.t, (p.cr IS NOT NULL), p.cr, p.x" if has_created else "p.t, p.x"
    return sql.SQL("(SELECT array_agg(p.x ORDER BY {asc}) FROM ({p}) p) AS {n}").format(
        asc=sql.SQL(asc), p=picked, n=_ident(spec.name)
    )


def _distinct_counts(spec: WindowSpec, keys: list[str], key_list: Any, entity_keys: Any) -> Any:
    """``(__row, n)``: ``count_distinct`` of ``spec`` for every entity row, as a running sum of +1/-1 steps
    (see the module docstring)."""
    partition = sql.SQL("PARTITION BY {} ").format(sql.SQL(", ").join(_ident(k) for k in keys)) if keys else sql.SQL("")
    by_value = sql.SQL(", ").join([*(_ident(k) for k in keys), _ident(spec.column)])
    steps = sql.SQL(
        "SELECT {keys}x.t AS __ts, x.d AS __d, NULL::bigint AS __row FROM ("
        "SELECT {keys}__ts, lead(__ts) OVER (PARTITION BY {by_value} ORDER BY __ts) AS __next "
        "FROM {ev} WHERE {c} IS NOT NULL) a "
        "CROSS JOIN LATERAL (VALUES (a.__ts, 1), (LEAST(a.__next, a.__ts + {w}), -1)) AS x(t, d) "
        "UNION ALL SELECT {ekeys}e.{ts} AS __ts, 0 AS __d, e.{row} AS __row FROM {ent} e"
    ).format(
        keys=key_list,
        by_value=by_value,
        ev=_ident(_EVENTS),
        c=_ident(spec.column),
        w=sql.Literal(spec.window_us),
        ekeys=entity_keys,
        ts=_ident(TS),
        row=_ident(ROW),
        ent=_ident(_ENTITY),
    )
    # ORDER BY without a frame is RANGE UNBOUNDED PRECEDING: the steps at the row's own time are in
    return sql.SQL(
        "SELECT __row, n FROM (SELECT __row, sum(__d) OVER ({p}ORDER BY __ts) AS n FROM ({s}) z) y "
        "WHERE __row IS NOT NULL"
    ).format(p=partition, s=steps)


def _block(ts: Any, us: int) -> Any:
    """The block ``b`` with ``bW <= ts < (b+1)W`` (``W = us``): floor division, before 1970 too (``/`` and ``%``
    truncate toward zero)."""
    w = sql.Literal(us)
    return sql.SQL("(({ts} - (({ts} % {w}) + {w}) % {w}) / {w})").format(ts=ts, w=w)


def _block_extremes(specs: list[WindowSpec], us: int, key_list: Any, entity_keys: Any) -> Any:
    """``(__row, <name>...)``: every ``min``/``max`` of window length ``us`` for each entity row, the extreme of
    its block's head and of the previous block's tail (see the module docstring)."""
    columns = sorted({s.column for s in specs})
    partition = sql.SQL("PARTITION BY {}__b").format(key_list)
    values = sql.SQL("").join(sql.SQL(", {}").format(_ident(c)) for c in columns)
    nulls = sql.SQL("").join(sql.SQL(", NULL AS {}").format(_ident(c)) for c in columns)

    def side(probe_ts: Any, order: str, prefix: str) -> Any:
        # events sort before the entity row at its own time (included) and after its probe at t - W (excluded)
        aggs = sql.SQL("").join(
            sql.SQL(", {fn}({c}) OVER w AS {n}").format(
                fn=sql.SQL(s.function), c=_ident(s.column), n=_ident(prefix + s.name)
            )
            for s in specs
        )
        stacked = sql.SQL(
            "SELECT {keys}__ts, {bev} AS __b, 0 AS __side, NULL::bigint AS __row{values} FROM {ev} "
            "UNION ALL SELECT {ekeys}{pts} AS __ts, {bent} AS __b, 1, e.{row}{nulls} FROM {ent} e"
        ).format(
            keys=key_list,
            bev=_block(sql.SQL("__ts"), us),
            values=values,
            ev=_ident(_EVENTS),
            ekeys=entity_keys,
            pts=probe_ts,
            bent=_block(probe_ts, us),
            row=_ident(ROW),
            nulls=nulls,
            ent=_ident(_ENTITY),
        )
        return sql.SQL(
            "SELECT * FROM (SELECT __row{aggs} FROM ({s}) x "
            "WINDOW w AS ({p} ORDER BY __ts {o}, __side {o} ROWS UNBOUNDED PRECEDING)) y WHERE __row IS NOT NULL"
        ).format(aggs=aggs, s=stacked, p=partition, o=sql.SQL(order))

    ts = sql.SQL("e.{}").format(_ident(TS))
    head = side(ts, "ASC", "h_")
    tail = side(sql.SQL("({} - {})").format(ts, sql.Literal(us)), "DESC", "t_")
    picked = sql.SQL(", ").join(
        sql.SQL("{f}(h.{h}, t.{t}) AS {n}").format(
            f=sql.SQL("GREATEST" if s.function == "max" else "LEAST"),
            h=_ident("h_" + s.name),
            t=_ident("t_" + s.name),
            n=_ident(s.name),
        )
        for s in specs
    )
    return sql.SQL("SELECT h.__row, {p} FROM ({h}) h JOIN ({t}) t ON t.__row = h.__row").format(
        p=picked, h=head, t=tail
    )


def _entity_keys(req: ViewRequest) -> list[Any]:
    """The entity rows' key columns (of ``e``) as the view's join keys are compared, under the join keys' names."""
    types = {f.name: f.dtype for f in req.view.entity_columns}
    return [
        sql.SQL("{} AS {}").format(_key_sql(sql.SQL("e.{}").format(_ident(c)), types.get(k)), _ident(k))
        for c, k in zip(req.entity_columns, req.view.join_keys, strict=True)
    ]


def _entity_upload(slim: pa.Table) -> pa.Table:
    """The entity rows as ingested: row number and time as BIGINT, keys as the point-in-time join uploads them
    (so both compare keys alike)."""
    return pa.table({c: slim.column(c) if c in (ROW, TS) else _key_upload(slim.column(c)) for c in slim.column_names})


def _load_events(store: PostgreSQLOfflineStore, req: ViewRequest, specs: list[WindowSpec], slim: pa.Table) -> list[Any]:
    """The statements that put the view's events for the entity rows' keys and time range in a temp table
    indexed on (keys, time)."""
    view = req.view
    keys = view.join_keys
    columns = sorted({s.column for s in specs})
    lo, hi = bounds_for(slim.column(TS), specs)
    entity_keys = sql.SQL(", ").join(_entity_keys(req))
    conds = [sql.SQL("s.__us >= {} AND s.__us <= {}").format(sql.Literal(lo or 0), sql.Literal(hi or 0))]
    if keys:
        wanted = sql.SQL("SELECT DISTINCT {} FROM {} e").format(entity_keys, _ident(_ENTITY))
        tuple_sql = sql.SQL(", ").join(sql.SQL("s.{}").format(_ident(k)) for k in keys)
        conds.append(sql.SQL("({}) IN ({})").format(tuple_sql, wanted))
    epoch = sql.SQL("(EXTRACT(EPOCH FROM x.__ts) * 1000000)::bigint")
    events = sql.SQL("SELECT x.*, {} AS __us FROM ({}) x").format(epoch, store._select(view, columns))
    cr = (
        sql.SQL(", (EXTRACT(EPOCH FROM s.__cr) * 1000000)::bigint AS __cr")
        if view.batch_source.created_timestamp_column
        else sql.SQL("")
    )
    picked = sql.SQL(", ").join([*(sql.SQL("s.{}").format(_ident(k)) for k in keys), sql.SQL("s.__us AS __ts")])
    values = sql.SQL("").join(sql.SQL(", s.{}").format(_ident(c)) for c in columns)
    index = sql.SQL(", ").join([*(_ident(k) for k in keys), sql.SQL("__ts")])
    return [
        sql.SQL("CREATE TEMP TABLE {t} ON COMMIT DROP AS SELECT {p}{cr}{v} FROM ({e}) s WHERE {w}").format(
            t=_ident(_EVENTS), p=picked, cr=cr, v=values, e=events, w=sql.SQL(" AND ").join(conds)
        ),
        sql.SQL("CREATE INDEX ON {} ({})").format(_ident(_EVENTS), index),
        sql.SQL("ANALYZE {}").format(_ident(_EVENTS)),
    ]


def _outputs(
    specs: list[WindowSpec], keys: list[str], has_created: bool, key_list: Any, entity_keys: Any
) -> tuple[list[Any], list[Any]]:
    """Each spec's output expression over the framed rows ``u``, and the subqueries joined to ``u`` by ``__row``
    for what is not framed there (min/max per window length, each count_distinct)."""
    outputs: list[Any] = []
    joins: list[Any] = []
    for us in sorted({s.window_us for s in specs if s.function in _EXTREMES}):
        alias = _ident(_EXTREME.format(us))
        same = [s for s in specs if s.function in _EXTREMES and s.window_us == us]
        joins.append(
            sql.SQL(" LEFT JOIN ({q}) {a} ON {a}.__row = u.__row").format(
                q=_block_extremes(same, us, key_list, entity_keys), a=alias
            )
        )
    for s in specs:
        if s.function in _WINDOWED:
            outputs.append(sql.SQL("u.{}").format(_ident(s.name)))
        elif s.function in _EXTREMES:
            outputs.append(sql.SQL("{}.{}").format(_ident(_EXTREME.format(s.window_us)), _ident(s.name)))
        elif s.function == "count_distinct":
            alias = _ident(_DISTINCT.format(len(joins)))
            outputs.append(sql.SQL("coalesce({}.n, 0)::bigint AS {}").format(alias, _ident(s.name)))
            joins.append(
                sql.SQL(" LEFT JOIN ({q}) {a} ON {a}.__row = u.__row").format(
                    q=_distinct_counts(s, keys, key_list, entity_keys), a=alias
                )
            )
        else:
            outputs.append(_row_expr(s, keys, has_created))
    return outputs, joins


def _query(req: ViewRequest, specs: list[WindowSpec]) -> Any:
    view = req.view
    keys = view.join_keys
    has_created = bool(view.batch_source.created_timestamp_column)
    columns = sorted({s.column for s in specs})
    key_list = sql.SQL("").join(sql.SQL("{}, ").format(_ident(k)) for k in keys)
    entity_keys = sql.SQL("").join(sql.SQL("{}, ").format(e) for e in _entity_keys(req))
    nulls = sql.SQL("").join(sql.SQL(", NULL AS {}").format(_ident(c)) for c in columns)
    values = sql.SQL("").join(sql.SQL(", {}").format(_ident(c)) for c in columns)
    stacked = sql.SQL(
        "SELECT {keys}__ts, NULL::bigint AS __row{values} FROM {ev} "
        "UNION ALL SELECT {ekeys}e.{ts} AS __ts, e.{row} AS __row{nulls} FROM {ent} e"
    ).format(
        keys=key_list,
        values=values,
        ev=_ident(_EVENTS),
        ekeys=entity_keys,
        ts=_ident(TS),
        row=_ident(ROW),
        nulls=nulls,
        ent=_ident(_ENTITY),
    )
    partition = sql.SQL("PARTITION BY {} ").format(sql.SQL(", ").join(_ident(k) for k in keys)) if keys else sql.SQL("")
    windows = sorted({s.window_us for s in specs if s.function in _WINDOWED})
    named = sql.SQL(", ").join(
        sql.SQL("{} AS ({}ORDER BY __ts RANGE BETWEEN {} PRECEDING AND CURRENT ROW)").format(
            sql.SQL(f"w{us}"), partition, sql.Literal(us - 1)
        )
        for us in windows
    )
    framed = [_window_expr(s) for s in specs if s.function in _WINDOWED]
    inner = sql.SQL("SELECT {keys}__ts, __row{f} FROM ({s}) x{w}").format(
        keys=key_list,
        f=sql.SQL("").join(sql.SQL(", {}").format(e) for e in framed),
        s=stacked,
        w=sql.SQL(" WINDOW {}").format(named) if windows else sql.SQL(""),
    )
    outputs, joins = _outputs(specs, keys, has_created, key_list, entity_keys)
    return sql.SQL("SELECT u.__row, {o} FROM ({i}) u{j} WHERE u.__row IS NOT NULL").format(
        o=sql.SQL(", ").join(outputs), i=inner, j=sql.SQL("").join(joins)
    )


def join(
    store: PostgreSQLOfflineStore, slim: pa.Table, views: list[ViewRequest], specs: dict[str, list[WindowSpec]]
) -> dict[str, pa.Table]:
    """Each windowed request's features for the entity rows of ``slim``, as ``(ROW, feature...)`` tables."""
    out = {}
    # psycopg only composes the SQL (quoting literals); ADBC runs it, Arrow in and out with no Python rows
    with (
        store._connect("windowed features") as conn,
        store._adbc("windowed features") as adbc,
        adbc.cursor() as cur,
    ):
        cur.adbc_ingest(_ENTITY, _entity_upload(slim), mode="create", temporary=True)
        cur.execute(sql.SQL("ANALYZE {}").format(_ident(_ENTITY)).as_string(conn))
        for req in views:
            view_specs = specs[req.name]
            for statement in _load_events(store, req, view_specs, slim):
                cur.execute(statement.as_string(conn))
            cur.execute(_query(req, view_specs).as_string(conn))
            result = plain_columns(cur.fetch_arrow_table())
            out[req.name] = result.rename_columns([ROW, *(s.name for s in view_specs)])
            cur.execute(sql.SQL("DROP TABLE {}").format(_ident(_EVENTS)).as_string(conn))
    return out

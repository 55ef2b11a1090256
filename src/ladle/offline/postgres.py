"""PostgreSQL offline store (``offline_store: {type: postgres, host, port, database, db_schema, user, ...}``).

The point-in-time join runs inside PostgreSQL: the entity rows are COPY'd into a temporary table (dropped
with the transaction), and each view is a ``LEFT JOIN LATERAL (... ORDER BY ts DESC, created DESC NULLS
LAST LIMIT 1)`` — at most one match per entity row, so none is dropped or duplicated. Only the joined
result comes back, a batch of rows at a time, and is turned into Arrow columns of the declared types.
"""

from __future__ import annotations

import decimal
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import ConfigDict

from ladle.common.backend_config import BackendConfig
from ladle.common.conform import plain_python
from ladle.common.times import UTC_US as _UTC_US
from ladle.definitions import DataSource, FeatureView, PostgreSQLSource
from ladle.definitions.external_sources import check_readable
from ladle.drivers.lazy_import import lazy_attribute, lazy_module
from ladle.drivers.postgres_conn import PostgresSettings, key_column_type, open_pool
from ladle.errors import (
    BackendFailure,
    BackendUnavailable,
    InvalidDefinition,
    InvalidRequest,
    MissingExtra,
    SourceNotFound,
)
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.offline.columns import cast_to_declared, ensure_utc_micros
from ladle.types import is_uuid, to_arrow

psycopg = lazy_module("psycopg")
sql = lazy_attribute("psycopg", "sql")

__all__ = ["PostgreSQLOfflineStore", "PostgreSQLOfflineStoreConfig"]

_FETCH = 50_000
_SCALARS = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "numeric": pa.decimal128(38, 18),
    "uuid": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "bool": pa.bool_(),
    "bytea": pa.binary(),
    "timestamptz": _UTC_US,
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}
#: PostgreSQL type name -> the Arrow type its values arrive as (arrays are ``_<element>``; JSON stays JSON,
#: which a Json, Map, Struct or Array feature may hold)
_PG_TO_ARROW: dict[str, pa.DataType] = {
    **_SCALARS,
    **{f"_{name}": pa.list_(t) for name, t in _SCALARS.items()},
    "json": pa.json_(),
    "jsonb": pa.json_(),
}


def _column_type(conn: Any, oid: int) -> pa.DataType:
    """The Arrow type of a result column of PostgreSQL type ``oid`` (unknown types arrive as text)."""
    info = conn.adapters.types.get(oid)
    if info is None:
        return pa.string()
    name = f"_{info.name}" if oid == info.array_oid else info.name
    return _PG_TO_ARROW.get(name, pa.string())


def _arrow_values(values: list[Any], target: pa.DataType) -> pa.Array:
    """Driver values as an Arrow array of ``target``; JSON documents fit Json (text), Map and Struct features."""
    if isinstance(target, pa.JsonType):
        target = pa.string()  # data leaves the store as JSON text; pa.json_() only marks schemas
    if pa.types.is_string(target):
        values = [
            v
            if v is None or isinstance(v, str)
            else str(v)
            if isinstance(v, uuid.UUID)
            else json.dumps(v, ensure_ascii=False)
            for v in values
        ]
    elif pa.types.is_floating(target):
        values = [float(v) if isinstance(v, decimal.Decimal) else v for v in values]  # NUMERIC into a float feature
    elif pa.types.is_list(target):
        try:
            return pa.array(values, target)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # UUID[] elements arrive as uuid.UUID
            values = [plain_python(v) for v in values]
    elif pa.types.is_map(target):
        values = [list(v.items()) if isinstance(v, dict) else v for v in values]
    elif pa.types.is_binary(target):
        values = [bytes(v) if isinstance(v, memoryview) else v for v in values]
    return pa.array(values, target)


class PostgreSQLOfflineStoreConfig(BackendConfig, PostgresSettings):
    """Feast's keys for a PostgreSQL offline store (see :class:`~ladle.drivers.postgres_conn.PostgresSettings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["postgres"] = "postgres"


class PostgreSQLOfflineStore(OfflineStore):
    """History in PostgreSQL tables or queries (``PostgreSQLSource``)."""

    name = "postgres"
    config_class = PostgreSQLOfflineStoreConfig
    config: PostgreSQLOfflineStoreConfig

    def __init__(self, config: PostgreSQLOfflineStoreConfig, repo_path: Path) -> None:
        if psycopg is None:
            raise MissingExtra("the postgres offline store", "postgres", "psycopg")
        super().__init__(config, repo_path)
        self._pool: Any = None
        self._lock = threading.Lock()

    def _configure(self, conn: Any) -> None:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.config.db_schema)))
        conn.commit()

    def _unavailable(self, exc: Exception, doing: str) -> BackendUnavailable:
        return BackendUnavailable(
            "postgres offline store",
            f"cannot connect to PostgreSQL at {self.config.where()} while {doing}: {exc}",
            "start PostgreSQL or fix offline_store host/port/database/user/password (or dsn)",
        )

    def _driver_error(self, exc: Exception, doing: str) -> Exception:
        """The ladle error a psycopg (or pool) error raised while ``doing`` stands for; ``exc`` itself if none."""
        if isinstance(exc, psycopg.OperationalError) or type(exc).__name__ == "PoolTimeout":
            return self._unavailable(exc, doing)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return SourceNotFound("postgres offline store", f"{doing}: {exc}".strip(), "check the source's table/query")
        if isinstance(exc, psycopg.errors.UndefinedColumn):
            return BackendFailure(
                "postgres offline store", f"{doing}: {exc}".strip(), "check the schema and field_mapping"
            )
        if isinstance(exc, psycopg.Error):
            return BackendFailure("postgres offline store", f"{doing}: {exc}".strip())
        return exc

    @contextmanager
    def _connect(self, doing: str) -> Iterator[Any]:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = open_pool(self.config, autocommit=False, configure=self._configure)
                except Exception as exc:
                    raise self._unavailable(exc, doing) from exc
            pool = self._pool
        try:
            with pool.connection() as conn:
                yield conn
        except Exception as exc:
            mapped = self._driver_error(exc, doing)
            if mapped is exc:
                raise
            raise mapped from exc

    # --- sources -------------------------------------------------------------------------------------
    @staticmethod
    def _source(source: DataSource) -> PostgreSQLSource:
        batch = source.batch
        check_readable(batch)
        if not isinstance(batch, PostgreSQLSource):
            raise InvalidDefinition(
                type(batch).__name__, batch.name, "the postgres offline store reads PostgreSQLSource sources only"
            )
        return batch

    def _relation(self, source: DataSource) -> Any:
        src = self._source(source)
        if src.table:
            return sql.Identifier(*src.table.split("."))
        return sql.SQL("({})").format(sql.SQL(src.query))  # the user's own query, run as written

    @staticmethod
    def _column(source: DataSource, name: str) -> Any:
        return sql.Identifier(source.source_column(name))

    def source_schema(self, source: DataSource) -> pa.Schema:
        with self._connect(f"reading the columns of source '{source.batch.name}'") as conn:
            cur = conn.execute(sql.SQL("SELECT * FROM {} AS src LIMIT 0").format(self._relation(source)))
            return pa.schema([pa.field(col.name, _column_type(conn, col.type_code)) for col in cur.description])

    def _select(self, view: FeatureView, features: list[str]) -> Any:
        src = view.batch_source
        types = {f.name: f.dtype for f in view.entity_columns}
        cols = [
            sql.SQL("{} AS {}").format(_key_sql(self._column(src, k), types.get(k)), sql.Identifier(k))
            for k in view.join_keys
        ]
        cols.append(sql.SQL("{} AS __ts").format(self._column(src, src.timestamp_field)))
        if src.created_timestamp_column:
            cols.append(sql.SQL("{} AS __cr").format(sql.Identifier(src.created_timestamp_column)))
        cols += [sql.SQL("{} AS {}").format(self._column(src, f), sql.Identifier(f)) for f in features]
        return sql.SQL("SELECT {} FROM {} AS src WHERE {} IS NOT NULL").format(
            sql.SQL(", ").join(cols), self._relation(src), self._column(src, src.timestamp_field)
        )

    @staticmethod
    def _fetch(cur: Any, names: list[str], types: list[pa.DataType]) -> pa.Table:
        """The cursor's remaining rows as Arrow, a batch at a time."""
        batches = []
        while rows := cur.fetchmany(_FETCH):
            columns = list(zip(*rows, strict=True))
            batches.append(
                pa.record_batch([_arrow_values(list(c), t) for c, t in zip(columns, types, strict=True)], names=names)
            )
        plain = [pa.string() if isinstance(t, pa.JsonType) else t for t in types]
        schema = pa.schema([pa.field(n, t) for n, t in zip(names, plain, strict=True)])
        return pa.Table.from_batches(batches, schema=schema)

    # --- point-in-time join --------------------------------------------------------------------------
    def point_in_time_join(
        self,
        entities: pa.Table,
        timestamp_column: str,
        views: list[ViewRequest],
        filter_by_created_timestamp: bool = False,
    ) -> pa.Table:
        ts = ensure_utc_micros(entities.column(timestamp_column), timestamp_column)
        key_cols = sorted({c for v in views for c in v.entity_columns})
        n = entities.num_rows
        out: dict[str, pa.ChunkedArray] = {}
        with self._connect("point-in-time join") as conn, conn.transaction():
            cols = [("__row", "BIGINT"), ("__ts", "TIMESTAMPTZ")] + [
                (c, key_column_type(entities.schema.field(c).type)) for c in key_cols
            ]
            conn.execute(
                sql.SQL("CREATE TEMP TABLE __ladle_entity ({}) ON COMMIT DROP").format(
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols)
                )
            )
            data = [list(range(n)), ts.to_pylist(), *(entities.column(c).to_pylist() for c in key_cols)]
            with (
                conn.cursor() as cur,
                cur.copy(
                    sql.SQL("COPY __ladle_entity ({}) FROM STDIN").format(
                        sql.SQL(", ").join(sql.Identifier(c) for c, _ in cols)
                    )
                ) as copy,
            ):
                for row in zip(*data, strict=True):
                    copy.write_row(row)
            conn.execute("ANALYZE __ladle_entity")
            for req in views:
                query = self._pit_sql(req, filter_by_created_timestamp)
                names = [f.name for f in req.features]
                types = [to_arrow(f.dtype) for f in req.features]
                with conn.cursor(name="ladle_pit") as cur:  # server-side: rows stream back
                    cur.execute(query)
                    result = self._fetch(cur, names, types)
                for f in req.features:
                    name = req.output_name(f.name)
                    out[name] = cast_to_declared(result.column(f.name), f.dtype, f"{req.name}:{f.name}")
        return pa.table(out)

    def _pit_sql(self, req: ViewRequest, filter_created: bool) -> Any:
        view = req.view
        has_cr = bool(view.batch_source.created_timestamp_column)
        types = {f.name: f.dtype for f in view.entity_columns}
        conds = [
            sql.SQL("s.{} = {}").format(
                sql.Identifier(k), _key_sql(sql.SQL("e.{}").format(sql.Identifier(c)), types.get(k))
            )
            for k, c in zip(view.join_keys, req.entity_columns, strict=True)
        ]
        conds.append(sql.SQL("s.__ts <= e.__ts"))
        if view.ttl and view.ttl.total_seconds() > 0:
            conds.append(
                sql.SQL("s.__ts >= e.__ts - {} * interval '1 microsecond'").format(
                    sql.Literal(int(view.ttl.total_seconds() * 1_000_000))
                )
            )
        if filter_created and has_cr:
            conds.append(sql.SQL("(s.__cr IS NULL OR s.__cr <= e.__ts)"))
        order = sql.SQL("s.__ts DESC, s.__cr DESC NULLS LAST" if has_cr else "s.__ts DESC")
        features = [f.name for f in req.features]
        picked = sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(f)) for f in features)
        inner = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(f)) for f in features)
        return sql.SQL(
            "SELECT {picked} FROM __ladle_entity e LEFT JOIN LATERAL (SELECT {inner} FROM ({src}) s "
            "WHERE {conds} ORDER BY {order} LIMIT 1) m ON true ORDER BY e.__row"
        ).format(
            picked=picked,
            inner=inner,
            src=self._select(view, features),
            conds=sql.SQL(" AND ").join(conds),
            order=order,
        )

    # --- reads for materialization -------------------------------------------------------------------
    def pull_latest(self, view: FeatureView, start: datetime, end: datetime) -> pa.RecordBatchReader:
        features = [f.name for f in view.features]
        has_cr = bool(view.batch_source.created_timestamp_column)
        keys = sql.SQL(", ").join(sql.Identifier(k) for k in view.join_keys)
        distinct = sql.SQL("DISTINCT ON ({}) ").format(keys) if view.join_keys else sql.SQL("")
        order_keys = sql.SQL("{}, ").format(keys) if view.join_keys else sql.SQL("")
        cols = [*view.join_keys, *features]
        query = sql.SQL(
            "SELECT {distinct}{cols}, __ts, {cr} FROM ({src}) t WHERE __ts >= %s AND __ts <= %s "
            "ORDER BY {order_keys}__ts DESC{cr_order} {limit}"
        ).format(
            distinct=distinct,
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
            cr=sql.SQL("__cr" if has_cr else "NULL::timestamptz"),
            src=self._select(view, features),
            order_keys=order_keys,
            cr_order=sql.SQL(", __cr DESC NULLS LAST" if has_cr else ""),
            limit=sql.SQL("" if view.join_keys else "LIMIT 1"),
        )
        declared = {f.name: to_arrow(f.dtype) for f in view.features}
        with self._connect(f"reading feature view '{view.name}'") as conn:
            key_types = {
                k: f.type
                for k, f in zip(
                    self.source_schema(view.batch_source).names, self.source_schema(view.batch_source), strict=True
                )
            }
            types = [key_types.get(k, pa.string()) if k in view.join_keys else declared[k] for k in cols]
            with conn.cursor(name="ladle_latest") as cur:
                cur.execute(query, (start, end))
                table = self._fetch(cur, [*cols, "event_ts", "created_ts"], [*types, _UTC_US, _UTC_US])
        for f in view.features:  # canonical UUID text and sets
            table = table.set_column(
                table.schema.get_field_index(f.name),
                f.name,
                cast_to_declared(table.column(f.name), f.dtype, f"{view.name}:{f.name}"),
            )
        batches = table.to_batches(max_chunksize=250_000)
        return pa.RecordBatchReader.from_batches(table.schema, batches)

    def pull_all(
        self, source: DataSource, columns: list[str], start: datetime | None, end: datetime | None
    ) -> pa.Table:
        src = self._source(source)
        schema = self.source_schema(src)
        mapped = {src.mapped_name(f.name): f.type for f in schema}
        where = [sql.SQL("TRUE")]
        params: list[Any] = []
        for bound, op in ((start, ">="), (end, "<=")):
            if bound is not None:
                where.append(sql.SQL("{} {} %s").format(self._column(src, src.timestamp_field), sql.SQL(op)))
                params.append(bound)
        query = sql.SQL("SELECT {} FROM {} AS src WHERE {}").format(
            sql.SQL(", ").join(sql.SQL("{} AS {}").format(self._column(src, c), sql.Identifier(c)) for c in columns),
            self._relation(src),
            sql.SQL(" AND ").join(where),
        )
        with self._connect(f"reading source '{src.name}'") as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return self._fetch(cur, columns, [mapped.get(c, pa.string()) for c in columns])

    def query(self, sql: str) -> pa.Table:  # the protocol's name; psycopg's ``sql`` module is not used here
        with self._connect("running the entity_df query") as conn, conn.cursor() as cur:
            cur.execute(sql)
            names = [c.name for c in cur.description]
            types = [_column_type(conn, col.type_code) for col in cur.description]
            return self._fetch(cur, names, types)

    def append(self, source: DataSource, rows: pa.Table) -> None:
        self._append(source, rows, None)

    def append_once(self, source: DataSource, rows: pa.Table, batch_id: str) -> bool:
        """:meth:`append`, at most once per ``batch_id`` (the stream worker's replay-safe offline write): the id
        goes into the table ``ladle_stream_batches`` (beside the source's table, created on first use) in the
        same transaction as the rows; an id already there appends nothing. Returns whether rows were added.
        Ids older than :data:`STREAM_BATCH_DAYS` days are pruned."""
        return self._append(source, rows, batch_id)

    def _append(self, source: DataSource, rows: pa.Table, batch_id: str | None) -> bool:
        src = self._source(source)
        if not src.table:
            raise InvalidRequest(f"cannot push offline to PostgreSQLSource '{src.name}': it is a query, not a table")
        names = [src.source_column(c) for c in rows.column_names]
        missing = [f.name for f in self.source_schema(src) if f.name not in names]
        if missing:  # COPY would fill them with NULL: refuse, as the other stores do
            raise InvalidRequest(
                f"cannot append to PostgreSQLSource '{src.name}': the rows lack column(s) {missing} of the offline "
                "source"
            )
        columns = []
        for c in rows.columns:
            if pa.types.is_timestamp(c.type):
                c = ensure_utc_micros(c, "timestamp")
            columns.append(c.to_pylist())
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(*src.table.split(".")), sql.SQL(", ").join(sql.Identifier(n) for n in names)
        )
        with self._connect(f"appending to '{src.name}'") as conn:
            ledger = _stream_ledger(conn, src.table) if batch_id is not None else None
            with conn.transaction(), conn.cursor() as cur:
                if ledger is not None and not _record_batch(cur, ledger, src.table, batch_id or ""):
                    return False
                with cur.copy(statement) as copy:
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
        return True

    def close(self) -> None:
        """Close the connection pool (it reopens on next use)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _key_sql(expr: Any, dtype: object) -> Any:
    """A join key as compared: a ``Uuid``/``TimeUuid`` key as canonical text (lowercase, hyphenated), whether
    the column is PostgreSQL's ``uuid`` or text in any case; any other key as it is."""
    if is_uuid(dtype):
        return sql.SQL("lower(CAST({} AS TEXT))").format(expr)
    return expr


#: how long the batch ids of streamed appends are kept (a replay comes while its batch is in flight)
STREAM_BATCH_DAYS = 7


def _stream_ledger(conn: Any, table: str) -> Any:
    """The batch-id table of streamed appends to ``table`` (in its schema), created when missing."""
    schema = table.split(".", maxsplit=1)[0] if "." in table else None
    name = sql.Identifier(schema, "ladle_stream_batches") if schema else sql.Identifier("ladle_stream_batches")
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (source_table TEXT NOT NULL, batch_id TEXT NOT NULL, "
                    "written TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (source_table, batch_id))"
                ).format(name)
            )
    except psycopg.errors.UniqueViolation:
        pass  # another worker created it at the same moment
    return name


def _record_batch(cur: Any, ledger: Any, table: str, batch_id: str) -> bool:
    """Record ``batch_id`` for ``table`` in the transaction of ``cur``; False if it was there already."""
    cur.execute(
        sql.SQL("INSERT INTO {} (source_table, batch_id) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(ledger),
        (table, batch_id),
    )
    if cur.rowcount == 0:
        return False
    if hash(batch_id) % 100 == 0:  # now and then, forget ids far older than any batch still in flight
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE source_table = %s AND written < now() - make_interval(days => %s)").format(
                ledger
            ),
            (table, STREAM_BATCH_DAYS),
        )
    return True

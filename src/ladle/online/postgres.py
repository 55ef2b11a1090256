"""PostgreSQL online store (``online_store: {type: postgres, host, port, database, db_schema, user, ...}``).

One table per view, ``{project}_{view}`` in ``db_schema``::

    entity_key TEXT PRIMARY KEY, event_ts BIGINT NOT NULL, created_ts BIGINT, "<feature>" ..., ...

Scalars are native (BIGINT, DOUBLE PRECISION — NaN, infinities and -0.0 included —, TEXT, BYTEA,
BOOLEAN; timestamps as UTC micros); arrays, maps and structs are tagged bytes
(:mod:`ladle.online.value_bytes`). Writes COPY the batch into a temporary table and upsert from it with
the newer-wins condition; reads are one ``= ANY(%s)`` query. Connections come from a pool.

Concurrent writers (two materializations, a push and a materialization) lock rows in the same order —
each batch is upserted in ``entity_key`` order — so they cannot deadlock each other; a deadlock or
serialization failure caused by anything else is retried a few times with backoff, then reported as a
retryable :class:`~ladle.errors.BackendUnavailable`. PostgreSQL truncates identifiers at 63 bytes, so a
table name longer than that is shortened with a hash suffix (:func:`table_name`) and never shared.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ladle.definitions import FeatureView
from ladle.drivers.lazy_import import lazy_attribute, lazy_module
from ladle.drivers.postgres_conn import PostgresSettings, open_pool
from ladle.errors import BackendFailure, BackendUnavailable, InvalidRequest, MissingExtra
from ladle.online.base import CREATED_TS, EVENT_TS, OnlineStore, OnlineStoreConfig, ViewRead
from ladle.online.entity_key import encode_key_list, encode_keys
from ladle.online.newer_wins import latest_per_key, sql_not_older
from ladle.online.value_bytes import decode_column, encode_column
from ladle.types import to_arrow

psycopg = lazy_module("psycopg")
sql = lazy_attribute("psycopg", "sql")

__all__ = ["PostgreSQLOnlineStore", "PostgreSQLOnlineStoreConfig", "table_name"]

_UTC_US = pa.timestamp("us", tz="UTC")
#: PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes
_MAX_IDENTIFIER = 63
#: attempts of one write when PostgreSQL aborts it for a deadlock or a serialization failure
_WRITE_ATTEMPTS = 5


def table_name(project: str, view: str) -> str:
    """``{project}_{view}``, or for a name over 63 bytes its first bytes plus ``_`` and 12 hex of its sha256.

    >>> table_name("demo", "stats")
    'demo_stats'
    >>> len(table_name("p", "v" * 80).encode()), table_name("p", "v" * 80)[-13:-12]
    (63, '_')
    """
    name = f"{project}_{view}"
    if len(name.encode()) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    head = name.encode()[: _MAX_IDENTIFIER - len(digest) - 1].decode(errors="ignore")
    return f"{head}_{digest}"


class PostgreSQLOnlineStoreConfig(OnlineStoreConfig, PostgresSettings):
    """Feast's keys for a PostgreSQL online store (see :class:`~ladle.drivers.postgres_conn.PostgresSettings`)."""

    type: Literal["postgres"] = "postgres"


def _rolled_back(exc: Exception) -> bool:
    """Whether PostgreSQL aborted the transaction for a concurrency reason (SQLSTATE class 40: deadlock,
    serialization failure), so that running it again may succeed."""
    return str(getattr(exc, "sqlstate", "") or "").startswith("40")


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t) or pa.types.is_timestamp(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    if pa.types.is_string(t):
        return "TEXT"
    return "BYTEA"  # bytes raw; arrays, maps, structs as tagged bytes


def _to_pg(column: pa.ChunkedArray, t: pa.DataType) -> list[Any]:
    kind = _sql_type(t)
    if kind == "BIGINT":
        return column.cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]
    if kind == "BYTEA" and not pa.types.is_binary(t):
        return [v or None for v in encode_column(column)]
    return column.to_pylist()  # type: ignore[no-any-return]


def _from_pg(values: list[Any], t: pa.DataType) -> pa.Array:
    kind = _sql_type(t)
    if kind == "BYTEA" and not pa.types.is_binary(t):
        return decode_column([None if v is None else bytes(v) for v in values], t)
    if kind == "BYTEA":
        return pa.array([None if v is None else bytes(v) for v in values], t)
    return pa.array(values, t)


class PostgreSQLOnlineStore(OnlineStore):
    """Latest values per key in PostgreSQL tables."""

    name = "postgres"
    config_class = PostgreSQLOnlineStoreConfig
    config: PostgreSQLOnlineStoreConfig

    def __init__(self, config: PostgreSQLOnlineStoreConfig, repo_path: Path) -> None:
        if psycopg is None:
            raise MissingExtra("the postgres online store", "postgres", "psycopg")
        _ = psycopg.Error  # load the driver now, under the store's lock: Python 3.11's lazy loading is not thread-safe
        super().__init__(config, repo_path)
        self._pool: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        with self._lock:
            if self._pool is None:
                try:  # autocommit: reads need no BEGIN/COMMIT round trips
                    self._pool = open_pool(self.config, autocommit=True, timeout=3.0)  # bounded waits
                except Exception as exc:
                    raise self._fail(exc, "connecting") from exc
            return self._pool.connection()

    def _fail(self, exc: Exception, doing: str) -> Exception:
        where = self.config.where()
        if _rolled_back(exc):  # deadlock, serialization failure: not an outage
            return BackendUnavailable(
                "postgres online store",
                f"{doing} conflicted with a concurrent write ({type(exc).__name__}: {exc})",
                "retry; the write was rolled back",
            )
        if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
            return BackendFailure("postgres online store", f"{doing}: its table is missing", "run `ladle apply`")
        if isinstance(exc, psycopg.OperationalError) or type(exc).__name__ == "PoolTimeout":
            return BackendUnavailable(
                "postgres online store",
                f"cannot connect to PostgreSQL at {where} while {doing}: {exc}",
                "start PostgreSQL or fix online_store host/port/user/password",
            )
        return BackendFailure("postgres online store", f"{doing} failed: {exc}")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _table(self, project: str, view: FeatureView) -> Any:
        return sql.Identifier(self.config.db_schema, table_name(project, view.name))

    def check(self) -> None:
        try:
            with self._connection() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise self._fail(exc, "checking the connection") from exc

    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.config.db_schema)))
                for view in delete:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(project, view)))
                for view in keep:
                    self._ensure(conn, project, view)
        except psycopg.Error as exc:
            raise self._fail(exc, "updating tables") from exc

    def _ensure(self, conn: Any, project: str, view: FeatureView) -> None:
        wanted = [(f.name, _sql_type(to_arrow(f.dtype))) for f in view.features]
        have = conn.execute(
            "SELECT column_name, upper(data_type) FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (self.config.db_schema, table_name(project, view.name)),
        ).fetchall()
        expected = [("entity_key", "TEXT"), ("event_ts", "BIGINT"), ("created_ts", "BIGINT"), *wanted]
        if [tuple(r) for r in have] == expected:
            return
        table = self._table(project, view)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))  # the view's shape changed
        cols = sql.SQL("").join(sql.SQL(", {} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in wanted)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (entity_key TEXT PRIMARY KEY, event_ts BIGINT NOT NULL, created_ts BIGINT{})"
            ).format(table, cols)
        )

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        self.update(project, [], views)

    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        if rows.num_rows == 0:
            return 0
        keys = encode_keys(rows.select(view.join_keys))
        if keys.null_count:
            raise InvalidRequest(f"{keys.null_count} row(s) for feature view '{view.name}' have a null join key")
        # one lock order for every writer: rows are upserted by entity_key
        latest = latest_per_key(rows.append_column("__key", keys), ["__key"]).sort_by("__key")
        names = ["entity_key", "event_ts", "created_ts", *(f.name for f in view.features)]
        columns = [
            latest.column("__key").to_pylist(),
            latest.column(EVENT_TS).cast(_UTC_US).cast(pa.int64()).to_pylist(),
            latest.column(CREATED_TS).cast(_UTC_US).cast(pa.int64()).to_pylist(),
            *(_to_pg(latest.column(f.name).cast(to_arrow(f.dtype)), to_arrow(f.dtype)) for f in view.features),
        ]
        table = self._table(project, view)
        ident = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        updates = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in names[1:]
        )
        upsert = sql.SQL(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM _ladle_batch ORDER BY entity_key ON CONFLICT (entity_key) DO UPDATE SET {u} "
            "WHERE " + sql_not_older("EXCLUDED", "{t}")
        ).format(t=table, cols=ident, u=updates)
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._connection() as conn, conn.transaction():
                    conn.execute(
                        sql.SQL("CREATE TEMP TABLE _ladle_batch (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                            table
                        )
                    )
                    with (
                        conn.cursor() as cur,
                        cur.copy(sql.SQL("COPY _ladle_batch ({}) FROM STDIN").format(ident)) as copy,
                    ):
                        for row in zip(*columns, strict=True):
                            copy.write_row(row)
                    conn.execute(upsert)
                break
            except psycopg.Error as exc:
                if not _rolled_back(exc) or attempt == _WRITE_ATTEMPTS - 1:
                    raise self._fail(exc, f"writing feature view '{view.name}'") from exc
                time.sleep(0.05 * 2**attempt * (1 + random.random()))  # rolled back whole: the retry is safe
        written: int = rows.num_rows
        return written

    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        return self.read_many(project, [ViewRead(view, keys, features)])[0]

    def read_many(self, project: str, reads: list[ViewRead]) -> list[pa.Table]:
        wanted = [encode_key_list(r.keys) for r in reads]
        unique = [[k for k in dict.fromkeys(w) if k is not None] for w in wanted]
        queries = [
            sql.SQL("SELECT entity_key, event_ts{} FROM {} WHERE entity_key = ANY(%s)").format(
                sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(f)) for f in r.features),
                self._table(project, r.view),
            )
            for r in reads
        ]
        names = ", ".join(f"'{r.view.name}'" for r in reads)
        try:
            with self._connection() as conn:
                with conn.pipeline():  # every view's query in one round trip
                    cursors = [conn.execute(q, (u,)) if u else None for q, u in zip(queries, unique, strict=True)]
                rows = [c.fetchall() if c is not None else [] for c in cursors]
        except psycopg.Error as exc:
            raise self._fail(exc, f"reading feature view(s) {names}") from exc
        out = []
        for r, w, found_rows in zip(reads, wanted, rows, strict=True):
            found = {row[0]: row for row in found_rows}
            missing = (None,) * (len(r.features) + 2)
            columns = list(zip(*[found.get(k, missing) for k in w], strict=True)) if w else [()] * len(missing)
            declared = {f.name: to_arrow(f.dtype) for f in r.view.features}
            table: dict[str, pa.Array] = {
                f: _from_pg(list(columns[i + 2]), declared[f]) for i, f in enumerate(r.features)
            }
            table[EVENT_TS] = pa.array(columns[1], _UTC_US)
            out.append(pa.table(table))
        return out

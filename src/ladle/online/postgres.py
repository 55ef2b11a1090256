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

The table's comment records the view's shape (:mod:`ladle.online.shape`): ``update`` drops and adds only
the columns of features that were dropped, added or retyped, and empties the table when the join keys change.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.type_family import type_family
from ladle.definitions import FeatureView
from ladle.drivers.lazy_import import lazy_attribute, lazy_module
from ladle.drivers.postgres_conn import PostgresSettings, open_pool, value_column_type
from ladle.drivers.postgres_copy import bytea_text, copy_csv
from ladle.errors import BackendFailure, BackendUnavailable, MissingExtra
from ladle.online.base import OnlineStore, OnlineStoreConfig, SharedAccess, ViewRead
from ladle.online.entity_key import encode_key_list
from ladle.online.newer_wins import sql_not_older
from ladle.online.prepare import prepare_rows
from ladle.online.read_result import declared_types, in_key_order, result_table
from ladle.online.shape import ViewShape, shape_change
from ladle.online.value_bytes import decode_column, encode_column
from ladle.types import to_arrow

psycopg = lazy_module("psycopg")
sql = lazy_attribute("psycopg", "sql")

__all__ = ["PostgreSQLOnlineStore", "PostgreSQLOnlineStoreConfig", "table_name"]

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


#: the first columns of every table
_KEY_AND_STAMPS = [("entity_key", "TEXT"), ("event_ts", "BIGINT"), ("created_ts", "BIGINT")]


def _to_pg(column: pa.Array, t: pa.DataType) -> pa.Array:
    """A feature column of Arrow type ``t`` as the Arrow column COPY writes (see :func:`value_column_type`):
    BIGINT as int64, BYTEA as PostgreSQL's ``\\x`` hex text (the tagged bytes of :mod:`ladle.online.value_bytes`,
    or the raw bytes of a bytes feature), the rest as they are."""
    sql_type = value_column_type(t)
    if sql_type == "BIGINT":
        return column.cast(pa.int64())
    if sql_type != "BYTEA":
        return column
    if type_family(t) == "bytes":
        return bytea_text(column.cast(pa.binary()))
    encoded = pa.array(encode_column(column), pa.binary())
    return bytea_text(pc.if_else(pc.equal(pc.binary_length(encoded), 0), pa.nulls(len(encoded), pa.binary()), encoded))


def _from_pg(values: Sequence[Any], t: pa.DataType) -> pa.Array:
    """A feature column of Arrow type ``t`` from the values PostgreSQL returned."""
    if value_column_type(t) != "BYTEA":
        return pa.array(values, t)
    as_bytes = [None if v is None else bytes(v) for v in values]
    return pa.array(as_bytes, t) if type_family(t) == "bytes" else decode_column(as_bytes, t)


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
                    raise self._driver_error(exc, "connecting") from exc
            return self._pool.connection()

    def shared_access(self) -> SharedAccess:
        """A checkout of the store's pool (a context manager; autocommit connections), and its errors."""
        return SharedAccess(self._connection, self._driver_error)

    def _driver_error(self, exc: Exception, doing: str) -> Exception:
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
            raise self._driver_error(exc, "checking the connection") from exc

    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.config.db_schema)))
                for view in delete:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(project, view)))
                for view in keep:
                    self._ensure(conn, project, view)
        except psycopg.Error as exc:
            raise self._driver_error(exc, "updating tables") from exc

    def _ensure(self, conn: Any, project: str, view: FeatureView) -> None:
        """Create the view's table, or bring it to the view's shape by the rule of :mod:`ladle.online.shape`."""
        wanted = [(f.name, value_column_type(to_arrow(f.dtype))) for f in view.features]
        table = self._table(project, view)
        new = ViewShape.of(view)
        found = conn.execute(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'r'",
            (self.config.db_schema, table_name(project, view.name)),
        ).fetchone()
        old = None if found is None else ViewShape.from_json(found[0])
        change = shape_change(old, new)
        # a table made before shapes were recorded is rebuilt when its columns differ (its join keys are unknown)
        rebuild = change.drop_rows or (
            found is not None and old is None and self._columns(conn, project, view) != [*_KEY_AND_STAMPS, *wanted]
        )
        if found is not None and rebuild:
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
        if found is None or rebuild:
            cols = sql.SQL("").join(sql.SQL(", {} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in wanted)
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (entity_key TEXT PRIMARY KEY, event_ts BIGINT NOT NULL, created_ts BIGINT{})"
                ).format(table, cols)
            )
        elif old is not None:
            for name in change.cleared:
                conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(table, sql.Identifier(name)))
            for name, sql_type in wanted:
                if name in change.cleared or name not in old.features:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                            table, sql.Identifier(name), sql.SQL(sql_type)
                        )
                    )
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(new.to_json())))

    def _columns(self, conn: Any, project: str, view: FeatureView) -> list[tuple[str, str]]:
        """The columns (name, upper-case type) of the view's table, in order."""
        have = conn.execute(
            "SELECT column_name, upper(data_type) FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (self.config.db_schema, table_name(project, view.name)),
        ).fetchall()
        return [tuple(r) for r in have]

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        self.update(project, [], views)

    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        if rows.num_rows == 0:
            return 0
        prepared = prepare_rows(view, rows).sorted_by_key()  # one lock order for every writer
        names = ["entity_key", "event_ts", "created_ts", *prepared.names]
        payload = copy_csv(
            [
                prepared.keys,
                prepared.event_us,
                prepared.created_us,
                *(_to_pg(c, c.type) for c in prepared.features),
            ]
        )
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
                        cur.copy(sql.SQL("COPY _ladle_batch ({}) FROM STDIN (FORMAT csv)").format(ident)) as copy,
                    ):
                        copy.write(payload)
                    conn.execute(upsert)
                break
            except psycopg.Error as exc:
                if not _rolled_back(exc) or attempt == _WRITE_ATTEMPTS - 1:
                    raise self._driver_error(exc, f"writing feature view '{view.name}'") from exc
                time.sleep(0.05 * 2**attempt * (1 + random.random()))  # rolled back whole: the retry is safe
        return prepared.given

    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        return self.read_many(project, [ViewRead(view, keys, features)])[0]

    def read_many(self, project: str, reads: list[ViewRead]) -> list[pa.Table]:
        declared = [declared_types(project, r.view, r.features) for r in reads]
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
            raise self._driver_error(exc, f"reading feature view(s) {names}") from exc
        return [
            result_table(r.features, types, in_key_order(w, {row[0]: row[1:] for row in found}), _from_pg)
            for r, types, w, found in zip(reads, declared, wanted, rows, strict=True)
        ]

    # --- deleting keys (rollback) ----------------------------------------------------------------------
    def delete(self, project: str, view: FeatureView, keys: pa.Table) -> None:
        """Remove the rows of ``keys`` in one statement; see :meth:`OnlineStore.delete`."""
        wanted = sorted({k for k in encode_key_list(keys) if k is not None}) if keys.num_rows else []
        if not wanted:
            return
        statement = sql.SQL("DELETE FROM {} WHERE entity_key = ANY(%s)").format(self._table(project, view))
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(statement, (wanted,))
        except psycopg.Error as exc:
            raise self._driver_error(exc, f"deleting keys of feature view '{view.name}'") from exc

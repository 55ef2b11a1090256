"""Connection settings shared by the PostgreSQL offline and online stores (Feast's keys), their pool, and
the column types both keep Arrow values in.

``dsn`` (any libpq connection string or URL) overrides the separate keys. Each store keeps one
``psycopg_pool.ConnectionPool`` per process, opened on first use and closed by ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from ladle.common.type_family import type_family

__all__ = ["PostgresSettings", "conninfo", "key_column_type", "open_pool", "value_column_type"]

#: the column type of each type family an entity key can have; any other key is compared as TEXT
_KEY_TYPES = {"int": "BIGINT", "float": "DOUBLE PRECISION", "bytes": "BYTEA"}
#: the column type of each scalar family of feature values; the rest (bytes included) are BYTEA
_VALUE_TYPES = {
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "timestamp": "BIGINT",
    "float": "DOUBLE PRECISION",
    "string": "TEXT",
}


def key_column_type(t: pa.DataType) -> str:
    """The column type of an entity-key column of Arrow type ``t``.

    >>> key_column_type(pa.int32()), key_column_type(pa.string())
    ('BIGINT', 'TEXT')
    """
    return _KEY_TYPES.get(type_family(t), "TEXT")


def value_column_type(t: pa.DataType) -> str:
    """The column type of a feature of Arrow type ``t``: scalars natively (timestamps as UTC microseconds),
    bytes raw and arrays, maps, structs and decimals as tagged bytes (:mod:`ladle.online.value_bytes`) in BYTEA.

    >>> value_column_type(pa.timestamp("us", tz="UTC")), value_column_type(pa.list_(pa.int64()))
    ('BIGINT', 'BYTEA')
    """
    return _VALUE_TYPES.get(type_family(t), "BYTEA")


class PostgresSettings(BaseModel):
    """Where a PostgreSQL server is and how to log in; mixed into each postgres store's config."""

    host: str = "localhost"
    port: int = 5432
    database: str = "postgres"
    db_schema: str = "public"
    user: str = "postgres"
    password: str | None = None
    sslmode: str | None = None
    sslkey_path: str | None = None
    sslcert_path: str | None = None
    sslrootcert_path: str | None = None
    #: a libpq connection string or ``postgresql://`` URL; overrides the keys above (db_schema excepted)
    dsn: str | None = None
    #: connections the pool keeps open, and at most opens
    min_conn: int = 1
    max_conn: int = 4

    def where(self) -> str:
        """``host:port/database`` (or the DSN without its password), for messages."""
        if self.dsn:
            try:
                from psycopg.conninfo import conninfo_to_dict

                parts = conninfo_to_dict(self.dsn)
                return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
            except Exception:
                return "the configured dsn"
        return f"{self.host}:{self.port}/{self.database}"


def conninfo(settings: PostgresSettings) -> str:
    """The libpq connection string for ``settings``."""
    if settings.dsn:
        return settings.dsn
    from psycopg.conninfo import make_conninfo

    extra = {
        "password": settings.password,
        "sslmode": settings.sslmode,
        "sslkey": settings.sslkey_path,
        "sslcert": settings.sslcert_path,
        "sslrootcert": settings.sslrootcert_path,
    }
    return make_conninfo(  # type: ignore[no-any-return]
        host=settings.host,
        port=settings.port,
        dbname=settings.database,
        user=settings.user,
        **{k: v for k, v in extra.items() if v is not None},
    )


def open_pool(
    settings: PostgresSettings,
    autocommit: bool,
    configure: Callable[[Any], None] | None = None,
    timeout: float = 10.0,
) -> Any:
    """An opened ``ConnectionPool`` (raises the driver's error when the server cannot be reached)."""
    import psycopg
    from psycopg_pool import ConnectionPool

    # One plain connection first: a wrong host, port, role or password fails at once with the server's own
    # message, instead of the pool retrying in the background until its timeout.
    psycopg.connect(conninfo(settings), connect_timeout=int(timeout)).close()

    pool = ConnectionPool(
        conninfo(settings),
        min_size=settings.min_conn,
        max_size=max(settings.max_conn, settings.min_conn, 1),
        open=False,
        kwargs={"autocommit": autocommit, "connect_timeout": int(timeout)},
        configure=configure,
        timeout=timeout,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except Exception:
        pool.close()
        raise
    return pool

"""The embedded online store: one SQLite file (``online_store: {type: sqlite, path: ...}``).

One table per view, named ``{project}_{view}`` as in Feast's tutorial, one row per entity key::

    entity_key TEXT PRIMARY KEY, event_ts INTEGER, created_ts INTEGER, "<feature>" ..., ...

Scalars are stored natively (INTEGER, REAL, TEXT, BLOB; booleans 0/1; timestamps as UTC micros), so the
table is readable with any SQLite tool. NaN, which SQLite would turn into NULL, is stored as the text
``'NaN'``. Arrays, maps and structs are stored as JSON text.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ladle.config import SqliteOnlineStoreConfig
from ladle.definitions import FeatureView, Field
from ladle.errors import BackendFailure, InvalidRequest
from ladle.online.base import CREATED_TS, EVENT_TS, OnlineStore
from ladle.online.entity_key import native_keys
from ladle.online.newer_wins import latest_per_key, sql_not_older
from ladle.types import to_arrow

__all__ = ["SqliteOnlineStore"]

_UTC_US = pa.timestamp("us", tz="UTC")
_MAX_VARS = 30_000  # below SQLite's default SQLITE_MAX_VARIABLE_NUMBER (32766)
_WRITE_CHUNK = 50_000


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_kind(t: pa.DataType) -> str:
    """How a value of Arrow type ``t`` is stored: int, real, text, blob, bool, ts or json."""
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "real"
    if pa.types.is_timestamp(t):
        return "ts"
    if pa.types.is_string(t):
        return "text"
    if pa.types.is_binary(t):
        return "blob"
    return "json"


_SQL_TYPES = {"bool": "INTEGER", "int": "INTEGER", "real": "REAL", "ts": "INTEGER", "text": "TEXT",
              "blob": "BLOB", "json": "TEXT"}


def _to_sql_values(column: pa.ChunkedArray, kind: str) -> list[Any]:
    if kind == "ts":
        return column.cast(_UTC_US).cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]
    if kind == "real":
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if np.isnan(values).any():
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            out: list[Any] = values.tolist()
            for i in np.flatnonzero(np.isnan(values) & ~nulls):
                out[i] = "NaN"
            for i in np.flatnonzero(nulls):
                out[i] = None
            return out
        return column.to_pylist()  # type: ignore[no-any-return]
    if kind == "json":
        return [None if v is None else orjson.dumps(v, default=_json_default) for v in column.to_pylist()]
    return column.to_pylist()  # type: ignore[no-any-return]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__} in the SQLite online store")


def _from_sql_values(values: list[Any], kind: str, target: pa.DataType) -> pa.Array:
    if kind == "bool":
        return pa.array(values, pa.int64()).cast(target)
    if kind == "real":
        try:
            return pa.array(values, target)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a stored 'NaN'
            return pa.array([math.nan if type(v) is str else v for v in values], target)
    if kind == "json":
        parsed = [None if v is None else orjson.loads(v) for v in values]
        if pa.types.is_map(target):
            parsed = [None if v is None else [tuple(p) for p in v] for v in parsed]
        return pa.array(parsed, target)
    return pa.array(values, target)  # int, text, blob, and ts (integer micros)


class SqliteOnlineStore(OnlineStore):
    """Latest values per key in a local SQLite file."""

    type_name = "sqlite"

    def __init__(self, config: SqliteOnlineStoreConfig, repo_path: Path) -> None:
        self.config = config
        path = Path(config.path)
        self.path = path if path.is_absolute() else Path(repo_path) / path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._sql_cache: dict[tuple[str, str, tuple[str, ...]], str] = {}

    # --- connections ---------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA mmap_size=1073741824")  # reads straight from the page cache
                conn.execute("PRAGMA cache_size=-65536")
            except sqlite3.Error as exc:
                raise BackendFailure("sqlite online store", f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
            self._conns.clear()
        self._local = threading.local()

    @staticmethod
    def table_name(project: str, view: FeatureView) -> str:
        """``{project}_{view}``, the table a view's rows live in."""
        return f"{project}_{view.name}"

    # --- schema --------------------------------------------------------------------------------------
    def _columns(self, view: FeatureView) -> list[tuple[str, str]]:
        return [(f.name, _SQL_TYPES[_column_kind(to_arrow(f.dtype))]) for f in view.features]

    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for view in delete:
                conn.execute(f"DROP TABLE IF EXISTS {_q(self.table_name(project, view))}")
            for view in keep:
                self._ensure_table(conn, project, view)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise BackendFailure("sqlite online store", f"cannot update tables in {self.path}: {exc}") from exc
        self._sql_cache.clear()

    def _ensure_table(self, conn: sqlite3.Connection, project: str, view: FeatureView) -> None:
        table = self.table_name(project, view)
        # entity_key has no declared type: integer keys stay INTEGER (faster), others are TEXT
        wanted = [("entity_key", ""), ("event_ts", "INTEGER"), ("created_ts", "INTEGER"), *self._columns(view)]
        have = [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info({_q(table)})")]
        if have == wanted:
            return
        if have:
            conn.execute(f"DROP TABLE {_q(table)}")  # the view's shape changed: its rows are stale
        cols = ", ".join(f"{_q(n)} {t}" for n, t in wanted[3:])
        conn.execute(
            f"CREATE TABLE {_q(table)} (entity_key PRIMARY KEY, event_ts INTEGER NOT NULL, "
            f"created_ts INTEGER{', ' + cols if cols else ''}) WITHOUT ROWID"
        )

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        if not self.path.exists():
            return
        conn = self._conn()
        try:
            for view in views:
                conn.execute(f"DROP TABLE IF EXISTS {_q(self.table_name(project, view))}")
            remaining = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        except sqlite3.Error as exc:
            raise BackendFailure("sqlite online store", f"cannot drop tables in {self.path}: {exc}") from exc
        if remaining == 0:
            self.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)

    # --- writes --------------------------------------------------------------------------------------
    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        if rows.num_rows == 0:
            return 0
        keys = pa.array(native_keys(rows.select(view.join_keys)))
        if keys.null_count:
            raise InvalidRequest(f"{keys.null_count} row(s) for feature view '{view.name}' have a null join key")
        latest = latest_per_key(rows.append_column("__key", keys), keys)
        features = [f.name for f in view.features]
        kinds = [_column_kind(to_arrow(f.dtype)) for f in view.features]
        table = self.table_name(project, view)
        names = ["entity_key", "event_ts", "created_ts", *features]
        updates = ", ".join(f"{_q(n)} = excluded.{_q(n)}" for n in names[1:])
        sql = (
            f"INSERT INTO {_q(table)} ({', '.join(_q(n) for n in names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT(entity_key) DO UPDATE SET {updates} WHERE {sql_not_older('excluded', _q(table))}"
        )
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for start in range(0, latest.num_rows, _WRITE_CHUNK):
                chunk = latest.slice(start, _WRITE_CHUNK)
                columns = [
                    chunk.column("__key").to_pylist(),
                    chunk.column(EVENT_TS).cast(_UTC_US).cast(pa.int64()).to_pylist(),
                    chunk.column(CREATED_TS).cast(_UTC_US).cast(pa.int64()).to_pylist(),
                    *(_to_sql_values(chunk.column(f), k) for f, k in zip(features, kinds, strict=True)),
                ]
                conn.executemany(sql, zip(*columns, strict=True))
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            if "no such table" in str(exc):
                raise BackendFailure(
                    "sqlite online store", f"feature view '{view.name}' has no table in {self.path}", "run `ladle apply`"
                ) from exc
            raise BackendFailure("sqlite online store", f"write to '{view.name}' failed: {exc}") from exc
        written: int = rows.num_rows
        return written

    # --- reads ---------------------------------------------------------------------------------------
    def _select(self, project: str, view: FeatureView, features: tuple[str, ...], n: int) -> str:
        key = (project, view.name, features)
        base = self._sql_cache.get(key)
        if base is None:
            cols = ", ".join(["entity_key", "event_ts", *(_q(f) for f in features)])
            base = f"SELECT {cols} FROM {_q(self.table_name(project, view))} WHERE entity_key IN "
            self._sql_cache[key] = base
        return base + "(" + ",".join("?" * n) + ")"

    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        wanted = native_keys(keys)
        unique = [k for k in dict.fromkeys(wanted) if k is not None]
        conn = self._conn()
        found: dict[Any, tuple[Any, ...]] = {}
        try:
            for start in range(0, len(unique), _MAX_VARS):
                part = unique[start:start + _MAX_VARS]
                found.update((r[0], r) for r in conn.execute(self._select(project, view, tuple(features), len(part)), part))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise BackendFailure(
                    "sqlite online store", f"feature view '{view.name}' has no table in {self.path}", "run `ladle apply`"
                ) from exc
            raise BackendFailure("sqlite online store", f"read from '{view.name}' failed: {exc}") from exc
        missing = (None,) * (len(features) + 2)
        # one transpose in C: rows -> columns (entity_key, event_ts, feature...)
        columns = list(zip(*[found.get(k, missing) for k in wanted], strict=True)) if wanted else [()] * len(missing)
        fields = {f.name: f for f in view.features}
        out: dict[str, pa.Array] = {}
        for i, name in enumerate(features, start=2):
            target = to_arrow(fields[name].dtype)
            out[name] = _from_sql_values(list(columns[i]), _column_kind(target), target)
        out[EVENT_TS] = pa.array(columns[1], _UTC_US)
        return pa.table(out)

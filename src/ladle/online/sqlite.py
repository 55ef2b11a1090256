"""The embedded online store: one SQLite file (``online_store: {type: sqlite, path: data/online_store.db}``).

One table per view, named ``{project}_{view}`` as in Feast's tutorial, one row per entity key, one column
per feature::

    CREATE TABLE "feature_repo_driver_hourly_stats" (
      entity_key TEXT NOT NULL PRIMARY KEY, -- key v1: driver_id
      "conv_rate" REAL, -- Float32
      "avg_daily_trips" INTEGER, -- Int64
      event_ts INTEGER NOT NULL,
      created_ts INTEGER
    ) WITHOUT ROWID

``entity_key`` is :func:`ladle.online.entity_key.encode_keys` of the join keys; ``event_ts`` and
``created_ts`` are UTC microseconds. The comments name the join keys and each feature's declared type: the
table text is the schema's fingerprint, so ``update`` rebuilds a table exactly when they change.

How values are stored, so that each reads back exactly:

* Int32, Int64 -> INTEGER; Bool -> INTEGER 0/1; UnixTimestamp -> INTEGER UTC microseconds;
* Float32, Float64 -> REAL (inf and -inf included). SQLite keeps NaN as NULL and -0.0 as 0.0, so those
  two are stored as an 8-byte BLOB of the IEEE-754 double, big-endian (NaN is ``x'7FF8000000000000'``);
* String, Json -> TEXT; Bytes -> BLOB;
* Array, Struct, Map -> TEXT holding JSON, the format every online store keeps nested values in
  (:mod:`ladle.online.nested_json`).

Connections are kept, one per thread, in WAL mode. A read is one query: the keys, as one JSON array
parameter, ``LEFT JOIN``-ed to the table in their order (``json_each``), so SQLite returns one row per key.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import sqlite3
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa

from ladle.common.type_family import type_family
from ladle.definitions import FeatureView
from ladle.errors import BackendError, BackendFailure, BackendUnavailable
from ladle.online.base import CREATED_TS, EVENT_TS, OnlineStore, OnlineStoreConfig, SharedAccess, ViewRead
from ladle.online.entity_key import encode_key_list
from ladle.online.nested_json import decode_nested, encode_nested
from ladle.online.newer_wins import sql_not_older
from ladle.online.prepare import prepare_rows
from ladle.online.read_result import Decode, Fetched, PyDecode, declared_types, in_key_order
from ladle.types import FeastType, to_arrow

__all__ = ["SqliteOnlineStore", "SqliteOnlineStoreConfig"]

ENTITY_KEY = "entity_key"
#: bumped when the entity-key encoding changes; part of the table text, so old tables are rebuilt
_KEY_VERSION = "v1"
_RESERVED = {ENTITY_KEY, EVENT_TS, CREATED_TS}
#: rows per executemany call (one transaction for the whole write)
_WRITE_CHUNK = 50_000
_BUSY_TIMEOUT_S = 30.0
#: what converting a fetched value that does not fit its declared type raises
_DECODE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError, OverflowError, struct.error)
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32768",  # KiB: 32 MiB per connection
    "PRAGMA mmap_size=268435456",
)


def _q(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --- value codecs: Arrow column <-> DB-API values ---------------------------------------------------------
class _Codec(abc.ABC):
    """How one feature type is stored: its SQL column type and the conversions both ways."""

    sql_type: str

    def __init__(self, target: pa.DataType, fetched: pa.DataType) -> None:
        self.target = target
        #: the Arrow type the Python values sqlite3 returns convert to directly
        self.fetched = fetched
        #: whether an array of the fetched type needs :meth:`finish` to become the declared type
        self.finishes = bool(fetched != target)

    @abc.abstractmethod
    def to_sql(self, column: pa.Array) -> list[Any]:
        """Parameters for ``executemany`` (``column`` already has the declared type)."""

    def finish(self, fetched: pa.Array) -> pa.Array:
        """The declared-type array for an array of the ``fetched`` type."""
        return fetched.cast(self.target) if self.finishes else fetched

    def from_sql(self, values: Sequence[Any]) -> pa.Array:
        """The declared-type array for values fetched from SQLite."""
        return self.finish(pa.array(values, self.fetched))

    def decode(self, values: Sequence[Any], target: pa.DataType) -> pa.Array:
        """:meth:`from_sql` as a :data:`~ladle.online.read_result.Decode` (``target`` is the codec's own)."""
        return self.from_sql(values)


class _Scalar(_Codec):
    """Integers, booleans, timestamps, strings, bytes: stored natively."""

    def __init__(self, target: pa.DataType, sql_type: str, stored: pa.DataType, fetched: pa.DataType) -> None:
        super().__init__(target, fetched)
        self.sql_type = sql_type
        self._stored = stored  # cast to this before handing values to sqlite3

    def to_sql(self, column: pa.Array) -> list[Any]:
        values = column if self._stored == self.target else column.cast(self._stored)
        return values.to_pylist()  # type: ignore[no-any-return]


#: big-endian IEEE-754 double, the BLOB form of the floats REAL cannot keep
_DOUBLE = struct.Struct(">d")


class _Real(_Codec):
    """Floats: REAL, except NaN and -0.0 (which SQLite would turn into NULL and 0.0), stored as BLOBs."""

    sql_type = "REAL"

    def __init__(self, target: pa.DataType) -> None:
        super().__init__(target, target)  # exact for float32 too: its values were stored as their doubles

    def to_sql(self, column: pa.Array) -> list[Any]:
        doubles = column.cast(pa.float64())
        values = doubles.fill_null(1.0).to_numpy(zero_copy_only=False)
        special = np.isnan(values) | ((values == 0) & np.signbit(values))
        out: list[Any] = doubles.to_pylist()
        for i in np.flatnonzero(special):  # rare: only the NaN and -0.0 cells
            out[i] = _DOUBLE.pack(values[i])
        return out

    def from_sql(self, values: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(values, self.target)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([_DOUBLE.unpack(v)[0] if type(v) is bytes else v for v in values], self.target)


class _Json(_Codec):
    """Arrays, structs and maps: JSON text (:mod:`ladle.online.nested_json`)."""

    sql_type = "TEXT"

    def __init__(self, target: pa.DataType) -> None:
        super().__init__(target, pa.string())
        self.finishes = True  # the text is parsed

    def to_sql(self, column: pa.Array) -> list[Any]:
        return encode_nested(column)

    def finish(self, fetched: pa.Array) -> pa.Array:
        return self.from_sql(fetched.to_pylist())

    def from_sql(self, values: Sequence[Any]) -> pa.Array:
        return decode_nested(values, self.target)


@functools.cache
def _codec(dtype: FeastType) -> _Codec:
    """The codec of a declared feature type."""
    t = to_arrow(dtype)
    family = type_family(t)
    if family == "bool":
        return _Scalar(t, "INTEGER", t, pa.int8())
    if family == "int":
        return _Scalar(t, "INTEGER", t, t)
    if family == "timestamp":
        return _Scalar(t, "INTEGER", pa.int64(), t)
    if family == "float":
        return _Real(t)
    if family == "string":
        return _Scalar(t, "TEXT", t, t)
    if family == "decimal":  # exact, as its text
        return _Scalar(t, "TEXT", pa.string(), pa.string())
    if family == "bytes":
        return _Scalar(t, "BLOB", t, t)
    return _Json(t)


def _same(values: Sequence[Any]) -> list[Any]:
    return list(values)


def _py_bool(values: Sequence[Any]) -> list[bool | None]:
    return [None if v is None else v != 0 for v in values]


def _py_float(values: Sequence[Any]) -> list[float | None]:
    # NaN and -0.0 are kept as their doubles' bytes
    return [float(_DOUBLE.unpack(v)[0]) if type(v) is bytes else None if v is None else float(v) for v in values]


def _python_decoder(dtype: FeastType) -> PyDecode | None:
    """What :func:`_codec`'s array holds for a fetched column, as Python values (plain types only)."""
    t = to_arrow(dtype)
    family = type_family(t)
    if family in ("int", "string", "bytes") and not pa.types.is_fixed_size_binary(t):
        return _same
    if family == "bool":
        return _py_bool
    if pa.types.is_float32(t) or pa.types.is_float64(t):
        return _py_float
    return None


# --- cached statements ---------------------------------------------------------------------------------
@dataclass
class _ReadPlan:
    """The SELECTs and decoders for one (view, features) pair; ``view`` is the object they were built for."""

    view: FeatureView
    dtypes: tuple[FeastType, ...]
    #: ``event_ts`` then the features, one row per key of a JSON array parameter, in its order
    ordered: str
    #: ``entity_key``, ``event_ts`` then the features, for the keys in an ``IN`` list (ends with "IN ")
    select_in: str
    features: list[str]
    types: list[pa.DataType]
    decoders: list[Decode]
    #: per feature, the Python value its decoder's array holds for a fetched value (``None``: some type has none)
    python: list[PyDecode] | None = None

    def sql_in(self, n: int) -> str:
        return self.select_in + _placeholders(n)


@functools.lru_cache(maxsize=64)
def _placeholders(n: int) -> str:
    return "(" + ",".join("?" * n) + ")"


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if any (after an error: a failing rollback must not hide it)."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _has_json_each(conn: sqlite3.Connection) -> bool:
    """Whether SQLite was built with its JSON functions (built in since 3.38)."""
    try:
        conn.execute("SELECT count(*) FROM json_each('[1]')").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


class SqliteOnlineStoreConfig(OnlineStoreConfig):
    """The embedded online store: one SQLite file (``type: sqlite``)."""

    type: Literal["sqlite"] = "sqlite"
    #: the database file, relative to the repo folder unless absolute
    path: str = "data/online_store.db"


class SqliteOnlineStore(OnlineStore):
    """Latest feature values per entity key in one local SQLite file (see the module docstring).

    >>> from pathlib import Path
    >>> store = SqliteOnlineStore(SqliteOnlineStoreConfig(path="data/online_store.db"), Path("/repo"))
    >>> str(store.path)
    '/repo/data/online_store.db'
    """

    name = "sqlite"
    config_class = SqliteOnlineStoreConfig
    config: SqliteOnlineStoreConfig

    def __init__(self, config: SqliteOnlineStoreConfig, repo_path: Path) -> None:
        super().__init__(config, repo_path)
        path = Path(config.path)
        #: the database file
        self.path = path if path.is_absolute() else Path(repo_path) / path
        self._name = f"sqlite online store {self.path}"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._generation = 0  # bumped by close(): every thread's cached connection is then stale
        self._json_each: bool | None = None  # whether this SQLite has json_each (known once connected)
        self._plans: dict[tuple[str, str, tuple[str, ...]], _ReadPlan] = {}
        self._upserts: dict[tuple[str, str, tuple[str, ...]], str] = {}

    @staticmethod
    def table_name(project: str, view: FeatureView) -> str:
        """``{project}_{view}``: the table holding a view's rows."""
        return f"{project}_{view.name}"

    # --- connections -------------------------------------------------------------------------------------
    def _conn(self, create: bool = False) -> sqlite3.Connection:
        """This thread's connection, opened on first use (``create``: the file may be created)."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None and local.generation == self._generation:
            return conn
        if not create and not self.path.exists():
            raise BackendFailure(self._name, "the database file does not exist", "run `ladle apply` first")
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=512,
            )
            for pragma in _PRAGMAS:
                conn.execute(pragma).fetchall()
            if self._json_each is None:
                self._json_each = _has_json_each(conn)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise self._driver_error(exc, "opening the database") from exc
        with self._lock:
            self._conns.append(conn)
            local.conn, local.generation = conn, self._generation
        return conn

    def shared_access(self) -> SharedAccess:
        """This thread's connection to the database file (created when missing), and the store's errors."""
        return SharedAccess(lambda: self._conn(create=True), self._driver_error)

    def portable_config(self) -> SqliteOnlineStoreConfig:
        """The config with :attr:`path` resolved against the repo folder (an executor's folder differs)."""
        return self.config.model_copy(update={"path": str(self.path)})

    def close(self) -> None:
        """Close every thread's connection; the next call reconnects. Not to be called while others read."""
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()
            self._generation += 1

    def _driver_error(self, exc: BaseException, doing: str, view: str | None = None) -> BackendError:
        """The ladle error for a driver error raised while ``doing`` something."""
        message = str(exc)
        name = getattr(exc, "sqlite_errorname", "")
        if "no such table" in message:
            return BackendFailure(self._name, f"feature view '{view}' has no table ({doing})", "run `ladle apply`")
        if "no such column" in message or "has no column named" in message:
            return BackendFailure(
                self._name,
                f"the table of feature view '{view}' is older than its definition ({message})",
                "run `ladle apply`",
            )
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return BackendUnavailable(
                self._name,
                f"{doing}: the database stayed locked for {_BUSY_TIMEOUT_S:.0f}s",
                "retry; another process is writing to it",
            )
        if name == "SQLITE_NOTADB":
            return BackendFailure(
                self._name,
                f"{doing}: the file is not a SQLite database",
                "move it away or set online_store.path to another file",
            )
        if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL")) or isinstance(
            exc, OSError
        ):
            return BackendFailure(
                self._name, f"{doing}: {message}", "check that the folder exists, is writable and has free space"
            )
        return BackendFailure(self._name, f"{doing} failed: {message}")

    # --- schema --------------------------------------------------------------------------------------------
    def _layout(self, project: str, view: FeatureView) -> tuple[str, list[tuple[str, str]]]:
        """The table's CREATE statement and its (column, definition line) pairs, the key's first."""
        features = view.features
        clash = sorted(_RESERVED & {f.name for f in features})
        if clash:
            raise BackendFailure(
                self._name,
                f"feature view '{view.name}' has feature(s) {clash}, names the online table uses itself",
                "rename the feature(s)",
            )
        key_line = f"  {ENTITY_KEY} TEXT NOT NULL PRIMARY KEY, -- key {_KEY_VERSION}: {', '.join(view.join_keys)}"
        columns = [(ENTITY_KEY, key_line)]
        columns += [(_q(f.name), f"  {_q(f.name)} {_codec(f.dtype).sql_type}, -- {f.dtype!r}") for f in features]
        columns += [(EVENT_TS, f"  {EVENT_TS} INTEGER NOT NULL,"), (CREATED_TS, f"  {CREATED_TS} INTEGER")]
        body = "\n".join(line for _, line in columns)
        return f"CREATE TABLE {_q(self.table_name(project, view))} (\n{body}\n) WITHOUT ROWID", columns

    def update(self, project: str, keep: list[FeatureView], delete: list[FeatureView]) -> None:
        """Create each kept view's table, rebuild one whose join keys or features changed, drop deleted ones.

        The rule of :mod:`ladle.online.shape`: a rebuilt table keeps its rows and the columns whose name and
        type did not change (a new or retyped feature is null until the next write); if the join keys changed,
        its rows are dropped. The table text is the recorded shape.
        """
        if not keep and not self.path.exists():
            return
        wanted = [(self.table_name(project, v), *self._layout(project, v)) for v in keep]
        self._change_tables(project, delete, wanted, "updating the tables")

    def _change_tables(
        self, project: str, drop: list[FeatureView], sync: list[tuple[str, str, list[tuple[str, str]]]], doing: str
    ) -> None:
        """In one transaction: drop the tables of ``drop``, then create or rebuild each of ``sync``."""
        conn = self._conn(create=bool(sync))
        try:
            conn.execute("BEGIN IMMEDIATE")
            for view in drop:
                conn.execute(f"DROP TABLE IF EXISTS {_q(self.table_name(project, view))}")
            for table, create, columns in sync:
                self._sync_table(conn, table, create, columns)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._driver_error(exc, doing) from exc
        finally:
            self._plans.clear()
            self._upserts.clear()

    @staticmethod
    def _sync_table(conn: sqlite3.Connection, table: str, create: str, columns: list[tuple[str, str]]) -> None:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if row is not None and row[0] == create:
            return
        if row is None:
            conn.execute(create)
            return
        # rebuild: carry over the columns whose definition (name, type, join keys) is unchanged
        old_lines = set(row[0].splitlines())
        same_key = columns[0][1] in old_lines
        carried = [name for name, line in columns if line in old_lines] if same_key else []
        old = f"{table}__ladle_rebuild"
        conn.execute(f"DROP TABLE IF EXISTS {_q(old)}")
        conn.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(old)}")
        conn.execute(create)
        if carried:
            cols = ", ".join(carried)
            conn.execute(f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {_q(old)}")
        conn.execute(f"DROP TABLE {_q(old)}")

    def teardown(self, project: str, views: list[FeatureView]) -> None:
        """Drop the views' tables; delete the database file (and its WAL files) once no table is left."""
        if not self.path.exists():
            self.close()
            return
        self._change_tables(project, views, [], "dropping the tables")
        try:
            left = (
                self._conn()
                .execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                )
                .fetchone()[0]
            )
        except sqlite3.Error as exc:
            raise self._driver_error(exc, "dropping the tables") from exc
        if left == 0:
            self.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # --- writes ----------------------------------------------------------------------------------------------
    def _upsert_sql(self, project: str, view: FeatureView, features: tuple[str, ...]) -> str:
        key = (project, view.name, features)
        sql = self._upserts.get(key)
        if sql is None:
            table = _q(self.table_name(project, view))
            names = [ENTITY_KEY, *(_q(f) for f in features), EVENT_TS, CREATED_TS]
            sets = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
            sql = (
                f"INSERT INTO {table} ({', '.join(names)}) VALUES {_placeholders(len(names))} "
                f"ON CONFLICT({ENTITY_KEY}) DO UPDATE SET {sets} WHERE {sql_not_older('excluded', table)}"
            )
            self._upserts[key] = sql
        return sql

    def write(self, project: str, view: FeatureView, rows: pa.Table) -> int:
        """Upsert ``rows`` newer-wins, in one transaction; see :meth:`OnlineStore.write`."""
        if rows.num_rows == 0:
            return 0
        prepared = prepare_rows(view, rows)
        codecs = [_codec(f.dtype) for f in view.features]
        sql = self._upsert_sql(project, view, tuple(prepared.names))
        conn = self._conn(create=True)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for start in range(0, len(prepared), _WRITE_CHUNK):
                end = start + _WRITE_CHUNK
                params = [
                    prepared.keys[start:end].to_pylist(),
                    *(codec.to_sql(col[start:end]) for codec, col in zip(codecs, prepared.features, strict=True)),
                    prepared.event_us[start:end].to_pylist(),
                    prepared.created_us[start:end].to_pylist(),
                ]
                conn.executemany(sql, zip(*params, strict=True))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._driver_error(exc, f"writing {rows.num_rows} rows", view.name) from exc
        return prepared.given

    # --- reads -----------------------------------------------------------------------------------------------
    def _read_plan(self, project: str, view: FeatureView, features: list[str]) -> _ReadPlan:
        key = (project, view.name, tuple(features))
        plan = self._plans.get(key)
        if plan is not None and plan.view is view:
            return plan
        types = declared_types(project, view, features)
        by_name = {f.name: f.dtype for f in view.features}
        dtypes = tuple(by_name[f] for f in features)
        if plan is not None and plan.dtypes == dtypes:
            plan.view = view  # an equal definition reloaded from the registry
            return plan
        table = _q(self.table_name(project, view))
        cols = ", ".join(f"t.{c}" for c in [EVENT_TS, *(_q(f) for f in features)])
        plan = _ReadPlan(
            view=view,
            dtypes=dtypes,
            ordered=f"SELECT {cols} FROM json_each(?) AS k LEFT JOIN {table} AS t "
            f"ON t.{ENTITY_KEY} = k.value ORDER BY k.key",
            select_in=f"SELECT t.{ENTITY_KEY}, {cols} FROM {table} AS t WHERE t.{ENTITY_KEY} IN ",
            features=list(features),
            types=types,
            decoders=[_codec(d).decode for d in dtypes],
        )
        python = [_python_decoder(d) for d in dtypes]
        plan.python = None if None in python else [d for d in python if d is not None]
        self._plans[key] = plan
        return plan

    def read(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> pa.Table:
        """Look ``keys`` up in one query; see :meth:`OnlineStore.read`.

        The keys go to SQLite as one JSON array, joined to the table in their order, so the rows come back
        one per key, in order, duplicates and misses included. Without SQLite's JSON functions, or for a key
        holding a NUL character (which they cut short), the keys go in an ``IN (...)`` list instead.
        """
        fetched = self._fetch(project, view, keys, features)
        try:
            return fetched.table()
        except _DECODE_ERRORS as exc:
            raise self._mismatch(view, exc) from exc

    def fetch_many(self, project: str, reads: list[ViewRead]) -> list[Fetched]:
        """What :meth:`read_many` fetches, not yet decoded (one query per view, as :meth:`read`)."""
        return [self._fetch(project, r.view, r.keys, r.features) for r in reads]

    def _fetch(self, project: str, view: FeatureView, keys: pa.Table, features: list[str]) -> Fetched:
        plan = self._read_plan(project, view, features)
        wanted: list[str | None] = encode_key_list(keys) if keys.num_rows else []
        rows: Sequence[Sequence[Any] | None] = []
        if wanted:
            conn = self._conn()
            try:
                doc = orjson.dumps(wanted).decode() if self._json_each else None
                if doc is not None and "\\u0000" not in doc:
                    rows = conn.execute(plan.ordered, (doc,)).fetchall()
                else:
                    found = self._read_in(conn, plan, wanted)
                    rows = in_key_order(wanted, {r[0]: r[1:] for r in found})
            except sqlite3.Error as exc:
                raise self._driver_error(exc, f"reading {len(wanted)} keys", view.name) from exc
        return Fetched.of_rows(plan.features, plan.types, rows, plan.decoders, plan.python)

    @staticmethod
    def _read_in(conn: sqlite3.Connection, plan: _ReadPlan, wanted: list[str | None]) -> list[tuple[Any, ...]]:
        """The stored rows (key first, any order) for ``wanted``, in as few ``IN`` lists as SQLite allows."""
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), limit):
            part = wanted[start : start + limit]
            size = min(1 << (len(part) - 1).bit_length(), limit)  # few distinct statements: the cache hits
            rows += conn.execute(plan.sql_in(size), part + [None] * (size - len(part))).fetchall()
        return rows

    def _mismatch(self, view: FeatureView, exc: Exception) -> BackendFailure:
        return BackendFailure(
            self._name,
            f"a stored value of feature view '{view.name}' does not match its declared type: {exc}",
            "run `ladle apply` and materialize again",
        )

    # --- deleting keys (rollback) ----------------------------------------------------------------------------
    def delete(self, project: str, view: FeatureView, keys: pa.Table) -> None:
        """Remove the rows of ``keys`` in one transaction; see :meth:`OnlineStore.delete`."""
        wanted = [k for k in encode_key_list(keys) if k is not None] if keys.num_rows else []
        if not wanted:
            return
        conn = self._conn()
        sql = f"DELETE FROM {_q(self.table_name(project, view))} WHERE {ENTITY_KEY} = ?"
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, ((k,) for k in wanted))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._driver_error(exc, f"deleting {len(wanted)} keys", view.name) from exc

"""Window state in the SQLite online store's file: one table per view and layout, one row per event::

    CREATE TABLE "{project}_{view}__win_{layout}" (
      k TEXT NOT NULL, ts INTEGER NOT NULL, id BLOB NOT NULL, p BLOB NOT NULL,
      PRIMARY KEY (k, ts, id)
    ) WITHOUT ROWID

``k`` is the encoded entity key, ``ts`` UTC microseconds, ``id`` the event id, ``p`` the payload. The
primary key makes a replay an ``INSERT OR IGNORE`` no-op and a read one range scan per key.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

import numpy as np
import orjson

from ladle.windows.events import EventBatch, FetchedEvents
from ladle.windows.state_base import DEFAULT_MAX_EVENTS, StateTarget, WindowState

__all__ = ["SqliteWindowState"]

#: up to this many distinct keys in a batch, eviction and trimming probe each key; beyond, one table pass
_PER_KEY_MAINTENANCE = 1_000


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteWindowState(WindowState):
    """Events in tables of the online store's SQLite file, on the store's own per-thread connections
    (``connect()``, an autocommit connection; ``errors`` maps a driver error as the store does)."""

    name = "sqlite"

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        errors: Callable[[Exception, str], Exception],
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        super().__init__(max_events)
        self._conn = connect
        self._fail = errors
        self._created: set[str] = set()

    def _error(self, exc: Exception, doing: str) -> Exception:
        return self._fail(exc, f"window state: {doing}")

    def close(self) -> None:
        """The connections are the online store's (it closes them); forget which tables exist."""
        self._created.clear()

    def _ensure(self, conn: sqlite3.Connection, table: str) -> None:
        if table not in self._created:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_q(table)} (k TEXT NOT NULL, ts INTEGER NOT NULL, id BLOB NOT NULL, "
                "p BLOB NOT NULL, PRIMARY KEY (k, ts, id)) WITHOUT ROWID"
            )
            self._created.add(table)

    def add(self, target: StateTarget, events: EventBatch, now_us: int) -> None:
        if not len(events):
            return
        table = _q(target.name)
        conn = self._conn()
        keys = list(dict.fromkeys(events.keys))
        cutoff = now_us - target.horizon_us
        try:
            self._ensure(conn, target.name)
            rows = sorted(zip(events.keys, events.ts.tolist(), events.ids, events.payloads, strict=True))
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(f"INSERT OR IGNORE INTO {table} (k, ts, id, p) VALUES (?, ?, ?, ?)", rows)
                if len(keys) <= _PER_KEY_MAINTENANCE:
                    conn.execute(
                        f"DELETE FROM {table} WHERE k IN (SELECT value FROM json_each(?)) AND ts <= ?",
                        (orjson.dumps(keys).decode(), cutoff),
                    )
                    self._trim(conn, table, keys)
                else:  # a big batch: one pass over the table costs less than a probe per key
                    conn.execute(f"DELETE FROM {table} WHERE ts <= ?", (cutoff,))
                    self._trim(conn, table, None)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc, f"adding events of feature view '{target.view}'") from exc

    def _trim(self, conn: sqlite3.Connection, table: str, keys: list[str] | None) -> None:
        """Drop the oldest events of every key in ``keys`` (None: every key) holding more than :attr:`max_events`."""
        if keys is None:
            over = conn.execute(
                f"SELECT k, count(*) FROM {table} GROUP BY k HAVING count(*) > ?", (self.max_events,)
            ).fetchall()
        else:
            over = conn.execute(
                f"SELECT k, count(*) FROM {table} WHERE k IN (SELECT value FROM json_each(?)) "
                "GROUP BY k HAVING count(*) > ?",
                (orjson.dumps(keys).decode(), self.max_events),
            ).fetchall()
        for key, count in over:
            conn.execute(
                f"DELETE FROM {table} WHERE k = ? AND (ts, id) IN (SELECT ts, id FROM {table} WHERE k = ? "
                "ORDER BY ts, id LIMIT ?)",
                (key, key, count - self.max_events),
            )

    def fetch(self, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> FetchedEvents:
        if not keys:
            return FetchedEvents.empty()
        table = _q(target.name)
        conn = self._conn()
        # One row back, not one per event: SQLite concatenates the key positions and times (as hex) and the
        # payloads (bytes; group_concat keeps a blob's bytes), which numpy splits without Python objects.
        packed = (
            "SELECT group_concat(printf('%08x', {i}), ''), group_concat(printf('%016x', t.ts), ''), "
            "CAST(group_concat(t.p, '') AS BLOB), group_concat(printf('%08x', length(t.p)), '') FROM {src}"
        )
        try:
            if len(keys) == 1:
                query = packed.format(i="0", src=f"{table} AS t WHERE t.k = ? AND t.ts > ? AND t.ts <= ?")
                row = conn.execute(query, (keys[0], since_us, until_us)).fetchone()
            else:
                src = f"json_each(?) AS j JOIN {table} AS t ON t.k = j.value WHERE t.ts > ? AND t.ts <= ?"
                row = conn.execute(packed.format(i="j.key", src=src), (orjson.dumps(keys).decode(), since_us, until_us))
                row = row.fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return FetchedEvents.empty()
            raise self._error(exc, f"reading events of feature view '{target.view}'") from exc
        if row is None or row[0] is None:
            return FetchedEvents.empty()
        index = np.frombuffer(bytes.fromhex(row[0]), ">u4").astype(np.int64)
        ts = np.frombuffer(bytes.fromhex(row[1]), ">i8").astype(np.int64)
        lengths = np.frombuffer(bytes.fromhex(row[3]), ">u4").astype(np.int64)
        starts = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return FetchedEvents(index, ts, row[2] or b"", starts, lengths)

    def sweep(self, target: StateTarget, now_us: int) -> None:
        conn = self._conn()
        try:
            conn.execute(f"DELETE FROM {_q(target.name)} WHERE ts <= ?", (now_us - target.horizon_us,))
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise self._error(exc, f"evicting events of feature view '{target.view}'") from exc

    def drop(self, project: str, view: str) -> None:
        conn = self._conn()
        prefix = f"{project}_{view}__win_"
        try:
            names = [
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
                if r[0].startswith(prefix)
            ]
            for name in names:
                conn.execute(f"DROP TABLE IF EXISTS {_q(name)}")
                self._created.discard(name)
        except sqlite3.Error as exc:
            raise self._error(exc, f"dropping the window state of feature view '{view}'") from exc

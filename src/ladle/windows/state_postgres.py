"""Window state in the PostgreSQL online store's schema: one table per view and layout, one row per event::

    k TEXT, ts BIGINT, id BYTEA, p BYTEA, PRIMARY KEY (k, ts, id)

A batch is copied into a temporary table and inserted in key order with ``ON CONFLICT DO NOTHING`` (a
replay adds nothing; concurrent writers lock rows in one order); the written keys are then evicted and
trimmed in the same transaction. A read is one ``k = ANY(%s)`` range query.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from ladle.drivers.lazy_import import lazy_attribute, lazy_module
from ladle.windows.events import EventBatch, FetchedEvents
from ladle.windows.state_base import DEFAULT_MAX_EVENTS, StateTarget, WindowState

psycopg = lazy_module("psycopg")
sql = lazy_attribute("psycopg", "sql")

__all__ = ["PostgresWindowState"]


class PostgresWindowState(WindowState):
    """Events in tables of ``schema``, on connections of the online store's pool (``connection()``)."""

    name = "postgres"

    def __init__(
        self,
        connection: Callable[[], AbstractContextManager[Any]],
        schema: str,
        table_name: Callable[[str, str], str],
        errors: Callable[[Exception, str], Exception],
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        super().__init__(max_events)
        self._connection = connection
        self._schema = schema
        self._table_name = table_name
        self._fail = errors
        self._created: set[str] = set()

    def _table(self, target: StateTarget) -> Any:
        return sql.Identifier(self._schema, self._table_name(target.project, f"{target.view}__win_{target.layout}"))

    def _ensure(self, conn: Any, target: StateTarget) -> None:
        if target.name in self._created:
            return
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (k TEXT NOT NULL, ts BIGINT NOT NULL, id BYTEA NOT NULL, "
                "p BYTEA NOT NULL, PRIMARY KEY (k, ts, id))"
            ).format(self._table(target))
        )
        self._created.add(target.name)

    def add(self, target: StateTarget, events: EventBatch, now_us: int) -> None:
        if not len(events):
            return
        table = self._table(target)
        keys = sorted(set(events.keys))
        trim = sql.SQL(
            "DELETE FROM {t} AS d USING (SELECT k, ts, id, row_number() OVER (PARTITION BY k ORDER BY ts DESC, id DESC) "
            "AS rn FROM {t} WHERE k = ANY(%s)) AS o WHERE d.k = o.k AND d.ts = o.ts AND d.id = o.id AND o.rn > %s"
        ).format(t=table)
        try:
            with self._connection() as conn:
                self._ensure(conn, target)
                with conn.transaction():
                    conn.execute(
                        "CREATE TEMP TABLE _ladle_events (k TEXT, ts BIGINT, id BYTEA, p BYTEA) ON COMMIT DROP"
                    )
                    with conn.cursor() as cur, cur.copy("COPY _ladle_events (k, ts, id, p) FROM STDIN") as copy:
                        for row in zip(events.keys, events.ts.tolist(), events.ids, events.payloads, strict=True):
                            copy.write_row(row)
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {} SELECT k, ts, id, p FROM _ladle_events ORDER BY k, ts, id "
                            "ON CONFLICT DO NOTHING"
                        ).format(table)
                    )
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE k = ANY(%s) AND ts <= %s").format(table),
                        (keys, now_us - target.horizon_us),
                    )
                    conn.execute(trim, (keys, self.max_events))
        except psycopg.Error as exc:
            raise self._fail(exc, f"adding events of feature view '{target.view}'") from exc

    def fetch(self, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> FetchedEvents:
        if not keys:
            return FetchedEvents.empty()
        query = sql.SQL("SELECT k, ts, p FROM {} WHERE k = ANY(%s) AND ts > %s AND ts <= %s").format(
            self._table(target)
        )
        try:
            with self._connection() as conn:
                rows = conn.execute(query, (keys, since_us, until_us)).fetchall()
        except psycopg.errors.UndefinedTable:
            return FetchedEvents.empty()
        except psycopg.Error as exc:
            raise self._fail(exc, f"reading events of feature view '{target.view}'") from exc
        if not rows:
            return FetchedEvents.empty()
        position = {k: i for i, k in enumerate(keys)}
        found, ts, payloads = zip(*rows, strict=True)
        return FetchedEvents.of_payloads(
            np.array([position[k] for k in found], np.int64), np.array(ts, np.int64), [bytes(p) for p in payloads]
        )

    def sweep(self, target: StateTarget, now_us: int) -> None:
        try:
            with self._connection() as conn:
                self._ensure(conn, target)
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE ts <= %s").format(self._table(target)), (now_us - target.horizon_us,)
                )
        except psycopg.Error as exc:
            raise self._fail(exc, f"evicting events of feature view '{target.view}'") from exc

    def drop(self, project: str, view: str) -> None:
        prefix = self._table_name(project, f"{view}__win_")
        try:
            with self._connection() as conn:
                names = conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND "
                    "starts_with(table_name, %s)",
                    (self._schema, prefix),
                ).fetchall()
                for (name,) in names:
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self._schema, name)))
        except psycopg.Error as exc:
            raise self._fail(exc, f"dropping the window state of feature view '{view}'") from exc
        self._created = {n for n in self._created if not n.startswith(f"{project}_{view}__win_")}

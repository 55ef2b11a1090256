"""The window-state protocol (``ladle.windows.state_base``) on every online backend, with the same values:
events kept once per (key, id), fetched by time range, evicted past the longest window, capped per key,
dropped with the view. Real SQLite, Redis, PostgreSQL and DynamoDB (moto server)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ladle.errors import InvalidConfig
from ladle.online.base import OnlineStore
from ladle.online.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig
from ladle.windows.events import EventBatch, EventLayout, event_ids
from ladle.windows.state_base import StateTarget, WindowState
from ladle.windows.state_catalog import window_state_of
from services import PG_DSN, postgres_admin, unavailable

HOUR_US = 3_600_000_000
NOW_US = time.time_ns() // 1000  # near the real clock: Redis expires keys by it
LAYOUT = EventLayout((("amount", pa.float64()), ("merchant", pa.string()), ("__created", pa.timestamp("us", tz="UTC"))))


def _redis_store(tmp_path: Path) -> OnlineStore:
    redis = pytest.importorskip("redis")
    from ladle.online.redis import RedisOnlineStore, RedisOnlineStoreConfig

    url = os.environ.get("LADLE_TEST_REDIS_URL", "127.0.0.1:6379")
    host, _, port = url.removeprefix("redis://").partition(":")
    try:
        redis.Redis(host=host, port=int(port or 6379), socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    return RedisOnlineStore(RedisOnlineStoreConfig(connection_string=f"{host}:{port or 6379}"), tmp_path)


@pytest.fixture(params=["sqlite", "redis", "postgres", "dynamodb"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WindowState]:
    admin = None
    schema = f"ladle_win_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        store: OnlineStore = SqliteOnlineStore(SqliteOnlineStoreConfig(path="online.db"), tmp_path)
    elif request.param == "redis":
        store = _redis_store(tmp_path)
    elif request.param == "postgres":
        from ladle.online.postgres import PostgreSQLOnlineStore, PostgreSQLOnlineStoreConfig

        admin = postgres_admin()
        store = PostgreSQLOnlineStore(PostgreSQLOnlineStoreConfig(dsn=PG_DSN, db_schema=schema), tmp_path)
    else:
        pytest.importorskip("boto3")
        from ladle.online.dynamodb import DynamoDBOnlineStore, DynamoDBOnlineStoreConfig

        endpoint = request.getfixturevalue("moto_endpoint")
        store = DynamoDBOnlineStore(DynamoDBOnlineStoreConfig(endpoint_url=endpoint), tmp_path)
    backend = window_state_of(store)
    yield backend
    backend.close()
    store.close()
    if admin is not None:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def _target(horizon_us: int = 2 * HOUR_US) -> StateTarget:
    return StateTarget(f"p{uuid.uuid4().hex[:8]}", "txn", LAYOUT.fingerprint(), horizon_us)


def _batch(
    keys: list[str], offsets_min: list[int], amounts: list[float | None], merchants: list[str | None]
) -> EventBatch:
    ts = np.array([NOW_US - m * 60_000_000 for m in offsets_min], np.int64)
    created = pa.array([t + 5 for t in ts.tolist()], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    payloads = LAYOUT.encode(
        {"amount": pa.array(amounts, pa.float64()), "merchant": pa.array(merchants, pa.string()), "__created": created}
    )
    return EventBatch(keys, ts, event_ids(ts, payloads), payloads)


def _fetched(state: WindowState, target: StateTarget, keys: list[str], since_us: int, until_us: int) -> list[tuple]:
    got = state.fetch(target, keys, since_us, until_us)
    cols = LAYOUT.decode(got.payloads)
    rows = zip(
        got.key_index.tolist(), got.ts.tolist(), cols["amount"].to_pylist(), cols["merchant"].to_pylist(), strict=True
    )
    return sorted((keys[k], (NOW_US - ts) // 60_000_000, a, m) for k, ts, a, m in rows)


def test_fetch_returns_events_in_the_time_range_with_their_payloads(state: WindowState) -> None:
    target = _target()
    state.add(
        target, _batch(["a", "a", "b", "c"], [10, 50, 20, 30], [1.5, None, -0.0, 7.0], ["x", "y", None, "z"]), NOW_US
    )
    assert _fetched(state, target, ["a", "b", "zz"], NOW_US - HOUR_US, NOW_US) == [
        ("a", 10, 1.5, "x"),
        ("a", 50, None, "y"),
        ("b", 20, -0.0, None),
    ]
    # the lower bound is exclusive, the upper inclusive
    assert _fetched(state, target, ["a"], NOW_US - 50 * 60_000_000, NOW_US - 10 * 60_000_000) == [("a", 10, 1.5, "x")]
    assert _fetched(state, target, ["c"], NOW_US - HOUR_US, NOW_US) == [("c", 30, 7.0, "z")]


def test_replayed_events_are_kept_once(state: WindowState) -> None:
    target = _target()
    batch = _batch(["a", "a", "a"], [10, 10, 20], [1.0, 1.0, 1.0], ["x", "x", "x"])  # the first two are one event
    state.add(target, batch, NOW_US)
    state.add(target, batch, NOW_US)
    state.add(target, _batch(["a"], [20], [1.0], ["x"]), NOW_US)
    assert _fetched(state, target, ["a"], NOW_US - HOUR_US, NOW_US) == [("a", 10, 1.0, "x"), ("a", 20, 1.0, "x")]


def test_events_past_the_longest_window_are_evicted(state: WindowState) -> None:
    target = _target(horizon_us=HOUR_US)
    state.add(target, _batch(["a", "a", "b"], [30, 90, 100], [1.0, 2.0, 3.0], ["x", "y", "z"]), NOW_US)
    # fetched with a range far wider than the window: only what the state kept comes back
    assert _fetched(state, target, ["a", "b"], NOW_US - 10 * HOUR_US, NOW_US) == [("a", 30, 1.0, "x")]


def test_a_key_keeps_at_most_max_events_newest_first(state: WindowState) -> None:
    state.max_events = 3
    target = _target()
    state.add(target, _batch(["a"] * 5, [5, 4, 3, 2, 1], [5.0, 4.0, 3.0, 2.0, 1.0], ["m"] * 5), NOW_US)
    state.add(target, _batch(["b"], [1], [9.0], ["n"]), NOW_US)
    assert _fetched(state, target, ["a", "b"], NOW_US - HOUR_US, NOW_US) == [
        ("a", 1, 1.0, "m"),
        ("a", 2, 2.0, "m"),
        ("a", 3, 3.0, "m"),
        ("b", 1, 9.0, "n"),
    ]


def test_drop_removes_the_state_and_unknown_views_read_empty(state: WindowState) -> None:
    target = _target()
    assert _fetched(state, target, ["a"], NOW_US - HOUR_US, NOW_US) == []
    state.add(target, _batch(["a"], [1], [1.0], ["x"]), NOW_US)
    state.drop(target.project, target.view)
    assert _fetched(state, target, ["a"], NOW_US - HOUR_US, NOW_US) == []


def test_sweep_evicts_keys_that_were_not_written(state: WindowState) -> None:
    target = _target(horizon_us=HOUR_US)
    state.add(target, _batch(["a", "b"], [50, 10], [1.0, 2.0], ["x", "y"]), NOW_US)
    later = NOW_US + 20 * 60_000_000  # 'a' (70 minutes old by then) has left the window, 'b' has not
    state.sweep(target, later)
    got = _fetched(state, target, ["a", "b"], NOW_US - 10 * HOUR_US, later)
    assert [k for k, *_ in got] == ["b"]


def test_a_big_batch_is_evicted_and_trimmed_too(state: WindowState) -> None:
    """A batch of many keys (SQLite maintains the whole table in one pass beyond 1,000 keys)."""
    state.max_events = 2
    target = _target(horizon_us=HOUR_US)
    keys = [f"k{i}" for i in range(1_200)]
    old = _batch(["a", "a", "a", "a"], [90, 3, 2, 1], [1.0, 2.0, 3.0, 4.0], ["x"] * 4)
    state.add(target, old, NOW_US)
    state.add(target, _batch(keys + ["b"] * 4, [5] * 1_200 + [70, 4, 3, 2], [1.0] * 1_204, ["y"] * 1_204), NOW_US)
    got = _fetched(state, target, ["a", "b", "k7"], NOW_US - 10 * HOUR_US, NOW_US)
    assert got == [("a", 1, 4.0, "x"), ("a", 2, 3.0, "x"), ("b", 2, 1.0, "y"), ("b", 3, 1.0, "y"), ("k7", 5, 1.0, "y")]


def test_the_sqlite_state_uses_the_online_store_connection(tmp_path: Path) -> None:
    """No second connection: the events are in the store's own per-thread connection's view at once, and
    after the store closes its connections the state works on the new ones."""
    store = SqliteOnlineStore(SqliteOnlineStoreConfig(path="online.db"), tmp_path)
    access = store.shared_access()
    state = window_state_of(store)
    target = _target()
    state.add(target, _batch(["a", "b"], [1, 2], [1.0, 2.0], ["x", "y"]), NOW_US)
    conn = access.connect()
    assert conn.execute(f'SELECT count(*) FROM "{target.name}"').fetchone()[0] == 2
    store.close()  # closes the connection the state used too
    assert access.connect() is not conn
    assert [k for k, *_ in _fetched(state, target, ["a", "b"], NOW_US - HOUR_US, NOW_US)] == ["a", "b"]
    store.close()


def test_a_store_that_lends_no_connection_serves_no_window(tmp_path: Path) -> None:
    class Lending(SqliteOnlineStore):
        def shared_access(self) -> None:  # type: ignore[override]
            return None

    with pytest.raises(InvalidConfig, match="keeps no window state"):
        window_state_of(Lending(SqliteOnlineStoreConfig(path="online.db"), tmp_path))

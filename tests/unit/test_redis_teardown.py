"""Removing views from Redis (``teardown``, ``update`` dropping a view or a changed view's fields), against a real
Redis: exactly the removed views' fields go (other views' fields on the same hash stay, a hash left empty goes,
other projects' hashes and other entities' hashes stay), in a number of round trips bounded by the keyspace
scanned, not by the keys removed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import redis as redis_py

from backends import REDIS_URL, redis_ping
from conformance.test_online_store import make_view
from ladle.definitions import FeatureView
from ladle.online.redis import RedisOnlineStore, RedisOnlineStoreConfig
from ladle.types import Float64, Int64, String

pytestmark = pytest.mark.services

T = datetime(2026, 6, 1, tzinfo=UTC)


def view(name: str, features: dict[str, Any], key: str = "driver_id") -> FeatureView:
    return make_view(features, (key,), name)


STATS = view("stats", {"trips": Int64, "rate": Float64})
QUALITY = view("quality", {"label": String})
CARS = view("cars", {"seats": Int64}, key="car_id")  # another entity: other hashes


def rows(key: str, ids: list[int], **features: list[Any]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {key: pa.array(ids, pa.int64()), **features, "event_ts": pa.array([T] * n, pa.timestamp("us", tz="UTC"))}
    )


@pytest.fixture
def client() -> Iterator[Any]:
    c = redis_ping()
    yield c
    c.close()


@pytest.fixture
def stores(tmp_path: Path, client: Any) -> Iterator[tuple[RedisOnlineStore, str, str]]:
    """A store, its project and a second project written alike (whose keys must survive)."""
    store = RedisOnlineStore(RedisOnlineStoreConfig(connection_string=REDIS_URL), tmp_path)
    mine, other = f"p_{uuid.uuid4().hex[:8]}", f"p_{uuid.uuid4().hex[:8]}"
    yield store, mine, other
    for project in (mine, other):
        for key in client.scan_iter(match=f"ladle:{project}:*", count=10_000):
            client.delete(key)
    store.close()


def fill(store: RedisOnlineStore, project: str, n: int) -> None:
    """``stats`` and ``quality`` on drivers 0..n-1 (quality on the even ones only), ``cars`` on cars 0..9."""
    store.update(project, [STATS, QUALITY, CARS], [])
    ids = list(range(n))
    store.write(project, STATS, rows("driver_id", ids, trips=ids, rate=[i / 2 for i in ids]))
    even = ids[::2]
    store.write(project, QUALITY, rows("driver_id", even, label=[f"q{i}" for i in even]))
    store.write(project, CARS, rows("car_id", list(range(10)), seats=list(range(10))))


def hashes(client: Any, project: str) -> dict[str, set[str]]:
    """Every hash of ``project`` and its field names."""
    out = {}
    for key in client.scan_iter(match=f"ladle:{project}:*", count=10_000):
        out[key.decode()] = {f.decode() for f in client.hkeys(key)}
    return out


class RoundTrips:
    """Counts the requests redis-py sends (a pipeline is one), passing each to the real Redis."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        send = redis_py.connection.Connection.send_packed_command

        def counting(conn: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            send(conn, command, check_health)

        monkeypatch.setattr(redis_py.connection.Connection, "send_packed_command", counting)


def test_teardown_removes_exactly_the_views_fields(
    stores: tuple[RedisOnlineStore, str, str], client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, mine, other = stores
    n = 3000
    fill(store, mine, n)
    fill(store, other, 20)
    before_other = hashes(client, other)
    store.teardown(mine, [STATS])  # quality and cars stay
    left = hashes(client, mine)
    drivers = {k: v for k, v in left.items() if ":driver_id:" in k}
    assert len(drivers) == n // 2  # the odd drivers held only stats: their hashes went
    assert all(v == {"quality:_ts", "quality:_cr", "quality:label"} for v in drivers.values())
    assert sorted(int(k.rpartition(":")[2]) for k in drivers) == list(range(0, n, 2))
    cars = {k: v for k, v in left.items() if ":car_id:" in k}
    assert len(cars) == 10 and all(v == {"cars:_ts", "cars:_cr", "cars:seats"} for v in cars.values())
    shapes = client.hkeys(f"ladle:{mine}:_shapes")
    assert sorted(s.decode() for s in shapes) == ["cars", "quality"]
    assert hashes(client, other) == before_other  # another project is untouched
    got = store.read(mine, QUALITY, pa.table({"driver_id": [0, 1, 2]}), ["label"])
    assert got.column("label").to_pylist() == ["q0", None, "q2"]

    trips = RoundTrips(monkeypatch)
    store.teardown(mine, [QUALITY, CARS])
    made = trips.count
    assert hashes(client, mine) == {}  # everything of the project went, the shapes hash too
    assert hashes(client, other) == before_other
    # bounded by the keyspace scanned (SCAN steps of 10,000), not by the 1,510 hashes emptied
    scan_steps = client.dbsize() // 10_000 + 2
    assert made <= 2 * scan_steps + 4, made


def test_update_drops_a_deleted_view_and_a_changed_views_fields(
    stores: tuple[RedisOnlineStore, str, str], client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, mine, other = stores
    fill(store, mine, 400)
    fill(store, other, 20)
    before_other = hashes(client, other)
    narrower = view("stats", {"trips": Int64})  # "rate" removed: its values go, "trips" stays
    trips = RoundTrips(monkeypatch)
    store.update(mine, [narrower, CARS], [QUALITY])
    made = trips.count
    left = hashes(client, mine)
    drivers = {k: v for k, v in left.items() if ":driver_id:" in k}
    assert len(drivers) == 400 and all(v == {"stats:_ts", "stats:_cr", "stats:trips"} for v in drivers.values())
    assert sum(":car_id:" in k for k in left) == 10
    assert sorted(s.decode() for s in client.hkeys(f"ladle:{mine}:_shapes")) == ["cars", "stats"]
    assert hashes(client, other) == before_other
    scan_steps = client.dbsize() // 10_000 + 2
    assert made <= 2 * scan_steps + 8, made  # not one per hash (400 of them)


def test_a_project_name_with_pattern_characters_matches_only_itself(tmp_path: Path, client: Any) -> None:
    """SCAN's MATCH is a glob: ``*``, ``?`` and ``[...]`` in a project name are matched literally."""
    store = RedisOnlineStore(RedisOnlineStoreConfig(connection_string=REDIS_URL), tmp_path)
    tag = uuid.uuid4().hex[:8]
    globby, plain = f"g{tag}*[ab]?", f"g{tag}XaY"  # the pattern "g…*[ab]?" would match "g…XaY"
    try:
        for project in (globby, plain):
            store.update(project, [STATS], [])
            store.write(project, STATS, rows("driver_id", [1, 2], trips=[1, 2], rate=[0.5, 1.0]))
        store.teardown(globby, [STATS])
        assert hashes(client, plain.replace("*", "\\*")) != {}
        got = store.read(plain, STATS, pa.table({"driver_id": [1, 2]}), ["trips"])
        assert got.column("trips").to_pylist() == [1, 2]
        assert store.read(globby, STATS, pa.table({"driver_id": [1]}), ["trips"]).column("trips").to_pylist() == [None]
    finally:
        for key in client.scan_iter(match=f"ladle:g{tag}*", count=10_000):
            client.delete(key)
        store.close()

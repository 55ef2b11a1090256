"""PostgreSQL online store: concurrent writers on overlapping keys, error classification, long table names."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from backends import PG_DSN, import_driver, postgres_admin
from ladle import Entity, FeatureView, Field, FileSource
from ladle.errors import BackendUnavailable
from ladle.types import Float64

pytestmark = pytest.mark.services  # every test writes to the test PostgreSQL

T = datetime(2026, 6, 1, tzinfo=timezone.utc)
UTC = pa.timestamp("us", tz="UTC")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[object, str]]:
    from ladle.online.postgres import PostgreSQLOnlineStore, PostgreSQLOnlineStoreConfig

    admin = postgres_admin()
    schema = f"ladle_pgw_{uuid.uuid4().hex[:8]}"
    online = PostgreSQLOnlineStore(PostgreSQLOnlineStoreConfig(dsn=PG_DSN, db_schema=schema), tmp_path)
    yield online, schema
    online.close()
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


def view(name: str = "stats") -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    fv = FeatureView(
        name=name,
        entities=[driver],
        ttl=timedelta(days=1),
        source=FileSource(path="x.parquet", timestamp_field="ts"),
        schema=[Field(name="rate", dtype=Float64)],
    )
    fv.bind_entities({"driver": driver})
    return fv


def rows(keys: list[int], rate: float, ts: datetime) -> pa.Table:
    n = len(keys)
    return pa.table(
        {
            "driver_id": pa.array(keys, pa.int64()),
            "rate": [rate] * n,
            "event_ts": pa.array([ts] * n, UTC),
            "created_ts": pa.nulls(n, UTC),
        }
    )


def test_concurrent_writers_in_opposite_key_orders_do_not_deadlock(store: tuple[object, str]) -> None:
    """Two writers upsert the same 3,000 keys, one ascending and one descending, 6 rounds each: no error,
    and every key ends with the newest value (newer-wins across both writers)."""
    online, _ = store
    fv = view()
    online.update("p", [fv], [])  # type: ignore[attr-defined]
    keys = list(range(3000))
    errors: list[BaseException] = []

    def writer(order: list[int], rate: float) -> None:
        try:
            for r in range(6):
                online.write("p", fv, rows(order, rate + r, T + timedelta(seconds=r)))  # type: ignore[attr-defined]
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(keys, 100.0)),
        threading.Thread(target=writer, args=(keys[::-1], 200.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    got = online.read("p", fv, pa.table({"driver_id": pa.array(keys, pa.int64())}), ["rate"])  # type: ignore[attr-defined]
    # round 5 of either writer: equal (ts, created), so the later write of the two is kept
    assert set(got.column("rate").to_pylist()) <= {105.0, 205.0}
    assert set(got.column("event_ts").to_pylist()) == {T + timedelta(seconds=5)}


def test_a_deadlock_is_a_retryable_error_not_an_outage(store: tuple[object, str]) -> None:
    psycopg = import_driver("psycopg", "PostgreSQL")
    online, _ = store
    for exc in (
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ):
        mapped = online._driver_error(exc, "writing feature view 'stats'")  # type: ignore[attr-defined]
        assert isinstance(mapped, BackendUnavailable) and mapped.retryable
        assert "cannot connect" not in str(mapped)
        assert "conflicted with a concurrent write" in str(mapped)


def test_views_whose_names_share_63_bytes_get_distinct_tables(store: tuple[object, str]) -> None:
    """PostgreSQL truncates identifiers at 63 bytes; two long view names must not share (and wipe) a table."""
    online, schema = store
    prefix = "driver_hourly_statistics_for_the_very_long_named_model_v"
    first, second = view(prefix + "1_alpha"), view(prefix + "1_beta")
    project = "a_project_with_a_long_name"
    online.update(project, [first], [])  # type: ignore[attr-defined]
    online.write(project, first, rows([1], 1.5, T))  # type: ignore[attr-defined]
    online.update(project, [first, second], [])  # type: ignore[attr-defined]
    online.write(project, second, rows([1], 2.5, T))  # type: ignore[attr-defined]
    keys = pa.table({"driver_id": pa.array([1], pa.int64())})
    assert online.read(project, first, keys, ["rate"]).column("rate").to_pylist() == [1.5]  # type: ignore[attr-defined]
    assert online.read(project, second, keys, ["rate"]).column("rate").to_pylist() == [2.5]  # type: ignore[attr-defined]
    admin = postgres_admin()
    names = [
        r[0]
        for r in admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    ]
    admin.close()
    assert len(names) == 2 and all(len(n.encode()) <= 63 for n in names)
    short = view("stats")
    online.update("p", [short], [])  # type: ignore[attr-defined]
    admin = postgres_admin()
    assert (
        admin.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'p_stats'", (schema,)
        ).fetchone()
        is not None
    )  # short names keep Feast's {project}_{view}
    admin.close()


def test_a_table_made_before_shapes_were_recorded_keeps_its_rows_when_it_still_fits(
    store: tuple[object, str],
) -> None:
    """Tables of earlier versions carry no shape comment: one whose columns still fit the view keeps its rows;
    one that does not is made afresh (its join keys are unknown)."""
    online, schema = store
    admin = postgres_admin()
    admin.execute(f'CREATE SCHEMA "{schema}"')
    for name, column in (("p_stats", '"rate" DOUBLE PRECISION'), ("p_other", '"speed" BIGINT')):
        admin.execute(
            f'CREATE TABLE "{schema}"."{name}" '
            f"(entity_key TEXT PRIMARY KEY, event_ts BIGINT NOT NULL, created_ts BIGINT, {column})"
        )
        admin.execute(f'INSERT INTO "{schema}"."{name}" VALUES (\'1\', 1780272000000000, NULL, 2)')
    admin.close()
    stats, other = view("stats"), view("other")
    online.update("p", [stats, other], [])  # type: ignore[attr-defined]
    keys = pa.table({"driver_id": pa.array([1], pa.int64())})
    assert online.read("p", stats, keys, ["rate"]).to_pydict() == {  # type: ignore[attr-defined]
        "rate": [2.0],
        "event_ts": [T],
    }
    assert online.read("p", other, keys, ["rate"]).to_pydict() == {"rate": [None], "event_ts": [None]}  # type: ignore[attr-defined]

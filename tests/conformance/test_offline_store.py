"""One suite for the offline-store protocol, run on duckdb (parquet), postgres and spark with the same data and the
same brute-force reference of the point-in-time rules (see tests/property/test_pit_join.py)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ladle.config import DuckDBOfflineStoreConfig
from ladle.definitions import DataSource, Entity, FeatureView, Field, FileSource, PostgreSQLSource, SparkSource
from ladle.feature_refs import ViewRequest
from ladle.offline.base import OfflineStore
from ladle.offline.duckdb import DuckDBOfflineStore
from ladle.types import Int64
from pit_reference import ViewSpec, at, entity_rows, reference, view_spec
from services import PG_DSN, postgres_admin
from spark_support import spark_session

MakeSource = Callable[[str, pa.Table, bool], DataSource]  # (name, rows, has_created) -> source


def _duckdb() -> Iterator[tuple[OfflineStore, MakeSource]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def make(name: str, rows: pa.Table, has_created: bool) -> DataSource:
            pq.write_table(rows, folder / f"{name}.parquet")
            return FileSource(name=name, path=f"{name}.parquet", timestamp_field="ts",
                              created_timestamp_column="created" if has_created else None)

        store = DuckDBOfflineStore(DuckDBOfflineStoreConfig(), folder)
        yield store, make
        store.close()


def _postgres() -> Iterator[tuple[OfflineStore, MakeSource]]:
    from ladle.offline.postgres import PostgreSQLOfflineStore, PostgreSQLOfflineStoreConfig

    dsn = PG_DSN
    admin = postgres_admin()
    schema = f"ladle_off_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')

    def make(name: str, rows: pa.Table, has_created: bool) -> DataSource:
        admin.execute(f'CREATE TABLE "{schema}"."{name}" (driver_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, value BIGINT)')
        with admin.cursor() as cur, cur.copy(f'COPY "{schema}"."{name}" (driver_id, ts, created, value) FROM STDIN') as copy:
            for row in zip(*(rows.column(c).to_pylist() for c in ("driver_id", "ts", "created", "value")), strict=True):
                copy.write_row(row)
        return PostgreSQLSource(name=name, table=name, timestamp_field="ts",
                                created_timestamp_column="created" if has_created else None)

    store = PostgreSQLOfflineStore(PostgreSQLOfflineStoreConfig(dsn=dsn, db_schema=schema))
    yield store, make
    store.close()
    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


def _spark() -> Iterator[tuple[OfflineStore, MakeSource]]:
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig

    spark_session()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def make(name: str, rows: pa.Table, has_created: bool) -> DataSource:
            pq.write_table(rows, folder / f"{name}.parquet")
            return SparkSource(name=name, path=f"{name}.parquet", file_format="parquet", timestamp_field="ts",
                               created_timestamp_column="created" if has_created else None)

        store = SparkOfflineStore(SparkOfflineStoreConfig(), folder)
        yield store, make
        store.close()


BACKENDS = {"duckdb": _duckdb, "postgres": _postgres, "spark": _spark}
#: hypothesis examples per backend (a Spark query costs ~0.3-1 s on two cores)
EXAMPLES = {"spark": 10}


def build(i: int, spec: ViewSpec, make: MakeSource) -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    utc = pa.timestamp("us", tz="UTC")
    rows = pa.table({
        "driver_id": pa.array([r[0] for r in spec.rows], pa.int64()),
        "ts": pa.array([at(r[1]) for r in spec.rows], utc),
        "created": pa.array([at(r[2]) if r[2] is not None else None for r in spec.rows], utc),
        "value": pa.array([r[3] for r in spec.rows], pa.int64()),
    })
    view = FeatureView(
        name=f"v{i}", entities=[driver] if spec.keyed else [], schema=[Field(name="value", dtype=Int64)],
        source=make(f"v{i}_{uuid.uuid4().hex[:6]}", rows, spec.has_created),
        ttl=timedelta(hours=spec.ttl_hours) if spec.ttl_hours is not None else None,
    )
    view.bind_entities({"driver": driver})
    return view


def check(backend: str, specs: list[ViewSpec], ents: list[tuple[int, int]], filter_created: bool) -> None:
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        views = [build(i, s, make) for i, s in enumerate(specs)]
        entities = pa.table({
            "driver_id": pa.array([e[0] for e in ents], pa.int64()),
            "event_timestamp": pa.array([at(e[1]) for e in ents], pa.timestamp("us", tz="UTC")),
        })
        result = store.point_in_time_join(
            entities, "event_timestamp", [ViewRequest(v, v.name, list(v.features)) for v in views], True, filter_created
        )
    finally:
        next(gen, None)
    assert result.num_rows == len(ents)
    for i, spec in enumerate(specs):
        got = result.column(f"v{i}__value").to_pylist()
        for r, (key, ts) in enumerate(ents):
            assert got[r] in reference(spec, key, ts, filter_created), (backend, i, r)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_point_in_time_join_matches_reference(backend: str) -> None:
    """Every backend returns, for every entity row and view, a value the point-in-time rules allow."""

    @settings(max_examples=EXAMPLES.get(backend, 25), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(specs=st.lists(view_spec, min_size=1, max_size=2), ents=entity_rows, filter_created=st.booleans())
    def run(specs: list[ViewSpec], ents: list[tuple[int, int]], filter_created: bool) -> None:
        check(backend, specs, ents, filter_created)

    run()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_pull_latest_and_schema(backend: str) -> None:
    spec = ViewSpec(rows=[(1, 1, 0, 10), (1, 3, 0, 30), (1, 3, 2, 31), (2, 5, None, 50), (2, 9, None, 90)],
                    ttl_hours=None, has_created=True, keyed=True)
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        view = build(0, spec, make)
        schema = store.source_schema(view.batch_source)
        latest = store.pull_latest(view, at(0), at(6)).read_all().sort_by("driver_id")
    finally:
        next(gen, None)
    assert {"driver_id", "ts", "created", "value"} <= set(schema.names)
    assert latest.column("driver_id").to_pylist() == [1, 2]
    assert latest.column("value").to_pylist() == [31, 50]
    assert latest.column("event_ts").to_pylist() == [at(3), at(5)]

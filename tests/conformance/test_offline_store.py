"""One suite for the offline-store protocol, run on duckdb (parquet), postgres and spark with the same data and the
same brute-force reference of the point-in-time rules (see tests/property/test_pit_join.py)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import OFFLINE, OfflineBackend, offline_backend
from conftest import examples
from ladle.definitions import DataSource, Entity, FeatureView, Field, FileSource, PostgreSQLSource, SparkSource
from ladle.errors import InvalidRequest, LadleError
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.types import Int64
from pit_reference import ViewSpec, at, entity_rows, reference, view_spec
from timestamp_cases import EPOCH, UNITS, ZONES, column, micros

MakeSource = Callable[[str, pa.Table, bool], DataSource]  # (name, rows, has_created) -> source


def _make_source(backend: OfflineBackend, name: str, rows: pa.Table, has_created: bool) -> DataSource:
    """Store ``rows`` where ``backend`` reads its sources, and return the source naming them."""
    created = "created" if has_created else None
    if backend.name == "postgres":
        # a tz-aware Arrow column becomes TIMESTAMPTZ, a naive one TIMESTAMP (PostgreSQL keeps microseconds)
        admin, schema = backend.admin, backend.schema
        pg = {c: "TIMESTAMPTZ" if rows.schema.field(c).type.tz else "TIMESTAMP" for c in ("ts", "created")}
        admin.execute(
            f'CREATE TABLE "{schema}"."{name}" (driver_id BIGINT, ts {pg["ts"]}, created {pg["created"]}, value BIGINT)'
        )
        values = [rows.column(c) for c in ("driver_id", "ts", "created", "value")]
        values[1:3] = [micros(v) for v in values[1:3]]
        with (
            admin.cursor() as cur,
            cur.copy(f'COPY "{schema}"."{name}" (driver_id, ts, created, value) FROM STDIN') as copy,
        ):
            for row in zip(*(v.to_pylist() for v in values), strict=True):
                copy.write_row(row)
        return PostgreSQLSource(name=name, table=name, timestamp_field="ts", created_timestamp_column=created)
    assert backend.folder is not None
    pq.write_table(rows, backend.folder / f"{name}.parquet")
    if backend.name == "spark":
        return SparkSource(
            name=name,
            path=f"{name}.parquet",
            file_format="parquet",
            timestamp_field="ts",
            created_timestamp_column=created,
        )
    return FileSource(name=name, path=f"{name}.parquet", timestamp_field="ts", created_timestamp_column=created)


def _open(name: str) -> Iterator[tuple[OfflineStore, MakeSource]]:
    with offline_backend(name) as backend:
        yield backend.store, functools.partial(_make_source, backend)


#: every offline store (tests/backends.py): ``BACKENDS[name]()`` is a generator of (store, make source)
BACKENDS = {name: functools.partial(_open, name) for name in OFFLINE}
#: hypothesis examples per backend (a Spark query costs ~0.3-1 s on two cores)
EXAMPLES = {"spark": 10}


def build(i: int, spec: ViewSpec, make: MakeSource) -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    utc = pa.timestamp("us", tz="UTC")
    rows = pa.table(
        {
            "driver_id": pa.array([r[0] for r in spec.rows], pa.int64()),
            "ts": pa.array([at(r[1]) for r in spec.rows], utc),
            "created": pa.array([at(r[2]) if r[2] is not None else None for r in spec.rows], utc),
            "value": pa.array([r[3] for r in spec.rows], pa.int64()),
        }
    )
    view = FeatureView(
        name=f"v{i}",
        entities=[driver] if spec.keyed else [],
        schema=[Field(name="value", dtype=Int64)],
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
        entities = pa.table(
            {
                "driver_id": pa.array([e[0] for e in ents], pa.int64()),
                "event_timestamp": pa.array([at(e[1]) for e in ents], pa.timestamp("us", tz="UTC")),
            }
        )
        result = store.point_in_time_join(
            entities, "event_timestamp", [ViewRequest(v, v.name, list(v.features)) for v in views], filter_created
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

    @settings(
        max_examples=examples(EXAMPLES.get(backend, 25)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(specs=st.lists(view_spec, min_size=1, max_size=2), ents=entity_rows, filter_created=st.booleans())
    def run(specs: list[ViewSpec], ents: list[tuple[int, int]], filter_created: bool) -> None:
        check(backend, specs, ents, filter_created)

    run()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_pull_latest_and_schema(backend: str) -> None:
    spec = ViewSpec(
        rows=[(1, 1, 0, 10), (1, 3, 0, 30), (1, 3, 2, 31), (2, 5, None, 50), (2, 9, None, 90)],
        ttl_hours=None,
        has_created=True,
        keyed=True,
    )
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


# --- timestamps in every unit and zone ---------------------------------------------------------------
T0 = datetime(2026, 3, 29, tzinfo=UTC)  # Europe/Berlin moves its clocks at 01:00 UTC that day


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


_US = timedelta(microseconds=1)
# driver, ts, created, value, nanoseconds added to ts in the ns case
SOURCE_ROWS = [
    (1, _h(0.5), _h(0.5), 5, 0),
    (1, _h(1), _h(1), 10, 0),
    (1, _h(2), _h(2), 20, 0),
    (1, _h(2), _h(3), 21, 0),  # same event time, newer created: wins
    (1, _h(3), _h(3), 30, 999),  # 999 ns after _h(3) in the ns case: compared at microseconds, so at _h(3)
    (2, _h(1.5), None, 40, 0),
    (3, EPOCH, EPOCH, 60, 0),
]
# driver, ts, nanoseconds added in the ns case, expected value, expected value in the ns case
ENTITY_ROWS = [
    (1, _h(0), 0, None, None),
    (1, _h(1), 0, 10, 10),
    (1, _h(2.5), 0, 21, 21),
    (1, _h(3), -1, 30, 21),  # 1 ns before _h(3) is truncated toward the past: _h(3) - 1 µs
    (1, _h(3), 0, 30, 30),  # the latest entity time: the row 999 ns later is still in range
    (2, _h(3), 0, 40, 40),
    (3, EPOCH, -1, 60, None),  # before the epoch, truncation still goes toward the past
]
TIMESTAMP_CASES = {
    "duckdb": [(u, z) for u in UNITS for z in ZONES],
    "postgres": [(u, z) for u in UNITS for z in ZONES],
    "spark": [("ms", "Asia/Kolkata"), ("us", None), ("ns", "Europe/Berlin"), ("ns", None)],
}


def _timestamp_view(make: MakeSource, unit: str, zone: str | None) -> FeatureView:
    extra = [r[4] if unit == "ns" else 0 for r in SOURCE_ROWS]
    rows = pa.table(
        {
            "driver_id": pa.array([r[0] for r in SOURCE_ROWS], pa.int64()),
            "ts": column([r[1] for r in SOURCE_ROWS], unit, zone, extra),
            "created": column([r[2] for r in SOURCE_ROWS], unit, zone),
            "value": pa.array([r[3] for r in SOURCE_ROWS], pa.int64()),
        }
    )
    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="stamped",
        entities=[driver],
        schema=[Field(name="value", dtype=Int64)],
        source=make(f"stamped_{uuid.uuid4().hex[:6]}", rows, True),
    )
    view.bind_entities({"driver": driver})
    return view


@pytest.mark.parametrize(
    ("backend", "unit", "zone"), [(b, u, z) for b, cases in sorted(TIMESTAMP_CASES.items()) for u, z in cases]
)
def test_every_timestamp_unit_and_zone_denotes_the_same_instants(backend: str, unit: str, zone: str | None) -> None:
    """Sources, created columns and entity rows in s/ms/us/ns, naive (UTC) or in any zone, join and
    materialize by the instants they denote; sub-microsecond parts are truncated toward the past."""
    entity_zone = ZONES[(ZONES.index(zone) + 2) % len(ZONES)]  # entity rows in another zone than the source
    ns = unit == "ns"
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        view = _timestamp_view(make, unit, zone)
        entities = pa.table(
            {
                "driver_id": pa.array([e[0] for e in ENTITY_ROWS], pa.int64()),
                "event_timestamp": column(
                    [e[1] for e in ENTITY_ROWS], unit, entity_zone, [e[2] if ns else 0 for e in ENTITY_ROWS]
                ),
            }
        )
        joined = store.point_in_time_join(
            entities, "event_timestamp", [ViewRequest(view, "stamped", list(view.features))]
        )
        joined = joined.rename_columns([c.partition("__")[2] for c in joined.column_names])
        latest = store.pull_latest(view, _h(0), _h(3)).read_all().sort_by("driver_id")
    finally:
        next(gen, None)
    assert joined.column("value").to_pylist() == [e[4] if ns else e[3] for e in ENTITY_ROWS]
    assert latest.column("driver_id").to_pylist() == [1, 2]
    assert latest.column("value").to_pylist() == [30, 40]  # the ns row at _h(3) + 999 ns is inside [_h(0), _h(3)]
    assert latest.schema.field("event_ts").type == pa.timestamp("us", tz="UTC")
    assert latest.column("event_ts").to_pylist() == [_h(3), _h(1.5)]
    assert latest.column("created_ts").to_pylist() == [_h(3), None]


# --- append and query ----------------------------------------------------------------------------------
def _appendable(backend: str, store: OfflineStore, make: MakeSource, rows: pa.Table) -> DataSource:
    """A source holding ``rows`` that the store can append to, its ``value`` column mapped to ``amount``."""
    name = f"pushed_{uuid.uuid4().hex[:6]}"
    if backend == "spark":  # the spark store appends to a folder of parquet files, not to one file
        (store.repo_path / name).mkdir()
        pq.write_table(rows, store.repo_path / name / "part-0.parquet")
        source: DataSource = SparkSource(
            name=name, path=name, file_format="parquet", timestamp_field="ts", created_timestamp_column="created"
        )
    else:
        source = make(name, rows, True)
    source.field_mapping = {"value": "amount"}
    return source


def _stamps(hours: list[int | None]) -> pa.Array:
    return pa.array([None if h is None else at(h) for h in hours], pa.timestamp("us", tz="UTC"))


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_append_adds_rows_that_later_reads_see(backend: str) -> None:
    """``append`` takes rows under their mapped names (field_mapping); the reads that follow see them, by the
    same newer-wins rules as the rows already there; rows lacking a source column are refused, nothing written."""
    driver = Entity(name="driver", join_keys=["driver_id"])
    rows = pa.table(
        {
            "driver_id": pa.array([1, 2], pa.int64()),
            "ts": _stamps([1, 1]),
            "created": _stamps([1, 1]),
            "value": [10, 20],
        }
    )
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        source = _appendable(backend, store, make, rows)
        view = FeatureView(name="pushed", entities=[driver], schema=[Field(name="amount", dtype=Int64)], source=source)
        view.bind_entities({"driver": driver})
        pushed = {"driver_id": pa.array([1, 3], pa.int64()), "ts": _stamps([4, 2]), "created": _stamps([4, None])}
        store.append(source, pa.table({**pushed, "amount": pa.array([11, 30], pa.int64())}))
        with pytest.raises(InvalidRequest, match="created"):
            store.append(source, pa.table({"driver_id": pa.array([9], pa.int64()), "ts": _stamps([5]), "amount": [99]}))
        latest = store.pull_latest(view, at(0), at(9)).read_all().sort_by("driver_id")
        entities = pa.table({"driver_id": pa.array([1, 1, 3, 9], pa.int64()), "event_timestamp": _stamps([2, 5, 5, 5])})
        joined = store.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, "pushed", view.features)])
    finally:
        next(gen, None)
    assert latest.column("driver_id").to_pylist() == [1, 2, 3]
    assert latest.column("amount").to_pylist() == [11, 20, 30]
    assert latest.column("event_ts").to_pylist() == [at(4), at(1), at(2)]
    assert joined.column("pushed__amount").to_pylist() == [10, 11, 30, None]  # driver 9 was never written


QUERIES = {
    "duckdb": "SELECT driver_id, value FROM '{name}.parquet' WHERE value > 10 ORDER BY driver_id",
    "postgres": 'SELECT driver_id, value FROM "{name}" WHERE value > 10 ORDER BY driver_id',
    "spark": "SELECT driver_id, value FROM parquet.`{folder}/{name}.parquet` WHERE value > 10 ORDER BY driver_id",
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_query_runs_in_the_stores_own_dialect(backend: str) -> None:
    """``query`` (an ``entity_df`` given as SQL) returns every row the SQL selects, in its order, as Arrow;
    a failing query is a ladle error naming what was asked for."""
    rows = pa.table(
        {
            "driver_id": pa.array([3, 1, 2], pa.int64()),
            "ts": _stamps([1, 2, 3]),
            "created": _stamps([None, None, None]),
            "value": pa.array([30, 10, 20], pa.int64()),
        }
    )
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        source = make(f"queried_{uuid.uuid4().hex[:6]}", rows, False)
        got = store.query(QUERIES[backend].format(name=source.name, folder=store.repo_path))
        with pytest.raises(LadleError, match="no_such_table_xyz"):
            store.query("SELECT * FROM no_such_table_xyz")
    finally:
        next(gen, None)
    assert got.column_names == ["driver_id", "value"]
    assert got.column("driver_id").to_pylist() == [2, 3]
    assert got.column("value").to_pylist() == [20, 30]
    assert pa.types.is_integer(got.schema.field("value").type)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_pull_all_returns_every_row_in_the_bounds_under_mapped_names(backend: str) -> None:
    """``pull_all`` (what a windowed view's online state is loaded from): every row with start <= ts <= end, both
    bounds inclusive and optional, the requested columns under their mapped names."""
    rows = pa.table(
        {
            "driver_id": pa.array([1, 1, 2, 3], pa.int64()),
            "ts": _stamps([1, 2, 3, 4]),
            "created": _stamps([None, None, None, None]),
            "value": pa.array([10, 11, 20, 30], pa.int64()),
        }
    )
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        source = make(f"pulled_{uuid.uuid4().hex[:6]}", rows, False)
        source.field_mapping = {"value": "amount"}
        bounded = store.pull_all(source, ["driver_id", "amount", "ts"], at(2), at(3))
        everything = store.pull_all(source, ["driver_id", "amount"], None, None)
    finally:
        next(gen, None)
    assert bounded.column_names == ["driver_id", "amount", "ts"]
    assert sorted(zip(bounded.column("driver_id").to_pylist(), bounded.column("amount").to_pylist(), strict=True)) == [
        (1, 11),
        (2, 20),
    ]
    assert sorted(everything.column("amount").to_pylist()) == [10, 11, 20, 30]

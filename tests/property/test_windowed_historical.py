"""Property tests: windowed aggregates in training sets equal a brute-force reference of the rules
(tests/window_reference.py), on every offline store that computes them (duckdb, postgres, spark).

The rule: for an entity row (key k, time t) and an aggregation over window W, the events of k with
t - W < ts <= t, nulls skipped; empty windows give count/count_distinct 0 and null otherwise; std/var are
sample statistics; first/last order events by (event time, created present, created time, value). Random
events with duplicate timestamps, events exactly at window edges, nulls, keys without events, several windows
and every function. The reference evaluator w-online serves from (ladle.windows.evaluate) is checked too.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import window_reference
from conformance.test_offline_store import BACKENDS as PIT_BACKENDS
from ladle.definitions import Aggregation, BatchFeatureView, DataSource, Entity, PostgreSQLSource
from ladle.offline.base import OfflineStore, ViewRequest
from ladle.windows import evaluate, window_specs
from ladle.windows.offline import windowed_join
from ladle.windows.validate import check_windowed_view
from services import PG_DSN, postgres_admin
from window_reference import FUNCTIONS, Event, at, entity_rows, events, reference, same, windows

EXAMPLES = {"duckdb": 60, "postgres": 25, "spark": 3}
UTC = pa.timestamp("us", tz="UTC")
UTC_TZ = timezone.utc


def _postgres() -> Iterator[tuple[OfflineStore, Callable[[str, pa.Table, bool], DataSource]]]:
    """A PostgreSQL offline store over a fresh schema; sources are tables with a float ``value`` column."""
    from ladle.offline.postgres import PostgreSQLOfflineStore, PostgreSQLOfflineStoreConfig

    admin = postgres_admin()
    schema = f"ladle_win_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')

    def make(name: str, rows: pa.Table, has_created: bool) -> DataSource:
        admin.execute(
            f'CREATE TABLE "{schema}"."{name}" (driver_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, value FLOAT8)'
        )
        with admin.cursor() as cur, cur.copy(f'COPY "{schema}"."{name}" FROM STDIN') as copy:
            for row in rows.to_pylist():
                copy.write_row([row["driver_id"], row["ts"], row["created"], row["value"]])
        return PostgreSQLSource(
            name=name, table=name, timestamp_field="ts", created_timestamp_column="created" if has_created else None
        )

    try:
        store = PostgreSQLOfflineStore(PostgreSQLOfflineStoreConfig(dsn=PG_DSN, db_schema=schema), Path("."))
        yield store, make
        store.close()
    finally:  # never leak the admin connection (hypothesis runs this once per example)
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


BACKENDS = {**PIT_BACKENDS, "postgres": _postgres}


def _events_table(evs: list[Event]) -> pa.Table:
    return pa.table(
        {
            "driver_id": pa.array([e.key for e in evs], pa.int64()),
            "ts": pa.array([at(e.ts) for e in evs], UTC),
            "created": pa.array([None if e.created is None else at(e.created) for e in evs], UTC),
            "value": pa.array([e.value for e in evs], pa.float64()),
        }
    )


def _view(source, wins: list[int]) -> BatchFeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    aggs = [Aggregation("value", fn, timedelta(seconds=w)) for w in wins for fn, _ in FUNCTIONS]
    view = BatchFeatureView(name="w", entities=[driver], source=source, aggregations=aggs)
    view.bind_entities({"driver": driver})
    check_windowed_view(view, {"driver_id": pa.int64(), "ts": UTC, "created": UTC, "value": pa.float64()})
    return view


def _check(backend: str, evs: list[Event], ents: list[tuple[int, int]], wins: list[int], has_created: bool) -> None:
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        source = make(f"w_{uuid.uuid4().hex[:6]}", _events_table(evs), has_created)
        view = _view(source, wins)
        entities = pa.table(
            {
                "driver_id": pa.array([k for k, _ in ents], pa.int64()),
                "event_timestamp": pa.array([at(t) for _, t in ents], UTC),
            }
        )
        req = ViewRequest(view, view.name, list(view.features))
        got = windowed_join(store, entities, "event_timestamp", [req])
    finally:
        next(gen, None)
    outputs = {name: agg for agg, name, _ in view.aggregation_outputs()}
    for name, agg in outputs.items():
        assert agg.time_window is not None
        w = int(agg.time_window.total_seconds())
        column = got[f"{view.name}__{name}"].to_pylist()
        for r, (key, t) in enumerate(ents):
            want = reference(evs, key, t, w, agg.function, has_created)
            assert same(column[r], want), f"{backend} {name} row {r} (key={key}, t={t}): got {column[r]}, want {want}"


def _settings(backend: str):  # type: ignore[no-untyped-def]
    return settings(max_examples=EXAMPLES[backend], deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("backend", ["duckdb", "duckdb-framed", "postgres", "spark"])
def test_windowed_join_matches_reference(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every windowed value of every entity row equals the brute-force rule, on this backend (DuckDB twice: keys
    whose rows x events are few join their events directly, others are framed; ``-framed`` frames every key)."""
    if backend == "duckdb-framed":
        import ladle.windows.offline_duckdb as offline_duckdb

        monkeypatch.setattr(offline_duckdb, "FRAME_COST", 0)
        backend = "duckdb"

    @_settings(backend)
    @given(evs=events, ents=entity_rows, wins=windows, has_created=st.booleans())
    def run(evs: list[Event], ents: list[tuple[int, int]], wins: list[int], has_created: bool) -> None:
        _check(backend, evs, ents, wins, has_created)

    run()


#: values with fractions and magnitudes of real data, exact in binary and in 15 decimal digits
_real_values = st.integers(-(10**9), 10**9).map(lambda i: i / 1024)


@pytest.mark.parametrize("backend", ["postgres"])
def test_postgres_sums_real_values_exactly(backend: str) -> None:
    """PostgreSQL frames float sum/avg/std/var over numeric (so they slide instead of re-reading each frame):
    fractions and large magnitudes still give the reference's values."""

    @_settings(backend)
    @given(
        evs=st.lists(
            st.builds(Event, key=st.integers(1, 2), ts=st.integers(0, 40), created=st.none(), value=_real_values),
            max_size=30,
        ),
        ents=entity_rows,
        wins=windows,
    )
    def run(evs: list[Event], ents: list[tuple[int, int]], wins: list[int]) -> None:
        _check(backend, evs, ents, wins, False)

    run()


@pytest.mark.services
@pytest.mark.parametrize(
    "base",
    [datetime(1969, 12, 31, 23, 59, 47, tzinfo=UTC_TZ), datetime(2026, 3, 1, 0, 0, 7, 3, tzinfo=UTC_TZ)],
    ids=["before-1970", "off-the-second"],
)
def test_postgres_min_max_blocks_fall_anywhere(base: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's min/max split each window at multiples of its length counted from 1970 (the module
    docstring of ladle.windows.offline_postgres): events and entity rows before 1970 and off the second put
    window edges anywhere within those blocks, and the values are still the reference's."""
    monkeypatch.setattr(window_reference, "BASE", base)

    @_settings("postgres")
    @given(evs=events, ents=entity_rows, wins=windows, has_created=st.booleans())
    def run(evs: list[Event], ents: list[tuple[int, int]], wins: list[int], has_created: bool) -> None:
        _check("postgres", evs, ents, wins, has_created)

    run()


@pytest.mark.services
def test_postgres_windows_carry_nan_and_infinities() -> None:
    """A NaN in the window makes sum/mean/std/var NaN, an infinity makes sum infinite, as in IEEE floats; once
    they leave the window the values are finite again (the sliding frame removes them)."""
    gen = _postgres()
    store, make = next(gen)
    try:
        nan, inf = float("nan"), float("inf")
        evs = [Event(1, 0, None, 1.0), Event(1, 1, None, nan), Event(1, 2, None, 2.0), Event(1, 3, None, inf)]
        evs += [Event(1, 4, None, 4.0), Event(1, 5, None, 8.0)]
        view = _view(make(f"w_{uuid.uuid4().hex[:6]}", _events_table(evs), False), [2])
        times = [0, 1, 2, 3, 4, 5, 6]
        entities = pa.table(
            {
                "driver_id": pa.array([1] * len(times), pa.int64()),
                "event_timestamp": pa.array([at(t) for t in times], UTC),
            }
        )
        got = windowed_join(store, entities, "event_timestamp", [ViewRequest(view, view.name, list(view.features))])
    finally:
        next(gen, None)
    names = {agg.function: name for agg, name, _ in view.aggregation_outputs()}
    sums = got[f"w__{names['sum']}"].to_pylist()
    means = got[f"w__{names['avg']}"].to_pylist()
    assert sums[0] == 1.0 and math.isnan(sums[1]) and math.isnan(sums[2])  # (t-2, t]: NaN in the frames at 1, 2
    assert sums[3:] == [inf, inf, 12.0, 8.0]  # inf at 3 and 4; at 5 the frame is (3, 5]
    assert math.isnan(means[1]) and means[5] == 6.0


def test_window_edges_worked_example() -> None:
    """(t - W, t]: an event exactly W before t is out, one at t is in; ties broken by created, then value."""
    evs = [
        Event(1, 0, None, 1.0),
        Event(1, 10, 2, 5.0),
        Event(1, 10, 1, 7.0),
        Event(1, 10, None, 9.0),
        Event(1, 20, None, None),
        Event(2, 10, None, 4.0),
    ]
    assert reference(evs, 1, 10, 10, "count", True) == 3
    assert reference(evs, 1, 10, 10, "last", True) == 5.0  # created 2 is the newest
    assert reference(evs, 1, 10, 10, "first", True) == 9.0  # a missing created sorts first
    assert reference(evs, 1, 10, 10, "last", False) == 9.0  # without created: the largest value
    assert reference(evs, 1, 20, 10, "count", True) == 0  # the null at 20 is skipped; 10 is on the edge
    assert reference(evs, 1, 20, 10, "sum", True) is None
    assert reference(evs, 3, 20, 10, "count_distinct", True) == 0
    _check("duckdb", evs, [(1, 10), (1, 20), (1, 9), (2, 10), (3, 5)], [10, 11], True)


@settings(max_examples=60, deadline=None)
@given(evs=events, ents=entity_rows, wins=windows, has_created=st.booleans())
def test_reference_evaluator_matches_reference(
    evs: list[Event], ents: list[tuple[int, int]], wins: list[int], has_created: bool
) -> None:
    """``ladle.windows.evaluate`` (what online reads compute from state) follows the same rule."""
    from ladle.definitions import FileSource

    view = _view(FileSource(name="w", path="w.parquet", timestamp_field="ts"), wins)
    specs = window_specs(view)
    for key, t in ents:
        mine = [e for e in evs if e.key == key]
        got = evaluate(
            specs, _events_table(mine), at(t), timestamp_field="ts", created_field="created" if has_created else None
        )
        for agg, name, _ in view.aggregation_outputs():
            assert agg.time_window is not None
            want = reference(evs, key, t, int(agg.time_window.total_seconds()), agg.function, has_created)
            assert same(got[name], want), f"{name} (key={key}, t={t}): got {got[name]}, want {want}"

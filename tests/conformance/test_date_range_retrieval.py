"""Entity-less retrieval by date range (``get_historical_features(features=..., start_date=, end_date=)``) on
every offline store (DuckDB, PostgreSQL, Spark), against a brute-force reference: the rows are every distinct
(key, event time) of the views' data inside the range, in time order, and each carries every view's value
as the point-in-time rules give it at that time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_offline_store import BACKENDS, EXAMPLES, build

from conftest import examples
from ladle.offline.base import ViewRequest
from ladle.retrieval.date_range import range_entity_rows
from ladle.retrieval.feature_refs import ResolvedFeatures
from ladle.retrieval.historical import historical_job
from pit_reference import ViewSpec, at, reference, view_spec

keyed_spec = view_spec.map(lambda s: ViewSpec(s.rows, s.ttl_hours, s.has_created, keyed=True))


def expected_rows(specs: list[ViewSpec], start: int, end: int) -> list[tuple[int, int]]:
    """Distinct (key, ts hour) of every view's rows with start <= ts <= end, ordered by time then key."""
    found = {(k, t) for s in specs for k, t, _, _ in s.rows if start <= t <= end}
    return sorted(found, key=lambda r: (r[1], r[0]))


def check(backend: str, specs: list[ViewSpec], start: int, end: int) -> None:
    gen = BACKENDS[backend]()
    store, make = next(gen)
    try:
        views = [build(i, s, make) for i, s in enumerate(specs)]
        resolved = ResolvedFeatures(
            views=[ViewRequest(v, v.name, list(v.features)) for v in views],
            on_demand=[],
            outputs=[(v.name, "value", f"{v.name}__value") for v in views],
            full_feature_names=True,
        )
        rows = range_entity_rows(store, resolved, at(start), at(end))
        result = historical_job(store, resolved, rows, key_types=resolved.key_arrow_types()).to_arrow()
    finally:
        next(gen, None)
    want = expected_rows(specs, start, end)
    got = list(zip(result.column("driver_id").to_pylist(), result.column("event_timestamp").to_pylist(), strict=True))
    assert got == [(k, at(t)) for k, t in want], backend
    for i, spec in enumerate(specs):
        values = result.column(f"v{i}__value").to_pylist()
        for r, (key, ts) in enumerate(want):
            assert values[r] in reference(spec, key, ts, False), (backend, i, r)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_date_range_retrieval_matches_reference(backend: str) -> None:
    @settings(
        max_examples=examples(EXAMPLES.get(backend, 25)),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        deadline=None,
    )
    @given(
        specs=st.lists(keyed_spec, min_size=1, max_size=2),
        start=st.integers(-1, 8),
        span=st.integers(0, 8),
    )
    def run(specs: list[ViewSpec], start: int, span: int) -> None:
        check(backend, specs, start, start + span)

    run()


def test_defaults_follow_feast() -> None:
    """end_date defaults to now; start_date to end minus the largest ttl, else 30 days."""
    from datetime import UTC, datetime

    from ladle.definitions import Entity, FeatureView, Field, FileSource
    from ladle.retrieval.date_range import date_range
    from ladle.types import Int64

    driver = Entity(name="driver", join_keys=["driver_id"])
    src = FileSource(name="s", path="s.parquet", timestamp_field="ts")

    def view(name: str, ttl: timedelta | None) -> ViewRequest:
        fv = FeatureView(name=name, entities=[driver], schema=[Field(name="x", dtype=Int64)], source=src, ttl=ttl)
        return ViewRequest(fv, name, list(fv.features))

    now = datetime(2026, 5, 1, tzinfo=UTC)
    both = [view("a", timedelta(hours=2)), view("b", timedelta(days=1))]
    assert date_range(both, None, None, now) == (now - timedelta(days=1), now)
    assert date_range([view("c", None)], None, None, now) == (now - timedelta(days=30), now)
    assert date_range(both, now - timedelta(hours=5), None, now) == (now - timedelta(hours=5), now)
    end = datetime(2026, 1, 1)  # naive: UTC
    assert date_range(both, None, end, now) == (end.replace(tzinfo=UTC) - timedelta(days=1), end.replace(tzinfo=UTC))

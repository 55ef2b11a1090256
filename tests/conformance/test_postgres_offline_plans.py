"""PostgreSQL offline store: the two point-in-time plans (stacked window, index probe) and when each is used.

The window plan is what every other offline test runs (their tables have no index); here the same random
cases are also run through the index-probing plan on an indexed copy, and both must match the brute-force
reference of tests/pit_reference.py. The catalog check is tested on its own: an index led by (join keys,
timestamp) is found, one in another order or on other columns is not, and a ``query=`` source never is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import offline_backend
from ladle.definitions import Entity, FeatureView, Field, PostgreSQLSource
from ladle.offline.base import ViewRequest
from ladle.types import Int64
from pit_reference import ViewSpec, at, entity_rows, reference, view_spec

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def backend() -> Iterator[Any]:
    with offline_backend("postgres") as b:
        yield b


def _table(backend: Any, spec: ViewSpec, index: str | None) -> str:
    """A table holding ``spec``'s rows, with ``CREATE INDEX ... (index)`` when given."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    admin, schema = backend.admin, backend.schema
    admin.execute(
        f'CREATE TABLE "{schema}"."{name}" (driver_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, value BIGINT)'
    )
    with admin.cursor() as cur, cur.copy(f'COPY "{schema}"."{name}" FROM STDIN') as copy:
        for k, t, c, v in spec.rows:
            copy.write_row((k, at(t), at(c) if c is not None and spec.has_created else None, v))
    if index:
        admin.execute(f'CREATE INDEX ON "{schema}"."{name}" ({index})')
    admin.execute(f'ANALYZE "{schema}"."{name}"')
    return name


def _view(spec: ViewSpec, table: str | None = None, query: str | None = None) -> FeatureView:
    driver = Entity(name="driver", join_keys=["driver_id"])
    fv = FeatureView(
        name=f"v_{uuid.uuid4().hex[:6]}",
        entities=[driver] if spec.keyed else [],
        ttl=timedelta(hours=spec.ttl_hours) if spec.ttl_hours else None,
        schema=[Field(name="value", dtype=Int64)],
        source=PostgreSQLSource(
            name=f"s_{uuid.uuid4().hex[:6]}",
            table=table,
            query=query,
            timestamp_field="ts",
            created_timestamp_column="created" if spec.has_created else None,
        ),
    )
    fv.bind_entities({"driver": driver})
    return fv


def _entities(rows: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {
            "driver_id": pa.array([k for k, _ in rows], pa.int64()),
            "event_timestamp": pa.array([at(t) for _, t in rows], pa.timestamp("us", tz="UTC")),
        }
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=view_spec, ents=entity_rows, filter_created=st.booleans())
def test_both_plans_match_the_reference(
    backend: Any, spec: ViewSpec, ents: list[tuple[int, int]], filter_created: bool, monkeypatch: Any
) -> None:
    import ladle.offline.postgres as pg

    store = backend.store
    view = _view(spec, table=_table(backend, spec, "driver_id, ts"))
    req = ViewRequest(view, view.name, list(view.features))
    with monkeypatch.context() as m:
        m.setattr(pg, "LATERAL_MAX_FRACTION", 1e9)  # any entity count: probe when the index allows
        with store._connect("test") as conn:
            assert store._lateral_pays(conn, req, len(ents)) == (spec.keyed and bool(spec.rows))
        probed = store.point_in_time_join(_entities(ents), "event_timestamp", [req], filter_created)
    sorted_out = store.point_in_time_join(_entities(ents), "event_timestamp", [req], filter_created)
    for plan in (probed, sorted_out):
        got = plan.column(req.output_name("value")).to_pylist()
        for (key, ts), value in zip(ents, got, strict=True):
            assert value in reference(spec, key, ts, filter_created), (key, ts, value)


@pytest.mark.parametrize(
    ("index", "usable"),
    [("driver_id, ts", True), ("driver_id, ts, value", True), ("ts, driver_id", False), ("driver_id", False)],
)
def test_an_index_is_used_only_when_led_by_the_keys_then_the_timestamp(backend: Any, index: str, usable: bool) -> None:
    spec = ViewSpec(
        rows=[(k, h, None, k) for k in range(50) for h in range(20)], ttl_hours=None, has_created=False, keyed=True
    )
    view = _view(spec, table=_table(backend, spec, index))
    req = ViewRequest(view, view.name, list(view.features))
    with backend.store._connect("test") as conn:
        assert backend.store._lateral_pays(conn, req, 5) is usable  # 5 entity rows <= 1% of 1,000 table rows
        assert backend.store._lateral_pays(conn, req, 150) is usable  # a cached table: up to 20% of its rows
        assert backend.store._lateral_pays(conn, req, 500) is False  # too many entity rows: the sort is cheaper


def test_a_query_source_always_takes_the_window_plan(backend: Any) -> None:
    spec = ViewSpec(
        rows=[(1, 1, None, 10), (1, 3, None, 30), (2, 2, None, 20)], ttl_hours=None, has_created=False, keyed=True
    )
    table = _table(backend, spec, "driver_id, ts")
    view = _view(spec, query=f'SELECT * FROM "{table}"')
    req = ViewRequest(view, view.name, list(view.features))
    with backend.store._connect("test") as conn:
        assert backend.store._lateral_pays(conn, req, 1) is False
    out = backend.store.point_in_time_join(_entities([(1, 2), (1, 5), (2, 1), (3, 4)]), "event_timestamp", [req])
    assert out.column(req.output_name("value")).to_pylist() == [10, 30, None, None]


def test_the_key_filter_is_skipped_only_when_the_entity_rows_hold_nearly_every_key(backend: Any) -> None:
    spec = ViewSpec(
        rows=[(k, h, None, k * 100 + h) for k in range(50) for h in range(4)],
        ttl_hours=None,
        has_created=False,
        keyed=True,
    )
    view = _view(spec, table=_table(backend, spec, None))
    req = ViewRequest(view, view.name, list(view.features))
    few, all_keys = _entities([(1, 9), (2, 9)]), _entities([(k, 2) for k in range(50)])
    with backend.store._connect("test") as conn:
        assert backend.store._key_filter_pays(conn, req, few) is True
        assert backend.store._key_filter_pays(conn, req, all_keys) is False
    for ents, want in ((few, [103, 203]), (all_keys, [k * 100 + 2 for k in range(50)])):
        out = backend.store.point_in_time_join(ents, "event_timestamp", [req])
        assert out.column(req.output_name("value")).to_pylist() == want


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(view_spec, min_size=2, max_size=3), ents=entity_rows, filter_created=st.booleans())
def test_several_views_in_one_call_each_match_the_reference(
    backend: Any, specs: list[ViewSpec], ents: list[tuple[int, int]], filter_created: bool
) -> None:
    """The sort plan over plain tables, several views sharing one upload of the entity rows."""
    views = [_view(spec, table=_table(backend, spec, None)) for spec in specs]
    reqs = [ViewRequest(view, view.name, list(view.features)) for view in views]
    out = backend.store.point_in_time_join(_entities(ents), "event_timestamp", reqs, filter_created)
    assert out.num_rows == len(ents)
    for spec, req in zip(specs, reqs, strict=True):
        got = out.column(req.output_name("value")).to_pylist()
        for (key, ts), value in zip(ents, got, strict=True):
            assert value in reference(spec, key, ts, filter_created), (req.name, key, ts, value)

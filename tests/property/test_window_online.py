"""Online windowed aggregates equal the brute-force reference (:func:`ladle.windows.functions.evaluate`).

Random events (ties at window edges, duplicate timestamps told apart by created time, nulls, keys without
events, two windows, every function) are written to real window state — SQLite and Redis — as pushes
would write them, some of them twice (replays); the value read at ``at`` for every key must equal the
reference over that key's distinct events.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ladle.definitions import Entity, Field, FileSource, PushSource
from ladle.definitions.aggregation import Aggregation
from ladle.definitions.stream_feature_view import StreamFeatureView
from ladle.online.base import OnlineStore, ViewRead
from ladle.online.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig
from ladle.types import Float64, Int64, String
from ladle.windows import online_eval
from ladle.windows.functions import evaluate
from ladle.windows.serving import WindowServing
from ladle.windows.spec import window_specs
from ladle.windows.state_catalog import window_state_of

AT = datetime.now(UTC).replace(microsecond=0)
M = timedelta(minutes=1)
FUNCTIONS = [
    ("x", "sum"), ("x", "count"), ("x", "mean"), ("x", "min"), ("x", "max"), ("x", "std"), ("x", "var"),
    ("x", "first"), ("x", "last"), ("x", "last_3"), ("n", "sum"), ("n", "count_distinct"), ("n", "first_2"),
    ("s", "count_distinct"), ("s", "last"), ("s", "min"),
]  # fmt: skip


def _view() -> StreamFeatureView:
    batch = FileSource(name="ev", path="ev.parquet", timestamp_field="ts", created_timestamp_column="cr")
    push = PushSource(
        name="ev_push",
        batch_source=batch,
        schema=[Field(name="x", dtype=Float64), Field(name="n", dtype=Int64), Field(name="s", dtype=String)],
    )
    aggs = [
        Aggregation(column=c, function=f, time_window=w * M, name=f"{f}_{c}_{w}")
        for c, f in FUNCTIONS
        for w in (10, 30)
    ]
    return StreamFeatureView(
        name="ev", entities=[Entity(name="k", join_keys=["k"])], ttl=timedelta(hours=1), source=push, aggregations=aggs
    )


VIEW = _view()
SPECS = window_specs(VIEW)

event = st.tuples(
    st.integers(0, 3),  # key (key 4 never has events)
    st.sampled_from([0, 1, 5, 10, 11, 29, 30, 31, 45]),  # minutes before AT: 10 and 30 are window edges
    st.one_of(st.none(), st.integers(0, 2)),  # created, seconds after the event (or none)
    st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 2.25, 7.0])),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
)


def _table(events: list[tuple[Any, ...]]) -> pa.Table:
    ts = [AT - m * M for _, m, _, _, _, _ in events]
    return pa.table(
        {
            "k": pa.array([e[0] for e in events], pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "cr": pa.array(
                [None if e[2] is None else t + timedelta(seconds=e[2]) for t, e in zip(ts, events, strict=True)],
                pa.timestamp("us", tz="UTC"),
            ),
            "x": pa.array([e[3] for e in events], pa.float64()),
            "n": pa.array([e[4] for e in events], pa.int64()),
            "s": pa.array([e[5] for e in events], pa.string()),
        }
    )


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _redis(tmp_path: Path) -> OnlineStore:
    pytest.importorskip("redis")
    from ladle.online.redis import RedisOnlineStore, RedisOnlineStoreConfig

    return RedisOnlineStore(RedisOnlineStoreConfig(connection_string="127.0.0.1:6379"), tmp_path)


@pytest.mark.parametrize("path", ["python", "numpy"])
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_online_windows_equal_the_reference(
    backend: str, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both evaluators (plain Python for a few events, numpy beyond ``SMALL``) on both stores."""
    monkeypatch.setattr(online_eval, "SMALL", 10_000 if path == "python" else -1)
    online = (
        SqliteOnlineStore(SqliteOnlineStoreConfig(path="online.db"), tmp_path)
        if backend == "sqlite"
        else _redis(tmp_path)
    )
    serving = WindowServing(window_state_of(online))
    at_us = int(AT.timestamp()) * 1_000_000

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(event, max_size=40), st.lists(st.integers(0, 39), max_size=8))
    # one time, created times missing and present: a missing created time sorts first
    @example([(0, 5, None, 1.0, 1, "a"), (0, 5, 1, 2.0, 2, "b"), (0, 5, None, 3.0, 0, "c")], [1])
    def check(events: list[tuple[Any, ...]], replayed: list[int]) -> None:
        project = f"p{uuid.uuid4().hex[:8]}"
        rows = _table(events)
        serving.add_rows(project, VIEW, rows, "test", now_us=at_us)
        again = [i for i in replayed if i < len(events)]
        if again:
            serving.add_rows(project, VIEW, rows.take(again), "replay", now_us=at_us)
        keys = pa.table({"k": pa.array([0, 1, 2, 3, 4, 2], pa.int64())})
        got = serving.read(project, ViewRead(VIEW, keys, [s.name for s in SPECS]), at_us).to_pydict()
        for i, key in enumerate(keys.column("k").to_pylist()):
            # the reference over the key's distinct events (a replayed identical event is one event)
            distinct = list(dict.fromkeys(e for e in events if e[0] == key))
            expected = evaluate(SPECS, _table(distinct), AT, timestamp_field="ts", created_field="cr")
            for spec in SPECS:
                assert _close(got[spec.name][i], expected[spec.name]), (spec.name, key, distinct)
        serving.state.drop(project, VIEW.name)

    try:
        check()
    finally:
        online.close()

"""Streamed materialization: the latest-per-key rows reach the online store in ``batch_size`` chunks, and the online
state is the same whatever the chunk size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ladle.ingest.materialize import expected_rows, in_batches
from ladle.offline.base import ROW_COUNT
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)
KEYS = 40

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=1),
    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64), Field(name="city", dtype=String)],
    source=FileSource(name="src", path="data/stats.parquet", timestamp_field="ts", created_timestamp_column="created"),
)
"""


def _yaml(batch_size: int | None) -> str:
    engine = f"batch_engine:\n  batch_size: {batch_size}\n" if batch_size else ""
    return (
        "project: chunks\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online_store.db\noffline_store:\n  type: duckdb\n" + engine
    )


def _source(path: Path) -> None:
    """Rows with ties on the event timestamp (broken by created), nulls, and -0.0."""
    rng = np.random.default_rng(3)
    n = 400
    minutes = rng.integers(1, 60, n)
    ts = [NOW - timedelta(minutes=int(m)) for m in minutes]
    rate = rng.random(n)
    rate[rng.random(n) < 0.1] = np.nan
    rate[:5] = -0.0
    utc = pa.timestamp("us", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array(rng.integers(0, KEYS, n)),
                "ts": pa.array(ts, utc),
                "created": pa.array(
                    [t + timedelta(seconds=int(s)) for t, s in zip(ts, rng.integers(0, 5, n), strict=True)], utc
                ),
                "rate": pa.array(rate, from_pandas=True),
                "trips": pa.array(rng.integers(0, 100, n)),
                "city": pa.array([f"c{i % 7}" for i in range(n)]),
            }
        ),
        path,
    )


def _store(make_repo: Any, name: str, batch_size: int | None) -> FeatureStore:
    repo = make_repo({"features.py": REPO}, yaml=_yaml(batch_size), name=name)
    _source(repo / "data" / "stats.parquet")
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    return store


def _online(store: FeatureStore) -> dict[str, list[Any]]:
    keys = list(range(KEYS + 2))
    return store.get_online_features(
        ["stats:rate", "stats:trips", "stats:city"], {"driver_id": keys}, full_feature_names=True
    ).to_dict()


def test_tiny_chunks_give_the_same_online_state_as_one_chunk(make_repo: Any) -> None:
    one, tiny = _store(make_repo, "one", None), _store(make_repo, "tiny", 3)
    calls: list[tuple[str, int, int]] = []
    start, end = NOW - timedelta(days=1), NOW
    [whole] = one.materialize(start, end)
    [chunked] = tiny.materialize(start, end, progress=lambda *a: calls.append(a))
    assert whole.rows == chunked.rows == KEYS  # every key has rows in the last hour
    assert _online(one) == _online(tiny)
    signs = [np.signbit(v) for v in _online(tiny)["stats__rate"] if v == 0.0]
    assert signs == [np.signbit(v) for v in _online(one)["stats__rate"] if v == 0.0]
    # progress: the announced total first, then one report per chunk of 3, ending at the total
    assert calls[0] == ("stats", 0, KEYS)
    assert [c[1] for c in calls[1:]] == [*range(3, KEYS, 3), KEYS]
    assert all(c[2] == KEYS for c in calls)
    # idempotent: again in tiny chunks, the same state
    tiny.materialize(start, end)
    assert _online(tiny) == _online(one)


def test_in_batches_rechunks_without_losing_or_reordering_rows() -> None:
    schema = pa.schema([("x", pa.int64())])
    sizes = [5, 0, 7, 1, 4]
    values = iter(range(sum(sizes)))
    batches = [pa.record_batch([pa.array([next(values) for _ in range(s)], pa.int64())], schema=schema) for s in sizes]
    reader = pa.RecordBatchReader.from_batches(schema, iter(batches))
    tables = list(in_batches(reader, 4))
    assert [t.num_rows for t in tables] == [4, 4, 4, 4, 1]
    assert [v for t in tables for v in t.column("x").to_pylist()] == list(range(17))
    empty = pa.RecordBatchReader.from_batches(schema, iter([]))
    assert list(in_batches(empty, 4)) == []


def test_row_count_announced_by_the_duckdb_reader(make_repo: Any) -> None:
    store = _store(make_repo, "count", None)
    view = store.get_feature_view("stats")
    reader = store.offline_store.pull_latest(view, NOW - timedelta(days=1), NOW)
    assert expected_rows(reader.schema) == KEYS
    assert reader.read_all().num_rows == KEYS
    assert expected_rows(pa.schema([("x", pa.int64())])) is None
    assert expected_rows(pa.schema([("x", pa.int64())], metadata={ROW_COUNT: b"oops"})) is None

"""Late data: rows whose event time is older than the last ``materialize-incremental`` run.

A new drop of older events must reach the online store on the next incremental run where it is newer than
what the store holds (found by the created timestamp, or, without one, by noticing that rows were added
before the last run's end), and must not replace newer values. Before this, the run reported 0 rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="src", path="data/stats", timestamp_field="ts"{created})
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=2),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)], source=src,
)
"""


def write(repo: Path, name: str, rows: list[tuple[int, datetime, float]], created: datetime | None) -> None:
    folder = repo / "data/stats"
    folder.mkdir(parents=True, exist_ok=True)
    columns: dict[str, object] = {
        "driver_id": pa.array([r[0] for r in rows], pa.int64()),
        "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "rate": pa.array([r[2] for r in rows], pa.float64()),
    }
    if created is not None:
        columns["created"] = pa.array([created] * len(rows), pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table(columns), folder / name)


def online_rate(store: FeatureStore, driver: int) -> float | None:
    value = store.get_online_features(["stats:rate"], [{"driver_id": driver}]).to_dict()["rate"][0]
    return None if value is None or pd.isna(value) else float(value)


@pytest.mark.parametrize("with_created", [True, False], ids=["created-timestamp", "no-created-column"])
def test_late_rows_are_picked_up_by_the_next_incremental_run(make_repo, with_created: bool) -> None:
    repo = make_repo({"features.py": REPO.format(created=', created_timestamp_column="created"' * with_created)})
    created = (NOW - timedelta(hours=3)) if with_created else None
    write(repo, "a.parquet", [(1, NOW - timedelta(hours=2), 1.0), (2, NOW - timedelta(hours=5), 2.0)], created)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    first = store.materialize_incremental(NOW - timedelta(hours=1))
    assert sum(r.rows for r in first) == 2
    assert online_rate(store, 1) == 1.0 and online_rate(store, 2) == 2.0 and online_rate(store, 3) is None

    # a new drop of older events (event time before the last run's end), created after that run
    late_created = (NOW - timedelta(minutes=30)) if with_created else None
    late = [
        (2, NOW - timedelta(hours=4), 20.0),  # newer than what driver 2 holds: must replace it
        (3, NOW - timedelta(hours=3), 30.0),  # a key the store has never seen
        (1, NOW - timedelta(hours=6), 10.0),  # older than driver 1's value: must not replace it
    ]
    write(repo, "b.parquet", late, late_created)
    second = FeatureStore(repo_path=repo).materialize_incremental(NOW)
    assert sum(r.rows for r in second) >= 2  # reported 0 before late data was handled
    assert online_rate(store, 1) == 1.0
    assert online_rate(store, 2) == 20.0
    assert online_rate(store, 3) == 30.0

    # nothing new: the next run finds no late rows and writes nothing
    third = FeatureStore(repo_path=repo).materialize_incremental(NOW)
    assert sum(r.rows for r in third) == 0

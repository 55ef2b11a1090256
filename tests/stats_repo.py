"""A small feature repo shared by the saved-dataset and reproduce tests: one view over a parquet file of
driver stats, a feature service, and the rows it starts with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

NOW = datetime(2026, 6, 1, tzinfo=UTC)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureService, FeatureView, Field, FileSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=3),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
)
model = FeatureService(name="model", features=[stats[["rate"]]])
"""


def h(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def write_stats(path: Path, rows: list[tuple[int, datetime, float, int]]) -> None:
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([r[0] for r in rows], pa.int64()),
                "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
                "rate": pa.array([r[2] for r in rows], pa.float64()),
                "trips": pa.array([r[3] for r in rows], pa.int64()),
            }
        ),
        path,
    )


ROWS = [(1, h(10), 0.1, 1), (1, h(5), 0.5, 5), (2, h(8), 0.8, 8), (3, h(100), 0.3, 3)]

"""A feature repo for the operating-loop tests: one view reading ``<root>/driver_stats/latest``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

NOW = datetime.now(UTC).replace(microsecond=0)

FEATURES = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days={ttl_days}),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float32), Field(name="trips", dtype=Int64)],
    source=FileSource(name="stats_src", path={path!r}, timestamp_field="ts"{extra}),
)
"""

YAML = """\
project: {project}
registry: {registry}
provider: local
online_store:
{online}
offline_store:
  type: duckdb
{offline}feature_sets:
  root: {root}
{root_extra}"""

SQLITE_ONLINE = "  type: sqlite\n  path: data/online_store.db"


def build(drivers: list[int], rate: float, trips: int, hours_ago: float = 1.0) -> pd.DataFrame:
    """One feature-set build: a row per driver, plus an older row each (the latest is the one served)."""
    ts = NOW - timedelta(hours=hours_ago)
    rows = [
        {"driver_id": d, "rate": rate + d / 4, "trips": trips + d, "ts": ts - timedelta(hours=h)}
        for d in drivers
        for h in (0, 5)
    ]
    older = [r for r in rows if r["ts"] < ts]
    for r in older:
        r["rate"], r["trips"] = -1.0, -1
    return pd.DataFrame(rows)


def expected(drivers: list[int], rate: float, trips: int) -> dict[str, list[object]]:
    """What the online store serves for ``drivers`` after materializing ``build(drivers, rate, trips)``."""
    return {"rate": [rate + d / 4 for d in drivers], "trips": [trips + d for d in drivers]}

"""Benchmark: the operating loop on a feature set of 1M rows (100k keys x 10 events) on the embedded default.

Times `publish` (contract check + parquet + metadata + pointer), `materialize` of the published version,
`rollback` (snapshot, delete and rewrite every key of both versions online) and `check` (sampled reads and
the skew check). Feast has no versions, pointer or rollback, so there is no Feast figure: the reference is
materializing the same version (what a rollback would otherwise take, without removing the newer keys).

Run: python bench/operating_loop.py [--scale 0.1] [--online sqlite|redis]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from ladle import FeatureStore

FEATURES = """
from datetime import timedelta
from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
driver_stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(days=30),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float32), Field(name="trips", dtype=Int64)],
    source=FileSource(name="stats_src", path="data/sets/driver_stats/latest", timestamp_field="ts"),
)
"""


def build(keys: int, per_key: int, seed: int, now: datetime) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = keys * per_key
    ts = np.datetime64(now.replace(tzinfo=None), "us") - rng.integers(60, 20 * 86_400, n).astype("timedelta64[s]")
    return pa.table(
        {
            "driver_id": pa.array(np.repeat(np.arange(keys), per_key) + seed * keys // 10, pa.int64()),
            "rate": pa.array(rng.random(n), pa.float32()),
            "trips": pa.array(rng.integers(0, 1000, n), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        }
    )


def timed(what: str, fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    took = time.perf_counter() - t0
    print(f"  {what:<44} {took:7.2f} s")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--online", choices=["sqlite", "redis"], default="sqlite")
    args = parser.parse_args()
    keys, per_key = int(100_000 * args.scale), 10
    online = (
        "  type: sqlite\n  path: data/online.db"
        if args.online == "sqlite"
        else "  type: redis\n  connection_string: 127.0.0.1:6379"
    )
    project = f"bench_loop_{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        (repo / "data").mkdir()
        (repo / "features.py").write_text(FEATURES)
        (repo / "feature_store.yaml").write_text(
            f"project: {project}\nregistry: data/registry.db\nprovider: local\nonline_store:\n{online}\n"
            "offline_store:\n  type: duckdb\nfeature_sets:\n  root: data/sets\n"
        )
        now = datetime.now(UTC)
        v1, v2 = build(keys, per_key, 1, now), build(keys, per_key, 2, now)
        store = FeatureStore(repo_path=repo)
        print(f"operating loop, {v1.num_rows:,} rows ({keys:,} keys) per version, {args.online} online:")
        timed("publish v1", lambda: store.publish("driver_stats", v1, version="v1"))
        store.apply_repo()
        start, end = now - timedelta(days=30), now
        timed("materialize v1", lambda: store.materialize(start, end))
        timed("publish v2", lambda: store.publish("driver_stats", v2, version="v2"))
        mat = timed("materialize v2 (newer-wins; v1-only keys stay)", lambda: store.materialize(start, end))
        back = timed("rollback to v1 (replace, both key sets)", lambda: store.rollback("driver_stats", "v1"))
        timed("check --sample 100", lambda: store.check(sample=100))
        print(f"  rollback / materialize ratio: {back / mat:.2f}")
        if args.online == "redis":
            store.teardown()
        store.close()


if __name__ == "__main__":
    main()

"""Benchmark: get_online_features in process, 6 features from 2 views, batch 1 and batch 100.

Targets (2 cores, p50): Redis batch 1 <= 0.25 ms, batch 100 <= 1.2 ms; SQLite batch 1 <= 0.1 ms,
batch 100 <= 0.8 ms.

Run: python bench/online.py [--online sqlite redis] [--keys 20000] [--calls 2000]
                            [--feast-python /work/feast-venv/bin/python] [--profile]

Each run builds its own repo in a temporary folder (project ``bench_online_<pid>``, so concurrent runs
and other users of the same Redis never collide), writes one row per key to both views with
``write_to_online_store`` and times ``get_online_features(...).to_dict()`` on random keys (a few absent).
With ``--feast-python``, the same workload runs on Feast (its SQLite and Redis online stores, the same
values written with its ``write_to_online_store``) in a subprocess of that interpreter, in the same run,
and both figures and the ratio are printed. Redis keys of both projects are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from feast_side import FeastTimer

from ladle import FeatureStore

PROJECT = f"bench_online_{os.getpid()}"
FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:acc_rate",
    "driver_stats:trips",
    "driver_quality:rating",
    "driver_quality:complaints",
    "driver_quality:tenure_days",
]
ONLINE = {
    "sqlite": "  type: sqlite\n  path: data/online.db",
    "redis": "  type: redis\n  connection_string: 127.0.0.1:6379",
}

LADLE_REPO = textwrap.dedent(
    """
    from datetime import timedelta

    from ladle import Entity, FeatureView, Field, FileSource
    from ladle.types import Float32, Float64, Int64

    driver = Entity(name="driver", join_keys=["driver_id"])
    src = dict(path="data/source.parquet", timestamp_field="event_timestamp")
    driver_stats = FeatureView(
        name="driver_stats", entities=[driver], ttl=timedelta(days=3650),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
                Field(name="trips", dtype=Int64)],
        source=FileSource(name="driver_stats_src", **src),
    )
    driver_quality = FeatureView(
        name="driver_quality", entities=[driver], ttl=timedelta(days=3650),
        schema=[Field(name="rating", dtype=Float64), Field(name="complaints", dtype=Int64),
                Field(name="tenure_days", dtype=Int64)],
        source=FileSource(name="driver_quality_src", **src),
    )
    """
)


def frames(keys: int) -> dict[str, pd.DataFrame]:
    """One row per key for each view (the same values for ladle and Feast)."""
    rng = np.random.default_rng(0)
    ids = np.arange(keys, dtype=np.int64)
    ts = pd.Timestamp.now(tz="UTC").floor("s") - pd.to_timedelta(rng.integers(60, 86_400, keys), unit="s")
    return {
        "driver_stats": pd.DataFrame(
            {
                "driver_id": ids,
                "event_timestamp": ts,
                "conv_rate": rng.random(keys).astype(np.float32),
                "acc_rate": rng.random(keys),
                "trips": rng.integers(0, 1000, keys),
            }
        ),
        "driver_quality": pd.DataFrame(
            {
                "driver_id": ids,
                "event_timestamp": ts,
                "rating": rng.random(keys) * 5,
                "complaints": rng.integers(0, 10, keys),
                "tenure_days": rng.integers(0, 3000, keys),
            }
        ),
    }


def source_sample(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row with every column of both views (what apply's schema inference reads)."""
    return data["driver_stats"].head(1).merge(data["driver_quality"].head(1))


def ladle_store(online: str, data: dict[str, pd.DataFrame], root: Path) -> FeatureStore:
    """A repo in ``root`` for ``online``, applied, with ``data`` written to its online store."""
    repo = root / f"ladle_{online}"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        f"project: {PROJECT}\nregistry: data/registry.db\nprovider: local\noffline_store:\n  type: duckdb\n"
        f"online_store:\n{ONLINE[online]}\n"
    )
    (repo / "features.py").write_text(LADLE_REPO)
    source_sample(data).to_parquet(repo / "data/source.parquet")
    FeatureStore(repo_path=repo).apply_repo()
    store = FeatureStore(repo_path=repo)
    for name, frame in data.items():
        store.write_to_online_store(name, frame)
    return store


def batches(batch: int, calls: int, key_space: int, seed: int) -> list[list[dict[str, int]]]:
    rng = np.random.default_rng(seed)
    return [[{"driver_id": int(k)} for k in rng.integers(0, key_space, batch)] for _ in range(calls)]


def ladle_times(store: FeatureStore, batch: int, calls: int, key_space: int, seed: int) -> list[float]:
    """``calls`` timed ``get_online_features(...).to_dict()`` calls (entity rows as Feast takes them), in ms."""
    work = batches(batch, calls, key_space, seed)
    for rows in work[:20]:
        store.get_online_features(FEATURES, rows).to_dict()
    times = []
    for rows in work:
        t0 = time.perf_counter()
        store.get_online_features(FEATURES, rows).to_dict()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def p50_p99(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(len(times) * 0.99)]


def compare(store: FeatureStore, feast: FeastTimer | None, args: Any, key_space: int) -> dict[int, Any]:
    """Per batch size, ladle's and Feast's timings, in alternating rounds (same keys for both)."""
    out: dict[int, Any] = {}
    per_round = max(1, args.calls // args.rounds)
    for batch in (1, 100):
        ours: list[float] = []
        theirs: list[float] = []
        for r in range(args.rounds):
            seed = batch * 1000 + r
            ours += ladle_times(store, batch, per_round, key_space, seed)
            if feast is not None:
                theirs += feast.times(batch, per_round, seed)
        out[batch] = (p50_p99(ours), p50_p99(theirs) if theirs else None)
    return out


def profile(store: FeatureStore, batch: int, key_space: int) -> None:
    from pyinstrument import Profiler

    work = batches(batch, 3000, key_space, batch)
    profiler = Profiler(interval=0.0001)
    with profiler:
        for rows in work:
            store.get_online_features(FEATURES, rows).to_dict()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--online", nargs="+", choices=sorted(ONLINE), default=["sqlite", "redis"])
    parser.add_argument("--keys", type=int, default=20_000, help="entity keys written to each view")
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per batch size (each side)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating ladle/Feast rounds the calls are split in")
    parser.add_argument("--feast-python", help="a Python with Feast 0.67 installed: run the same workload on Feast")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile instead of timing")
    args = parser.parse_args()
    data = frames(args.keys)
    key_space = int(args.keys * 1.02)  # ~2% of the keys asked for are absent
    with tempfile.TemporaryDirectory(prefix="ladle_bench_online_") as tmp:
        root = Path(tmp)
        for online in args.online:
            store = ladle_store(online, data, root)
            feast = None
            try:
                if args.profile:
                    for batch in (1, 100):
                        print(f"--- profile: ladle {online}, batch {batch}")
                        profile(store, batch, key_space)
                    continue
                if args.feast_python:
                    job = {"mode": "time", "online": online, "project": f"{PROJECT}_feast",
                           "repo": str(root / f"feast_{online}"), "features": FEATURES, "key_space": key_space}
                    feast = FeastTimer(args.feast_python, job, data)
                figures = compare(store, feast, args, key_space)
            finally:
                store.teardown()
                store.close()
                if feast is not None:
                    feast.close()
            for batch, ((p50, p99), theirs) in figures.items():
                line = f"{online:<6} batch {batch:>3}: ladle p50 {p50:.3f} ms, p99 {p99:.3f} ms"
                if theirs is not None:
                    f50, f99 = theirs
                    line += f" | Feast 0.67 p50 {f50:.3f} ms, p99 {f99:.3f} ms | ladle {f50 / p50:.1f}x faster (p50)"
                print(line, flush=True)


if __name__ == "__main__":
    main()

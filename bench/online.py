"""Benchmark: get_online_features, 6 features from 2 views, batch 1 and batch 100, SQLite online store.

Target (2 cores): batch 100 <= 1 ms p50. Run: python bench/online.py [--scale 0.1] [--calls 2000]
Needs the data materialized first (bench/materialize.py does it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import KEYS, ensure_repo

from ladle import FeatureStore

FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:acc_rate",
    "driver_stats:trips",
    "driver_quality:rating",
    "driver_quality:complaints",
    "driver_quality:tenure_days",
]


def measure(store: FeatureStore, batch: int, calls: int) -> tuple[float, float]:
    rng = np.random.default_rng(batch)
    batches = [{"driver_id": rng.integers(0, KEYS, batch).tolist()} for _ in range(calls)]
    for rows in batches[:50]:
        store.get_online_features(FEATURES, rows).to_dict()
    times = []
    for rows in batches:
        t0 = time.perf_counter()
        store.get_online_features(FEATURES, rows).to_dict()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--online", choices=["sqlite", "redis", "postgres", "dynamodb"], default="sqlite", help="online store to use"
    )
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    store = FeatureStore(repo_path=ensure_repo(args.scale, online=args.online))
    check = store.get_online_features(FEATURES, {"driver_id": [1, 2, 3]}).to_dict()
    if all(v is None for v in check["conv_rate"]):
        sys.exit("nothing materialized: run bench/materialize.py first")
    for batch in (1, 100):
        p50, p99 = measure(store, batch, args.calls)
        print(f"ladle get_online_features {args.online}, 6 features, batch {batch}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    try:
        import feast  # noqa: F401
    except ImportError:
        print("feast: not installed, comparison skipped")


if __name__ == "__main__":
    main()

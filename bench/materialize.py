"""Benchmark: materialize 15M feature rows (100k keys, 2 views) from parquet into the SQLite online store.

Target (2 cores): <= 5 s. Run: python bench/materialize.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import ensure_repo

from ladle import FeatureStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--online", choices=["sqlite", "redis", "postgres", "dynamodb"], default="sqlite", help="online store to use"
    )
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True, online=args.online)
    FeatureStore(repo_path=repo).apply_repo()
    store = FeatureStore(repo_path=repo)
    views = store.list_feature_views()
    store.online_store.teardown(store.project, views)  # start empty (Redis keeps data between runs)
    store.online_store.update(store.project, views, [])
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC)  # ends in the future are refused
    t0 = time.perf_counter()
    results = store.materialize(start, end)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.materialize(start, end)
    again = time.perf_counter() - t0
    source_rows = int(15_000_000 * args.scale)
    written = sum(r.rows for r in results)
    print(f"ladle materialize to {args.online}: {source_rows:,} source rows -> {written:,} online rows")
    print(
        f"  first run {first:.2f} s ({source_rows / first / 1e6:.1f} M source rows/s); idempotent re-run {again:.2f} s"
    )
    try:
        import feast  # noqa: F401
    except ImportError:
        print("feast: not installed, comparison skipped")


if __name__ == "__main__":
    main()

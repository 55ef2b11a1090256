"""Benchmark: materialize 15M feature rows (100k keys, 2 views) from parquet into an online store.

Run: python bench/materialize.py [--scale 0.1] [--online sqlite|redis|postgres|dynamodb]
                                 [--feast-python /work/feast-venv/bin/python]
Each side runs in a fresh interpreter (peak RSS is its own) and starts from an empty online store. With
--feast-python, Feast 0.67 materializes the same parquet files into the same kind of online store (sqlite or
redis) in the same run, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import FEAST_ONLINE, ensure_feast_repo, ensure_repo, print_comparison, run_child

from ladle import FeatureStore

LADLE = """
import json, time
from datetime import UTC, datetime
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r})
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
print(json.dumps({{"seconds": first, "again": again, "rows": sum(r.rows for r in results)}}))
"""

FEAST = """
import json, time, warnings
warnings.filterwarnings("ignore")
from datetime import datetime, timezone
from feast import FeatureStore
store = FeatureStore(repo_path={repo!r})
start, end = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc)
t0 = time.perf_counter()
store.materialize(start, end)
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--online", choices=["sqlite", "redis", "postgres", "dynamodb"], default="sqlite", help="online store to use"
    )
    parser.add_argument("--feast-python", help="the Python of a venv where Feast is installed, to compare")
    parser.add_argument("--feast-timeout", type=float, default=1800, help="seconds before Feast's run is stopped")
    parser.add_argument("--feast-memory-gb", type=float, default=12, help="cap on Feast's address space (prlimit --as)")
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True, online=args.online)
    FeatureStore(repo_path=repo).apply_repo()
    ladle = run_child(sys.executable, LADLE.format(repo=str(repo)))
    feast = None
    if args.feast_python and args.online in FEAST_ONLINE:
        frepo = ensure_feast_repo(repo / "data", online=args.online, apply=args.feast_python)
        cap = int(args.feast_memory_gb * 2**30)
        feast = run_child(args.feast_python, FEAST.format(repo=str(frepo)), timeout=args.feast_timeout, limit_bytes=cap)
        if args.online == "redis":  # a shared Redis: take Feast's keys away again
            subprocess.run(
                [str(Path(args.feast_python).parent / "feast"), "teardown"], check=False, cwd=frepo, capture_output=True
            )
    source_rows = int(15_000_000 * args.scale)
    what = f"materialize to {args.online}: {source_rows:,} source rows, 2 views"
    print_comparison(what, ladle, feast)
    if args.feast_python and args.online not in FEAST_ONLINE:
        print(f"  (Feast comparison is set up for {', '.join(FEAST_ONLINE)} only)")
    if "error" not in ladle:
        print(
            f"  ladle: {ladle['rows']:,} online rows, {source_rows / ladle['seconds'] / 1e6:.1f}M source rows/s; "
            f"idempotent re-run {ladle['again']:.2f} s"
        )


if __name__ == "__main__":
    main()

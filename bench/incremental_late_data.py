"""Benchmark: what late-data tracking adds to ``materialize-incremental`` (15M source rows, 2 views, SQLite).

Prints the time of a no-op incremental run (nothing new: the late-data check is all it does besides the
empty interval) and the check alone (``scan_view`` for every view). Picking up late rows is covered by
tests/unit/test_late_data.py. Feast has no late-data handling to compare with (its incremental run reads only
``[last end, now]``), so the figure to watch is the check's share of a no-op run.
Run: python bench/incremental_late_data.py [--scale 0.1]
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
from ladle.ingest.late_data import IngestMarker, scan_view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True)
    FeatureStore(repo_path=repo).apply_repo()
    store = FeatureStore(repo_path=repo)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    first = store.materialize_incremental(now)
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    noop = store.materialize_incremental(datetime.now(UTC))
    noop_s = time.perf_counter() - t0
    views = [v for v in store.list_feature_views() if v.online]
    markers = store.registry.ingest_markers()
    t0 = time.perf_counter()
    for view in views:
        scan_view(store.offline_store, view, IngestMarker.from_dict(markers[view.name]), datetime.now(UTC))
    check_s = time.perf_counter() - t0

    print(f"ladle materialize-incremental, {int(15_000_000 * args.scale):,} source rows in 2 views")
    print(f"  first run {full:.2f} s ({sum(r.rows for r in first):,} rows); no-op run {noop_s:.2f} s "
          f"({sum(r.rows for r in noop):,} rows); late-data check alone {check_s:.2f} s "
          f"({check_s / noop_s:.0%} of the no-op run)")


if __name__ == "__main__":
    main()

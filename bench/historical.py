"""Benchmark: get_historical_features, 1M entity rows x (10M + 5M) feature rows, 2 views, 6 features.

Target (2 cores): <= 3.5 s and <= 1.5 GB peak RSS. Run: python bench/historical.py [--scale 0.1]
Each measurement runs in a fresh subprocess so peak RSS is the retrieval's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import ensure_repo

from ladle import FeatureStore

FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:acc_rate",
    "driver_stats:trips",
    "driver_quality:rating",
    "driver_quality:complaints",
    "driver_quality:tenure_days",
]

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from synthetic import entity_table
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r})
entities = entity_table({rows})
t0 = time.perf_counter()
table = store.get_historical_features(entities, {features!r}).to_arrow()
elapsed = time.perf_counter() - t0
assert table.num_rows == {rows}
print(json.dumps({{"seconds": elapsed, "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                   "null_conv_rate": table.column("conv_rate").null_count}}))
"""


def run_ladle(repo: Path, rows: int) -> dict[str, float]:
    code = CHILD.format(bench=str(Path(__file__).parent), repo=str(repo), rows=rows, features=FEATURES)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data size")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True)
    FeatureStore(repo_path=repo).apply_repo()
    rows = int(1_000_000 * args.scale)
    runs = [run_ladle(repo, rows) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    print(f"ladle historical: {rows:,} entity rows x {int(15_000_000 * args.scale):,} feature rows, 6 features")
    print(
        f"  best of {args.repeat}: {best['seconds']:.2f} s, peak RSS {best['rss_gb']:.2f} GB "
        f"(all: {', '.join(format(r['seconds'], '.2f') for r in runs)} s)"
    )
    try:
        import feast  # noqa: F401
    except ImportError:
        print("feast: not installed, comparison skipped (pip install feast to compare)")


if __name__ == "__main__":
    main()

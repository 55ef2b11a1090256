"""Benchmark: get_historical_features, 1M entity rows x (10M + 5M) feature rows, 2 views, 6 features.

Target (issue 13, 2 cores): <= 0.2x Feast's time and <= 1.2 GB peak RSS.
Run: python bench/historical.py [--scale 0.1] [--feast-python /work/feast-venv/bin/python]
Each measurement runs in a fresh interpreter, so peak RSS is the retrieval's own (entity rows included).
With --feast-python, Feast runs the same retrieval on the same parquet files in the same run (its entity
rows as a pandas DataFrame, its result as ``to_df()``; ladle's result as ``to_arrow()``), and the ratio is
printed. ladle's first run in a new checkout also checks each source file for duplicate (key, timestamp)
rows once (remembered by file fingerprint), so ``--repeat`` >= 2 shows the steady state.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import best, ensure_feast_repo, ensure_repo, print_comparison, run_child

from ladle import FeatureStore

FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:acc_rate",
    "driver_stats:trips",
    "driver_quality:rating",
    "driver_quality:complaints",
    "driver_quality:tenure_days",
]

LADLE = """
import json, sys, time
sys.path.insert(0, {bench!r})
from synthetic import entity_table
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r})
entities = entity_table({rows})
t0 = time.perf_counter()
table = store.get_historical_features(entities, {features!r}).to_arrow()
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rows": table.num_rows, "nulls": table.column("conv_rate").null_count}}))
"""

FEAST = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {bench!r})
from synthetic import entity_table
from feast import FeatureStore
store = FeatureStore(repo_path={repo!r})
entities = entity_table({rows}).to_pandas()
t0 = time.perf_counter()
df = store.get_historical_features(entity_df=entities, features={features!r}).to_df()
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rows": len(df), "nulls": int(df["conv_rate"].isna().sum())}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the fastest is reported")
    parser.add_argument("--feast-python", help="the Python of a venv where Feast is installed, to compare")
    parser.add_argument("--feast-repeat", type=int, default=1, help="runs of Feast (slow); the fastest is reported")
    parser.add_argument(
        "--feast-memory-gb",
        type=float,
        default=14,
        help="cap on Feast's address space (prlimit --as), so it fails "
        "with MemoryError instead of waking the kernel's OOM killer (it needs ~17 GB at full size)",
    )
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True)
    FeatureStore(repo_path=repo).apply_repo()
    rows = int(1_000_000 * args.scale)
    bench = str(Path(__file__).parent)
    fill = {"bench": bench, "rows": rows, "features": FEATURES}
    ladle_runs = [run_child(sys.executable, LADLE.format(repo=str(repo), **fill)) for _ in range(args.repeat)]
    feast = None
    if args.feast_python:
        frepo = ensure_feast_repo(repo / "data", apply=args.feast_python)
        code = FEAST.format(repo=str(frepo), **fill)
        cap = int(args.feast_memory_gb * 2**30)
        feast_runs = [run_child(args.feast_python, code, limit_bytes=cap) for _ in range(args.feast_repeat)]
        feast = best(feast_runs)
        for name, r in (("ladle", best(ladle_runs)), ("Feast", feast)):
            if "error" not in r and r["rows"] != rows:
                print(f"  note: {name} returned {r['rows']:,} rows for {rows:,} entity rows")
    what = f"historical (DuckDB): {rows:,} entity rows x {int(15_000_000 * args.scale):,} feature rows, 2 views, 6 features"
    print_comparison(what, best(ladle_runs), feast)
    print("  ladle runs: " + ", ".join(f"{r['seconds']:.2f} s" if "error" not in r else "failed" for r in ladle_runs))
    ok = best(ladle_runs)
    if "error" not in ok:
        print(
            f"  ladle: {rows / ok['seconds']:,.0f} entity rows/s "
            f"({rows / ok['seconds'] / (__import__('os').cpu_count() or 1):,.0f} per core)"
        )


if __name__ == "__main__":
    main()

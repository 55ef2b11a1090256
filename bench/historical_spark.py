"""Benchmark: get_historical_features on the Spark offline store (local mode), same data as bench/historical.py.

The synthetic parquet files (10M + 5M rows, 1M entity rows at --scale 1) are read by Spark through
``SparkSource(path=..., file_format="parquet")``; the point-in-time join runs in Spark ``local[N]`` and the
result comes back as Arrow. DuckDB runs the same join on the same files for comparison. Each measurement is
a fresh process; for Spark the SparkSession start-up is reported apart, and two joins are timed in the same
session (the first pays for JIT warm-up). Peak RSS is the Python driver plus the Spark JVM.
Run: python bench/historical_spark.py [--scale 0.1] [--cores 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from historical import FEATURES, run_ladle
from synthetic import ROOT, ensure_repo

from ladle import FeatureStore

CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, {bench!r})
from synthetic import entity_table
from ladle import FeatureStore

def jvm_peak_gb():
    # the JVM is a child of this process (py4j's gateway): its high-water mark, from /proc
    best = 0
    for pid in os.listdir("/proc"):
        try:
            status = open(f"/proc/{{pid}}/status").read()
        except OSError:
            continue
        if f"PPid:\\t{{os.getpid()}}" in status and "Name:\\tjava" in status:
            best = max(best, int(status.split("VmHWM:")[1].split()[0]))
    return best / 1e6

store = FeatureStore(repo_path={repo!r})
entities = entity_table({rows})
t0 = time.perf_counter()
store.offline_store.spark
startup = time.perf_counter() - t0
store.apply_repo()  # here, not in the parent: one JVM on the machine while timing
runs = []
for _ in range({repeat}):
    t0 = time.perf_counter()
    table = store.get_historical_features(entities, {features!r}).to_arrow()
    runs.append(time.perf_counter() - t0)
    assert table.num_rows == {rows}
print(json.dumps({{"startup": startup, "runs": runs,
                   "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6 + jvm_peak_gb(),
                   "null_conv_rate": table.column("conv_rate").null_count,
                   "checksum": float(sum(table.column("acc_rate").fill_null(0).to_pylist()))}}))
"""


def spark_repo(scale: float, cores: int, memory: str) -> Path:
    """bench/.data/spark_repo_<scale>: the same definitions, as SparkSources over the same parquet files."""
    data = ensure_repo(scale) / "data"
    repo = ROOT / f"spark_repo_{scale:g}"
    (repo / "data").mkdir(parents=True, exist_ok=True)
    for leftover in ("registry.db", "registry.db.lock"):
        (repo / "data" / leftover).unlink(missing_ok=True)
    partitions = max(cores * 4, 8)
    (repo / "feature_store.yaml").write_text(
        "project: bench_spark\nregistry: data/registry.db\nprovider: local\n"
        "offline_store:\n  type: spark\n  spark_conf:\n"
        f"    spark.master: local[{cores}]\n    spark.driver.memory: {memory}\n"
        f"    spark.sql.shuffle.partitions: {partitions}\n    spark.ui.enabled: false\n"
        "    spark.ui.showConsoleProgress: false\n"
        "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
    )
    (repo / "features.py").write_text(
        (ensure_repo(scale) / "features.py")
        .read_text()
        .replace(
            "from ladle import Entity, FeatureView, Field, FileSource",
            "from ladle import Entity, FeatureView, Field, SparkSource",
        )
        .replace(
            'FileSource(name="driver_stats_src", path="data/driver_stats.parquet",',
            f'SparkSource(name="driver_stats_src", path="{data / "driver_stats.parquet"}", file_format="parquet",',
        )
        .replace(
            'FileSource(name="driver_quality_src", path="data/driver_quality.parquet",',
            f'SparkSource(name="driver_quality_src", path="{data / "driver_quality.parquet"}", file_format="parquet",',
        )
    )
    return repo


def run_spark(repo: Path, rows: int, repeat: int) -> dict[str, object]:
    code = CHILD.format(bench=str(Path(__file__).parent), repo=str(repo), rows=rows, features=FEATURES, repeat=repeat)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data size")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--memory", default="6g", help="spark.driver.memory (local mode: the whole JVM)")
    parser.add_argument("--repeat", type=int, default=2, help="joins timed in one Spark session")
    args = parser.parse_args()
    rows = int(1_000_000 * args.scale)
    print(f"historical: {rows:,} entity rows x {int(15_000_000 * args.scale):,} feature rows, 6 features, same parquet")

    duck_repo = ensure_repo(args.scale, reset=True)
    FeatureStore(repo_path=duck_repo).apply_repo()
    duck = run_ladle(duck_repo, rows)
    print(f"  duckdb:          {duck['seconds']:.2f} s, peak RSS {duck['rss_gb']:.2f} GB")

    repo = spark_repo(args.scale, args.cores, args.memory)
    spark = run_spark(repo, rows, args.repeat)
    runs = spark["runs"]
    assert isinstance(runs, list)
    print(
        f"  spark local[{args.cores}]: {', '.join(format(r, '.2f') for r in runs)} s (session start "
        f"{spark['startup']:.1f} s apart), peak RSS {spark['rss_gb']:.2f} GB (driver + JVM)"
    )
    same = spark["null_conv_rate"] == duck["null_conv_rate"]
    print(f"  same null count for conv_rate on both: {same} ({spark['null_conv_rate']:,})")


if __name__ == "__main__":
    main()

"""Benchmark: materialize 15M feature rows (100k keys, 2 views) from parquet into an online store.

Run: python bench/materialize.py [--scale 0.1] [--online sqlite|redis|postgres|dynamodb]
                                 [--feast-python /work/feast-venv/bin/python] [--project NAME] [--teardown]
Each side runs in a fresh interpreter (peak RSS is its own) and starts from an empty online store. With
--feast-python, Feast 0.67 materializes the same parquet files into the same kind of online store (sqlite or
redis) in the same run, and the ratio is printed. ``--teardown`` then times removing every view from the online
store (``OnlineStore.teardown``, what ``ladle teardown`` and apply's view removal run), in another fresh
interpreter, and counts what is left; ``--project`` names the project (on a shared Redis, one of your own).
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

TEARDOWN = """
import json, time
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r})
views = store.list_feature_views()
online = store.online_store
def count():
    if store.config.online_store.type != "redis":
        return None
    client = online.shared_access().connect()
    return sum(1 for _ in client.scan_iter(match=f"ladle:{{store.project}}:*", count=10_000))
before = count()
t0 = time.perf_counter()
online.teardown(store.project, views)
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "keys_before": before, "keys_after": count()}}))
"""

FEAST_TEARDOWN = """
import json, time, warnings
warnings.filterwarnings("ignore")
from feast import FeatureStore
store = FeatureStore(repo_path={repo!r})
t0 = time.perf_counter()
store.teardown()
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
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
    parser.add_argument("--project", default="bench", help="the ladle project (its Redis key prefix)")
    parser.add_argument("--teardown", action="store_true", help="then time removing every view from the online store")
    args = parser.parse_args()
    repo = ensure_repo(args.scale, reset=True, online=args.online)
    yaml = repo / "feature_store.yaml"
    yaml.write_text(yaml.read_text().replace("project: bench\n", f"project: {args.project}\n", 1))
    FeatureStore(repo_path=repo).apply_repo()
    ladle = run_child(sys.executable, LADLE.format(repo=str(repo)))
    feast = None
    feast_gone: dict | None = None
    if args.feast_python and args.online in FEAST_ONLINE:
        frepo = ensure_feast_repo(
            repo / "data", online=args.online, apply=args.feast_python, project=f"{args.project}_feast"
        )
        cap = int(args.feast_memory_gb * 2**30)
        feast = run_child(args.feast_python, FEAST.format(repo=str(frepo)), timeout=args.feast_timeout, limit_bytes=cap)
        if args.online == "redis" and args.teardown:  # timed, in the same way as ladle's
            feast_gone = run_child(args.feast_python, FEAST_TEARDOWN.format(repo=str(frepo)))
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
    if args.teardown:
        gone = run_child(sys.executable, TEARDOWN.format(repo=str(repo)))
        if "error" in gone:
            print(f"  teardown failed: {gone['error']}")
        else:
            line = (
                f"  teardown ({args.online}): ladle {gone['seconds']:.2f} s, keys of the project before "
                f"{gone['keys_before']}, after {gone['keys_after']}"
            )
            if feast_gone is not None:
                feast_s = feast_gone.get("seconds")
                line += f" | Feast 0.67 {feast_s:.2f} s" if feast_s is not None else f" | Feast failed: {feast_gone}"
            print(line)


if __name__ == "__main__":
    main()

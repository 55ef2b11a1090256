"""Benchmark: windowed aggregations online — read latency and push throughput, in process.

A StreamFeatureView with 10 aggregates (count, sum, mean, min, max, std, count_distinct, last over 1 h and
2 h windows) over a push source; 10,000 keys with ~40 events each in the last 2 hours, materialized.

Targets (2 cores): get_online_features of the 10 aggregates, p50 <= 1 ms for 1 key and <= 5 ms for 100
keys (SQLite and Redis); push >= 50,000 events/s into the window state (batches of 10,000 events).

Run: python bench/windowed_online.py [--online sqlite|redis|postgres|dynamodb] [--calls 2000]
         [--feast-python /work/feast-venv/bin/python]

With ``--feast-python`` the same view is tried on Feast 0.67 (``bench/windowed_online_feast.py``, run by
that interpreter) over the same events, and the ratios printed. Feast's local engine computes no window:
what it can and cannot do is printed as it happens.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ladle import FeatureStore

KEYS = 10_000
EVENTS = 400_000
DEFINITIONS = """
from datetime import timedelta
from ladle import Aggregation, Entity, Field, FileSource, PushSource, StreamFeatureView
from ladle.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
events = FileSource(name="events", path="data/events", timestamp_field="ts")
push = PushSource(name="txn_push", batch_source=events)
H = timedelta(hours=1)
txn = StreamFeatureView(
    name="txn", entities=[user], ttl=timedelta(hours=2), source=push,
    aggregations=[
        Aggregation(column="amount", function="count", time_window=H, name="n_1h"),
        Aggregation(column="amount", function="sum", time_window=H, name="sum_1h"),
        Aggregation(column="amount", function="mean", time_window=H, name="mean_1h"),
        Aggregation(column="amount", function="max", time_window=H, name="max_1h"),
        Aggregation(column="amount", function="count", time_window=2 * H, name="n_2h"),
        Aggregation(column="amount", function="sum", time_window=2 * H, name="sum_2h"),
        Aggregation(column="amount", function="min", time_window=2 * H, name="min_2h"),
        Aggregation(column="amount", function="std", time_window=2 * H, name="std_2h"),
        Aggregation(column="merchant", function="count_distinct", time_window=2 * H, name="merchants_2h"),
        Aggregation(column="merchant", function="last", time_window=2 * H, name="last_merchant"),
    ],
)
"""
FEATURES = [
    f"txn:{n}"
    for n in (
        "n_1h",
        "sum_1h",
        "mean_1h",
        "max_1h",
        "n_2h",
        "sum_2h",
        "min_2h",
        "std_2h",
        "merchants_2h",
        "last_merchant",
    )
]


def _events(n: int, now: datetime, rng: np.random.Generator, spread_s: int) -> pa.Table:
    offsets = rng.integers(1, spread_s, n)
    return pa.table(
        {
            "user_id": pa.array(rng.integers(0, KEYS, n), pa.int64()),
            "ts": pa.array(np.datetime64(now.replace(tzinfo=None), "us") - offsets.astype("timedelta64[s]")).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "amount": pa.array(rng.integers(1, 10_000, n) / 100.0),
            "merchant": pa.array(rng.integers(0, 500, n), pa.int64()),
        }
    )


def _online_yaml(kind: str, endpoint: str | None) -> str:
    return {
        "sqlite": "online_store:\n  type: sqlite\n  path: data/online.db\n",
        "redis": "online_store:\n  type: redis\n  connection_string: 127.0.0.1:6379\n",
        "postgres": 'online_store:\n  type: postgres\n  dsn: "host=127.0.0.1 port=5432 user=postgres dbname=test"\n'
        f"  db_schema: bench_{uuid.uuid4().hex[:6]}\n",
        "dynamodb": f"online_store:\n  type: dynamodb\n  endpoint_url: {endpoint}\n",
    }[kind]


def _latency(store: FeatureStore, batch: int, calls: int) -> tuple[float, float, float]:
    """p50 and p99 wall time, and p50 CPU time of this thread (ms): on a shared machine the CPU time is what
    the call costs, the wall time adds waiting for a core."""
    rng = np.random.default_rng(batch)
    rows = [{"user_id": rng.integers(0, KEYS, batch).tolist()} for _ in range(calls)]
    for r in rows[:50]:
        store.get_online_features(FEATURES, r).to_dict()
    times, cpu = [], []
    for r in rows:
        t0, c0 = time.perf_counter(), time.thread_time()
        store.get_online_features(FEATURES, r).to_dict()
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3, statistics.median(cpu) * 1e3


def _push_rate(store: FeatureStore, now: datetime, batches: int, size: int) -> tuple[float, float]:
    """Events per second pushed online, by wall time and by this process's CPU time."""
    rng = np.random.default_rng(99)
    frames = [_events(size, now, rng, 600) for _ in range(batches)]
    store.push("txn_push", frames[0], to="online")  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for frame in frames[1:]:
        store.push("txn_push", frame, to="online")
    events = (batches - 1) * size
    return events / (time.perf_counter() - t0), events / (time.process_time() - c0)


def _feast(python: str, repo: Path, online: str, calls: int, ladle: dict[str, tuple[float, float]]) -> None:
    """Run the Feast side over ``repo``'s events and print its lines, with the read-latency ratios."""
    if online not in ("sqlite", "redis"):
        print(f"feast: comparison run for sqlite and redis only, not {online}")
        return
    script = Path(__file__).with_name("windowed_online_feast.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [python, str(script), str(repo), online, str(calls)], capture_output=True, text=True, env=env, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("feast")]
    if done.returncode != 0:
        lines.append(f"feast: the comparison script failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    for line in lines:
        print(line)
        for label, (wall, cpu) in ladle.items():
            if f", {label}: p50 " in line:
                theirs = float(line.split(f", {label}: p50 ")[1].split(" ms")[0])
                theirs_cpu = float(line.split("(CPU p50 ")[1].split(" ms")[0])
                print(f"  -> ladle / feast, {label}: p50 {wall / theirs:.2f}, CPU p50 {cpu / theirs_cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--online", choices=["sqlite", "redis", "postgres", "dynamodb"], default="sqlite")
    parser.add_argument("--endpoint", help="DynamoDB endpoint (a moto server) for --online dynamodb")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--push-batches", type=int, default=11)
    parser.add_argument("--feast-python", help="a Python with feast 0.67 installed: compare with Feast")
    args = parser.parse_args()
    repo = Path(tempfile.mkdtemp(prefix="ladle_bench_windowed_"))
    now = datetime.now(UTC).replace(microsecond=0)
    (repo / "data/events").mkdir(parents=True)
    pq.write_table(_events(EVENTS, now, np.random.default_rng(1), 2 * 3600), repo / "data/events/part-0.parquet")
    (repo / "feature_store.yaml").write_text(
        f"project: bw{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        + _online_yaml(args.online, args.endpoint)
    )
    (repo / "features.py").write_text(DEFINITIONS)
    store = FeatureStore(repo_path=repo)
    try:
        store.apply_repo()
        t0 = time.perf_counter()
        store.materialize(now - timedelta(days=1), now)
        print(f"materialize {EVENTS:,} events into {args.online} window state: {time.perf_counter() - t0:.2f} s")
        figures: dict[str, tuple[float, float]] = {}
        for batch, calls in ((1, args.calls), (100, max(200, args.calls // 4))):
            p50, p99, cpu = _latency(store, batch, calls)
            figures[f"{batch} key(s)"] = (p50, cpu)
            print(
                f"get_online_features {args.online}, 10 aggregates, {batch} key(s): p50 {p50:.3f} ms, "
                f"p99 {p99:.3f} ms (CPU p50 {cpu:.3f} ms)"
            )
        wall, cpu_rate = _push_rate(store, now, args.push_batches, 10_000)
        print(
            f"push into {args.online} window state, batches of 10,000 events: {wall:,.0f} events/s "
            f"({cpu_rate:,.0f} events per CPU second)"
        )
        if args.feast_python:
            _feast(args.feast_python, repo, args.online, args.calls, figures)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average during the run: {load} on {os.cpu_count()} cores")
        df = store.get_online_features(FEATURES, {"user_id": [1, 2]}).to_df()
        print(pd.DataFrame(df).to_string(max_cols=12))
    finally:
        store.teardown()
        store.close()
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    main()

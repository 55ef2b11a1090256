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
import json
import os
import statistics
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ladle import FeatureStore

PROJECT = f"bench_online_{os.getpid()}"
FEATURES = [
    "driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:trips",
    "driver_quality:rating", "driver_quality:complaints", "driver_quality:tenure_days",
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

# Run by the Feast interpreter: argv[1] is a JSON job; prints one JSON line of timings.
FEAST_SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, tempfile, time
    from datetime import timedelta
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float32, Float64, Int64

    job = json.loads(sys.argv[1])
    repo = Path(tempfile.mkdtemp(prefix="feast_bench_"))
    (repo / "data").mkdir()
    online = {"sqlite": {"type": "sqlite", "path": str(repo / "data/online.db")},
              "redis": {"type": "redis", "connection_string": "127.0.0.1:6379"}}[job["online"]]
    lines = [f"project: {job['project']}", f"registry: {repo / 'data/registry.db'}", "provider: local",
             "offline_store:", "  type: file", "entity_key_serialization_version: 3", "online_store:"]
    lines += [f"  {k}: {v}" for k, v in online.items()]
    (repo / "feature_store.yaml").write_text("\\n".join(lines) + "\\n")
    frames = {name: pd.read_parquet(path) for name, path in job["frames"].items()}
    frames["driver_stats"].head(1).merge(frames["driver_quality"].head(1)).to_parquet(repo / "data/source.parquet")
    store = FeatureStore(repo_path=str(repo))
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    src = FileSource(name="src", path=str(repo / "data/source.parquet"), timestamp_field="event_timestamp")
    views = [
        FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=3650), source=src,
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="conv_rate", dtype=Float32),
                            Field(name="acc_rate", dtype=Float64), Field(name="trips", dtype=Int64)]),
        FeatureView(name="driver_quality", entities=[driver], ttl=timedelta(days=3650), source=src,
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="rating", dtype=Float64),
                            Field(name="complaints", dtype=Int64), Field(name="tenure_days", dtype=Int64)]),
    ]
    store.apply([driver, *views])
    for name, frame in frames.items():
        store.write_to_online_store(name, frame)
    out = {}
    try:
        for batch in job["batches"]:
            rng = np.random.default_rng(batch)
            calls = [[{"driver_id": int(k)} for k in rng.integers(0, job["key_space"], batch)]
                     for _ in range(job["calls"])]
            for rows in calls[:50]:
                store.get_online_features(job["features"], rows).to_dict()
            times = []
            for rows in calls:
                t0 = time.perf_counter()
                store.get_online_features(job["features"], rows).to_dict()
                times.append(time.perf_counter() - t0)
            times.sort()
            out[str(batch)] = [statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3]
    finally:
        store.teardown()
    print(json.dumps(out))
    """
)


def frames(keys: int) -> dict[str, pd.DataFrame]:
    """One row per key for each view (the same values for ladle and Feast)."""
    rng = np.random.default_rng(0)
    ids = np.arange(keys, dtype=np.int64)
    ts = pd.Timestamp.now(tz="UTC").floor("s") - pd.to_timedelta(rng.integers(60, 86_400, keys), unit="s")
    return {
        "driver_stats": pd.DataFrame({
            "driver_id": ids, "event_timestamp": ts, "conv_rate": rng.random(keys).astype(np.float32),
            "acc_rate": rng.random(keys), "trips": rng.integers(0, 1000, keys),
        }),
        "driver_quality": pd.DataFrame({
            "driver_id": ids, "event_timestamp": ts, "rating": rng.random(keys) * 5,
            "complaints": rng.integers(0, 10, keys), "tenure_days": rng.integers(0, 3000, keys),
        }),
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


def batches(batch: int, calls: int, key_space: int) -> list[list[dict[str, int]]]:
    rng = np.random.default_rng(batch)
    return [[{"driver_id": int(k)} for k in rng.integers(0, key_space, batch)] for _ in range(calls)]


def measure(store: FeatureStore, batch: int, calls: int, key_space: int) -> tuple[float, float]:
    """p50 and p99 (ms) of ``get_online_features(...).to_dict()`` (entity rows as Feast takes them)."""
    work = batches(batch, calls, key_space)
    for rows in work[:50]:
        store.get_online_features(FEATURES, rows).to_dict()
    times = []
    for rows in work:
        t0 = time.perf_counter()
        store.get_online_features(FEATURES, rows).to_dict()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3


def run_feast(python: str, online: str, root: Path, data: dict[str, pd.DataFrame], args: Any) -> dict[str, Any]:
    paths = {}
    for name, frame in data.items():
        paths[name] = str(root / f"{name}.parquet")
        frame.to_parquet(paths[name])
    job = {"online": online, "project": f"{PROJECT}_feast", "frames": paths, "features": FEATURES,
           "batches": [1, 100], "calls": args.calls, "key_space": int(args.keys * 1.02)}
    done = subprocess.run([python, "-c", FEAST_SCRIPT, json.dumps(job)], capture_output=True, text=True,
                          timeout=1800, check=False)
    if done.returncode != 0:
        print(f"  feast failed:\n{done.stderr[-3000:]}")
        return {}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def profile(store: FeatureStore, batch: int, key_space: int) -> None:
    from pyinstrument import Profiler

    work = batches(batch, 3000, key_space)
    profiler = Profiler(interval=0.0001)
    with profiler:
        for rows in work:
            store.get_online_features(FEATURES, rows).to_dict()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--online", nargs="+", choices=sorted(ONLINE), default=["sqlite", "redis"])
    parser.add_argument("--keys", type=int, default=20_000, help="entity keys written to each view")
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per batch size")
    parser.add_argument("--feast-python", help="a Python with Feast 0.67 installed: run the same workload on Feast")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile instead of timing")
    args = parser.parse_args()
    data = frames(args.keys)
    key_space = int(args.keys * 1.02)  # ~2% of the keys asked for are absent
    with tempfile.TemporaryDirectory(prefix="ladle_bench_online_") as tmp:
        root = Path(tmp)
        for online in args.online:
            store = ladle_store(online, data, root)
            try:
                if args.profile:
                    for batch in (1, 100):
                        print(f"--- profile: ladle {online}, batch {batch}")
                        profile(store, batch, key_space)
                    continue
                ours = {b: measure(store, b, args.calls, key_space) for b in (1, 100)}
            finally:
                store.teardown()
                store.close()
            feast = run_feast(args.feast_python, online, root, data, args) if args.feast_python else {}
            for batch, (p50, p99) in ours.items():
                line = f"{online:<6} batch {batch:>3}: ladle p50 {p50:.3f} ms, p99 {p99:.3f} ms"
                if str(batch) in feast:
                    f50, f99 = feast[str(batch)]
                    line += f" | Feast 0.67 p50 {f50:.3f} ms, p99 {f99:.3f} ms | ladle {f50 / p50:.1f}x faster (p50)"
                print(line, flush=True)


if __name__ == "__main__":
    main()

"""Benchmark: ``ladle stream`` end to end — events per second from a Redis Stream into window state
(SQLite or Redis online) and a folder FileSource offline, as the user runs it (a subprocess).

N events (JSON, 1,000 users, timestamps in the last hour) are added to a fresh stream first; the worker runs
with ``--max-events N`` and the time from its start to its exit is measured, and the rate it reports.

Run: python bench/stream_worker.py [--events 50000] [--batch-size 500] [--online sqlite|redis] [--no-offline]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import redis

from ladle import FeatureStore

ONLINE = {
    "sqlite": "online_store:\n  type: sqlite\n  path: data/online_store.db\n",
    "redis": "online_store:\n  type: redis\n  connection_string: 127.0.0.1:6379\n",
}
FEATURES = """
from datetime import timedelta
from ladle import Aggregation, Entity, Field, FileSource, JsonFormat, RedisStreamSource, StreamFeatureView
from ladle.types import Float32, Int64

user = Entity(name="user_id", join_keys=["user_id"])
batch = FileSource(path="data/tx/", timestamp_field="ts")
source = RedisStreamSource(name="tx_stream", stream="{stream}", batch_source=batch, message_format=JsonFormat(),
                           connection_string="redis://127.0.0.1:6379/0")
windows = StreamFeatureView(
    name="tx_windows", entities=[user], ttl=timedelta(hours=2), source=source,
    schema=[Field(name="user_id", dtype=Int64), Field(name="amount", dtype=Float32)],
    aggregations=[
        Aggregation(column="amount", function="count", time_window=timedelta(hours=1)),
        Aggregation(column="amount", function="sum", time_window=timedelta(hours=1)),
    ],
)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--online", choices=sorted(ONLINE), default="sqlite")
    parser.add_argument("--no-offline", action="store_true")
    args = parser.parse_args()
    stream = f"ladle-bench-stream-{uuid.uuid4().hex[:8]}"
    root = Path(tempfile.mkdtemp(prefix="ladle-bench-stream-"))
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        (root / "data" / "tx").mkdir(parents=True)
        now = datetime.now(UTC)
        seed = {"user_id": [-1], "amount": pd.Series([0.0], dtype="float32"), "ts": [now - timedelta(days=1)]}
        pd.DataFrame(seed).to_parquet(root / "data" / "tx" / "seed.parquet")
        project = f"bench_{uuid.uuid4().hex[:8]}"
        yaml = f"project: {project}\nregistry: data/registry.db\nprovider: local\n{ONLINE[args.online]}"
        (root / "feature_store.yaml").write_text(yaml + "offline_store:\n  type: duckdb\n")
        (root / "features.py").write_text(textwrap.dedent(FEATURES.replace("{stream}", stream)))
        FeatureStore(repo_path=root).apply_repo()
        base = now - timedelta(minutes=50)
        with client.pipeline(transaction=False) as pipe:
            for i in range(args.events):
                ts = (base + timedelta(milliseconds=i)).isoformat()
                pipe.xadd(stream, {"payload": orjson.dumps({"user_id": i % 1000, "amount": i % 13, "ts": ts})})
            pipe.execute()
        command = [str(Path(sys.executable).parent / "ladle"), "stream", "--consumer", "bench"]
        command += ["--batch-size", str(args.batch_size), "--max-events", str(args.events)]
        command += ["--no-offline"] if args.no_offline else []
        started = time.perf_counter()
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=1800, check=True)
        seconds = time.perf_counter() - started
        print(done.stdout.strip().splitlines()[-1])
        where = "online only" if args.no_offline else "online + offline folder"
        print(
            f"{args.events:,} events, batch {args.batch_size}, {args.online} ({where}): {seconds:.1f} s "
            f"wall including start-up, {args.events / seconds:,.0f} events/s"
        )
    finally:
        client.delete(stream, f"ladle:stream:{stream}:ladle:journal")
        for key in client.scan_iter(f"*{project}*", count=1000) if "project" in locals() else []:
            client.delete(key)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

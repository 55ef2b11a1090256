"""The Feast side of the side-by-side benchmarks (bench/online.py, bench/server.py).

Feast runs in its own interpreter (``--feast-python``, a venv with Feast 0.67 and its redis extra): the script
below is run there with a JSON job. It builds a Feast repo with the benchmark's two views (driver_stats:
conv_rate Float32, acc_rate Float64, trips Int64; driver_quality: rating Float64, complaints Int64,
tenure_days Int64), applies it, writes the given frames with ``write_to_online_store`` and then, by
``job["mode"]``: ``time`` (in-process ``get_online_features`` timings, then teardown), ``setup`` (leave the
repo for ``feast serve``) or ``teardown``.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

FEAST_SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, time
    from datetime import timedelta
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float32, Float64, Int64

    job = json.loads(sys.argv[1])
    repo = Path(job["repo"])
    if job["mode"] == "teardown":
        FeatureStore(repo_path=str(repo)).teardown()
        sys.exit(0)
    (repo / "data").mkdir(parents=True, exist_ok=True)
    online = {"sqlite": {"type": "sqlite", "path": str(repo / "data/online.db")},
              "redis": {"type": "redis", "connection_string": "127.0.0.1:6379"}}[job["online"]]
    lines = [f"project: {job['project']}", f"registry: {repo / 'data/registry.db'}", "provider: local",
             "offline_store:", "  type: file", "entity_key_serialization_version: 3", "online_store:"]
    lines += [f"  {k}: {v}" for k, v in online.items()]
    (repo / "feature_store.yaml").write_text("\\n".join(lines) + "\\n")
    frames = {name: pd.read_parquet(path) for name, path in job["frames"].items()}
    frames["driver_stats"].head(1).merge(frames["driver_quality"].head(1), on=["driver_id", "event_timestamp"]).to_parquet(repo / "data/source.parquet")
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
    if job["mode"] == "setup":
        sys.exit(0)
    try:  # "time": one JSON request a line on stdin ({"batch", "calls", "seed"}), its timings (ms) a line on stdout
        print("ready", flush=True)
        for line in sys.stdin:
            ask = json.loads(line)
            rng = np.random.default_rng(ask["seed"])
            calls = [[{"driver_id": int(k)} for k in rng.integers(0, job["key_space"], ask["batch"])]
                     for _ in range(ask["calls"])]
            for rows in calls[:20]:
                store.get_online_features(job["features"], rows).to_dict()
            times = []
            for rows in calls:
                t0 = time.perf_counter()
                store.get_online_features(job["features"], rows).to_dict()
                times.append((time.perf_counter() - t0) * 1e3)
            print(json.dumps(times), flush=True)
    finally:
        store.teardown()
    """
)


def _job_with_frames(job: dict[str, Any], frames: dict[str, pd.DataFrame] | None) -> dict[str, Any]:
    if frames is None:
        return job
    repo = Path(job["repo"])
    repo.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in frames.items():
        paths[name] = str(repo.parent / f"{repo.name}_{name}.parquet")
        frame.to_parquet(paths[name])
    return {**job, "frames": paths}


def run_feast(python: str, job: dict[str, Any], frames: dict[str, pd.DataFrame] | None = None) -> str:
    """Run the Feast script with ``job`` to its end (modes ``setup``, ``teardown``); its stdout.
    ``frames`` are saved beside the repo first."""
    done = subprocess.run([python, "-c", FEAST_SCRIPT, json.dumps(_job_with_frames(job, frames))],
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the Feast side failed:\n{done.stderr[-3000:]}")
    return done.stdout


class FeastTimer:
    """The Feast script in mode ``time``, kept running: :meth:`times` asks it for one round of timings, so
    that ladle's and Feast's rounds can alternate (the machine's load then weighs on both alike)."""

    def __init__(self, python: str, job: dict[str, Any], frames: dict[str, pd.DataFrame]) -> None:
        self.proc = subprocess.Popen([python, "-c", FEAST_SCRIPT, json.dumps(_job_with_frames(job, frames))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.wait(60)
            raise RuntimeError("the Feast side failed to start (its error is above)")

    def times(self, batch: int, calls: int, seed: int) -> list[float]:
        """``calls`` timed ``get_online_features`` calls of ``batch`` rows (ms each)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"batch": batch, "calls": calls, "seed": seed}) + "\n")
        self.proc.stdin.flush()
        times: list[float] = json.loads(self.proc.stdout.readline())
        return times

    def close(self) -> None:
        """End the script (it tears its project down)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(120)

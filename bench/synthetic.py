"""Synthetic benchmark repo: two feature views (10M + 5M rows, 3 features each), 100k keys, 1M entity rows.

Generated once into bench/.data (deterministic seed) and reused by every bench script. The same data as a
Feast repo (``ensure_feast_repo``), and the helpers that run one measurement in a fresh interpreter (ladle's
or Feast's, ``run_child``) and print both sides with their ratio (``print_comparison``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).parent / ".data"
KEYS = 100_000
DAYS = 30
START = np.datetime64("2026-01-01T00:00:00", "us").astype("int64")
SPAN_US = DAYS * 86_400 * 1_000_000

REPO_PY = textwrap.dedent(
    """
    from datetime import timedelta

    from ladle import Entity, FeatureView, Field, FileSource
    from ladle.types import Float32, Float64, Int64

    driver = Entity(name="driver", join_keys=["driver_id"])

    driver_stats = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(days=3650),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
                Field(name="trips", dtype=Int64)],
        source=FileSource(name="driver_stats_src", path="data/driver_stats.parquet",
                          timestamp_field="event_timestamp", created_timestamp_column="created"),
    )

    driver_quality = FeatureView(
        name="driver_quality",
        entities=[driver],
        ttl=timedelta(days=3650),
        schema=[Field(name="rating", dtype=Float64), Field(name="complaints", dtype=Int64),
                Field(name="tenure_days", dtype=Int64)],
        source=FileSource(name="driver_quality_src", path="data/driver_quality.parquet",
                          timestamp_field="event_timestamp", created_timestamp_column="created"),
    )
    """
)

YAML = """project: bench
registry: data/registry.db
provider: local
offline_store:
  type: duckdb
online_store:
{online}
"""
ONLINE = {
    "sqlite": "  type: sqlite\n  path: data/online_store.db",
    "redis": "  type: redis\n  connection_string: 127.0.0.1:6379",
    "postgres": "  type: postgres\n  host: 127.0.0.1\n  database: test\n  user: postgres\n  db_schema: ladle_bench",
    # a moto server (moto_server -H 127.0.0.1 -p 5001) or DynamoDB Local; AWS_* credentials from the environment
    "dynamodb": "  type: dynamodb\n  region: us-east-1\n  endpoint_url: ${LADLE_BENCH_DYNAMODB_URL:-http://127.0.0.1:5001}\n"
    "  write_mode: ${LADLE_BENCH_DYNAMODB_WRITE_MODE:-batch}",
}


FEAST_REPO_PY = textwrap.dedent(
    """
    from datetime import timedelta

    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float32, Float64, Int64
    from feast.value_type import ValueType

    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)

    driver_stats = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(days=3650),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
                Field(name="trips", dtype=Int64)],
        source=FileSource(name="driver_stats_src", path={stats!r},
                          timestamp_field="event_timestamp", created_timestamp_column="created"),
    )

    driver_quality = FeatureView(
        name="driver_quality",
        entities=[driver],
        ttl=timedelta(days=3650),
        schema=[Field(name="rating", dtype=Float64), Field(name="complaints", dtype=Int64),
                Field(name="tenure_days", dtype=Int64)],
        source=FileSource(name="driver_quality_src", path={quality!r},
                          timestamp_field="event_timestamp", created_timestamp_column="created"),
    )
    """
)

FEAST_YAML = """project: bench_feast
registry: data/registry.db
provider: local
entity_key_serialization_version: 3
offline_store:
  type: file
online_store:
{online}
"""
FEAST_ONLINE = {
    "sqlite": "  type: sqlite\n  path: data/online_store.db",
    "redis": "  type: redis\n  connection_string: 127.0.0.1:6379",
}


def _source(rows: int, seed: int, view: str) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = START + rng.integers(0, SPAN_US, rows)
    if view == "driver_stats":
        features = {
            "conv_rate": rng.random(rows).astype(np.float32),
            "acc_rate": rng.random(rows),
            "trips": rng.integers(0, 1000, rows),
        }
    else:
        features = {
            "rating": rng.random(rows) * 5,
            "complaints": rng.integers(0, 10, rows),
            "tenure_days": rng.integers(0, 3000, rows),
        }
    return pa.table(
        {
            "driver_id": rng.integers(0, KEYS, rows),
            "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "created": pa.array(ts + rng.integers(0, 3_600_000_000, rows), pa.timestamp("us", tz="UTC")),
            **features,
        }
    )


def entity_table(rows: int = 1_000_000, seed: int = 7) -> pa.Table:
    """Entity rows: random drivers (a few absent keys) at random times inside the data's span."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "driver_id": rng.integers(0, int(KEYS * 1.02), rows),
            "event_timestamp": pa.array(START + rng.integers(0, SPAN_US, rows), pa.timestamp("us", tz="UTC")),
            "label": rng.integers(0, 2, rows),
        }
    )


def ensure_repo(scale: float = 1.0, reset: bool = False, online: str = "sqlite") -> Path:
    """Create (once) bench/.data/repo_<scale> with the parquet data, yaml and definitions.

    ``reset`` removes the registry and online store left by an earlier run.
    """
    repo = ROOT / f"repo_{scale:g}"
    data = repo / "data"
    if reset:
        for leftover in (
            "registry.db",
            "registry.db.lock",
            "online_store.db",
            "online_store.db-wal",
            "online_store.db-shm",
        ):
            (data / leftover).unlink(missing_ok=True)
    if not (data / "driver_quality.parquet").exists():
        data.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            _source(int(10_000_000 * scale), 1, "driver_stats"), data / "driver_stats.parquet", row_group_size=1_000_000
        )
        pq.write_table(
            _source(int(5_000_000 * scale), 2, "driver_quality"),
            data / "driver_quality.parquet",
            row_group_size=1_000_000,
        )
    (repo / "feature_store.yaml").write_text(YAML.format(online=ONLINE[online]))
    (repo / "features.py").write_text(REPO_PY)
    return repo


def ensure_feast_repo(
    data: Path, online: str = "sqlite", apply: str | None = None, project: str = "bench_feast"
) -> Path:
    """A Feast repo over the parquet files in ``data`` (a ladle bench repo's ``data`` folder, read in place).

    ``apply``: the Python of a Feast install; when given, ``feast apply`` runs in the repo (with its online
    store emptied first, so a materialization starts from nothing). ``project``: Feast's project name."""
    repo = data.parent.parent / f"feast_{data.parent.name}_{online}"
    (repo / "data").mkdir(parents=True, exist_ok=True)
    for leftover in ("registry.db", "online_store.db"):
        (repo / "data" / leftover).unlink(missing_ok=True)
    yaml = FEAST_YAML.format(online=FEAST_ONLINE[online])
    (repo / "feature_store.yaml").write_text(yaml.replace("project: bench_feast\n", f"project: {project}\n", 1))
    stats, quality = (str((data / f"{v}.parquet").resolve()) for v in ("driver_stats", "driver_quality"))
    (repo / "features.py").write_text(FEAST_REPO_PY.format(stats=stats, quality=quality))
    if apply:
        feast = str(Path(apply).parent / "feast")
        if online == "redis":  # Feast keeps Redis data between runs: drop the project's keys first
            subprocess.run([feast, "teardown"], cwd=repo, check=False, capture_output=True)
        subprocess.run([feast, "apply"], cwd=repo, check=True, capture_output=True, text=True)
    return repo


def run_child(python: str, code: str, timeout: float | None = None, limit_bytes: int | None = None) -> dict:
    """Run ``code`` in a fresh ``python`` and return the JSON object its last stdout line prints, plus
    ``rss_gb`` (the child's peak RSS, from the kernel's accounting of the waited-for child) and ``cpu_s`` (the
    child's whole CPU time, start-up included: on a busy machine a steadier figure than wall time).

    ``limit_bytes`` caps the child's address space (``prlimit --as``), so a run that would take the machine's
    memory fails instead. A failure returns ``{"error": ...}`` with the end of the child's stderr.
    """
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    cmd = [python, "-c", code]
    if limit_bytes:
        cmd = ["prlimit", f"--as={limit_bytes}", "--", *cmd]
    wrapper = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-3000:], 'rss_gb': ru.ru_maxrss / 1e6,\n"
        "                  'cpu_s': ru.ru_utime + ru.ru_stime}))\n"
    )
    # its own process group, so a timeout stops the measured process too, not only the wrapper
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"did not finish in {timeout:.0f} s"}
    report = json.loads(stdout)
    lines = report["out"].strip().splitlines()
    if report["rc"] != 0 or not lines:
        tail = report["err"].strip().splitlines()[-1:] or [f"exit status {report['rc']}"]
        return {"error": tail[0][:300], "rss_gb": report["rss_gb"]}
    return {**json.loads(lines[-1]), "rss_gb": report["rss_gb"], "cpu_s": report["cpu_s"]}


def best(runs: list[dict]) -> dict:
    """The fastest successful run (or the first failure when every run failed)."""
    ok = [r for r in runs if "error" not in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else runs[0]


def print_comparison(what: str, ladle: dict, feast: dict | None, unit: str = "s") -> None:
    """Print ladle's and Feast's time and peak RSS for ``what`` and the ratios ladle / Feast."""

    def side(r: dict) -> str:
        if "error" in r:
            return f"failed ({r['error']})" + (f", peak RSS {r['rss_gb']:.2f} GB" if r.get("rss_gb") else "")
        cpu = f" (process CPU {r['cpu_s']:.1f} s)" if "cpu_s" in r else ""
        return f"{r['seconds']:.2f} {unit}, peak RSS {r['rss_gb']:.2f} GB{cpu}"

    print(what)
    print(f"  ladle:      {side(ladle)}")
    if feast is None:
        print("  Feast:      not measured (pass --feast-python PATH to a Python where Feast is installed)")
        return
    print(f"  Feast:      {side(feast)}")
    if "error" not in ladle and "error" not in feast:
        print(
            f"  ladle/Feast: time {ladle['seconds'] / feast['seconds']:.3f}x "
            f"({feast['seconds'] / ladle['seconds']:.1f}x faster), peak RSS {ladle['rss_gb'] / feast['rss_gb']:.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--online", choices=sorted(ONLINE), default="sqlite")
    args = parser.parse_args()
    print(ensure_repo(args.scale, online=args.online))

"""Scale: a training set larger than memory on DuckDB, and materialization of the whole source into SQLite and Redis.

Full size (the default): one feature view over 100M source rows (2M keys, 3 features and a created timestamp,
30 days), 10M entity rows. The data is written by DuckDB straight to parquet (no pandas) into
bench/.data/scale_<rows>, once. The offline store runs with ``memory_limit`` and ``temp_directory`` (it spills).

Run: nice -n 15 python bench/scale.py [--rows 100000000] [--memory-limit 6GB]
                                      [--phases historical,sqlite,redis,feast-historical,feast-sqlite]
                                      [--feast-python /work/feast-venv/bin/python] [--feast-memory 12G]
Each phase runs in a fresh interpreter and reports seconds, rows/s and peak RSS. Feast's phases run the same
work on the same parquet under a memory cap (``prlimit --as``; this machine has no systemd for
``systemd-run -p MemoryMax``) and a timeout, so a run that cannot fit fails instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import ROOT, run_child

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
SPAN_US = 30 * 86_400 * 1_000_000

FEATURES_PY = textwrap.dedent(
    """
    from datetime import timedelta

    from {pkg} import Entity, FeatureView, Field, FileSource
    from {pkg}.types import Float32, Float64, Int64

    driver = Entity(name="driver", join_keys=["driver_id"]{value_type})

    events = FeatureView(
        name="events",
        entities=[driver],
        ttl=timedelta(days=3650),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
                Field(name="trips", dtype=Int64)],
        source=FileSource(name="events_src", path={path!r},
                          timestamp_field="event_timestamp", created_timestamp_column="created"),
    )
    """
)

LADLE_YAML = """project: ladle_bench_scale
registry: data/registry_{online}.db
provider: local
offline_store:
  type: duckdb
  memory_limit: {memory}
  temp_directory: data/spill
online_store:
{store}
batch_engine:
  batch_size: 500000
"""
FEAST_YAML = """project: ladle_bench_scale_feast
registry: data/registry_feast_{online}.db
provider: local
entity_key_serialization_version: 3
offline_store:
  type: file
online_store:
{store}
"""
STORES = {
    "sqlite": "  type: sqlite\n  path: data/online_{tag}.db",
    "redis": "  type: redis\n  connection_string: 127.0.0.1:6379",
}

HISTORICAL = """
import json, time
import pyarrow.parquet as pq
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r}, fs_yaml_file={yaml!r})
store.apply_repo()
entities = pq.read_table({entities!r})
t0 = time.perf_counter()
table = store.get_historical_features(entities, ["events:conv_rate", "events:acc_rate", "events:trips"]).to_arrow()
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rows": table.num_rows, "nulls": table.column("trips").null_count}}))
"""

MATERIALIZE = """
import json, sys, time
from datetime import UTC, datetime
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r}, fs_yaml_file={yaml!r})
store.apply_repo()
views = store.list_feature_views()
def clear():
    if {redis}:  # the bench's own project keys, in pipelined batches (teardown is two round trips a key)
        import redis
        client = redis.Redis.from_url("redis://127.0.0.1:6379")
        batch = []
        for key in client.scan_iter(match=f"ladle:{{store.project}}:*", count=10000):
            batch.append(key)
            if len(batch) == 10000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
    else:
        store.online_store.teardown(store.project, views)
clear()
store.online_store.update(store.project, views, [])
marks = []
def progress(view, done, total):
    marks.append((time.perf_counter(), done, total))
    print(f"  {{view}}: {{done:,}} / {{total:,}} rows", file=sys.stderr, flush=True)
t0 = time.perf_counter()
[result] = store.materialize(datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC), progress=progress)
elapsed = time.perf_counter() - t0
first_write = marks[0][0] - t0  # the offline aggregate, before the first online write
if {redis}:
    clear()  # a shared Redis: do not leave millions of keys behind
print(json.dumps({{"seconds": elapsed, "rows": result.rows, "aggregate_seconds": first_write,
                   "reports": len(marks)}}))
"""

FEAST_HISTORICAL = """
import json, time, warnings
warnings.filterwarnings("ignore")
import pyarrow.parquet as pq
from feast import FeatureStore
store = FeatureStore(repo_path={repo!r}, fs_yaml_file={yaml!r})
entities = pq.read_table({entities!r}).to_pandas()
t0 = time.perf_counter()
df = store.get_historical_features(entity_df=entities, features=["events:conv_rate", "events:acc_rate",
                                                                  "events:trips"]).to_df()
print(json.dumps({{"seconds": time.perf_counter() - t0, "rows": len(df)}}))
"""

FEAST_MATERIALIZE = """
import json, time, warnings
warnings.filterwarnings("ignore")
from datetime import datetime, timezone
from feast import FeatureStore
store = FeatureStore(repo_path={repo!r}, fs_yaml_file={yaml!r})
t0 = time.perf_counter()
store.materialize(datetime(2025, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc))
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""


def build(rows: int) -> Path:
    """bench/.data/scale_<rows>: events.parquet (``rows``), entities.parquet (``rows / 10``), written by DuckDB."""
    repo = ROOT / f"scale_{rows}"
    data = repo / "data"
    events, entities = data / "events.parquet", data / "entities.parquet"
    keys = max(rows // 50, 1)
    if not entities.exists():
        data.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        # deterministic: every value is a hash of the row number
        con.execute(
            f"""COPY (SELECT (hash(i, 1) % {keys})::BIGINT AS driver_id,
                    make_timestamp({START_US} + (hash(i, 2) % {SPAN_US})::BIGINT) AS event_timestamp,
                    make_timestamp({START_US} + (hash(i, 2) % {SPAN_US})::BIGINT
                                   + (hash(i, 3) % 3600000000)::BIGINT) AS created,
                    ((hash(i, 4) % 1000000) / 1e6)::FLOAT AS conv_rate,
                    (hash(i, 5) % 1000000) / 1e6 AS acc_rate,
                    (hash(i, 6) % 1000)::BIGINT AS trips
                FROM range({rows}) t(i))
            TO '{events}.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
        )
        n = max(rows // 10, 1)
        con.execute(
            f"""COPY (SELECT (hash(i, 7) % {int(keys * 1.02)})::BIGINT AS driver_id,
                    make_timestamp({START_US} + (hash(i, 8) % {SPAN_US})::BIGINT) AS event_timestamp,
                    (hash(i, 9) % 2)::BIGINT AS label
                FROM range({n}) t(i))
            TO '{entities}.tmp' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
        )
        con.close()
        Path(f"{events}.tmp").replace(events)
        Path(f"{entities}.tmp").replace(entities)
        print(f"built {rows:,} source rows and {n:,} entity rows in {time.perf_counter() - t0:.0f} s ({repo})")
    return repo


def write_repo(repo: Path, memory: str) -> None:
    events = str((repo / "data" / "events.parquet").resolve())
    (repo / "features.py").write_text(FEATURES_PY.format(pkg="ladle", value_type="", path=events))
    feast = _feast_dir(repo)
    feast.mkdir(exist_ok=True)
    (feast / "data").mkdir(exist_ok=True)
    (feast / "features.py").write_text(
        FEATURES_PY.format(pkg="feast", value_type=", value_type=ValueType.INT64", path=events).replace(
            "from feast.types", "from feast.value_type import ValueType\nfrom feast.types"
        )
    )
    for online, store in STORES.items():
        (repo / f"{online}.yaml").write_text(
            LADLE_YAML.format(online=online, memory=memory, store=store.format(tag="ladle"))
        )
        (feast / f"{online}.yaml").write_text(FEAST_YAML.format(online=online, store=store.format(tag="feast")))


def feast_phase(args: argparse.Namespace, repo: Path, online: str, code: str) -> dict:
    """Feast on the same parquet, under ``prlimit --as`` (its address space: a run that needs more fails
    with MemoryError instead of taking the machine) and a timeout."""
    feast_dir = _feast_dir(repo)
    yaml = feast_dir / f"{online}.yaml"
    for leftover in (f"registry_feast_{online}.db", "online_feast.db"):
        (feast_dir / "data" / leftover).unlink(missing_ok=True)
    shutil.copy(yaml, feast_dir / "feature_store.yaml")
    cli = str(Path(args.feast_python).parent / "feast")
    subprocess.run([cli, "apply"], cwd=feast_dir, check=True, capture_output=True)
    source = code.format(repo=str(feast_dir), yaml=str(yaml), entities=str(repo / "data" / "entities.parquet"))
    result = run_child(args.feast_python, source, timeout=args.feast_timeout, limit_bytes=_bytes(args.feast_memory))
    return {**result, "cap": f"prlimit --as={args.feast_memory}"}


def _feast_dir(repo: Path) -> Path:
    """Feast's repo: beside ladle's, not inside it (a repo loads every .py file under it)."""
    return repo.parent / f"{repo.name}_feast"


def _bytes(size: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    return int(float(size[:-1]) * units[size[-1].upper()]) if size[-1].upper() in units else int(size)


def report(name: str, r: dict, rows: int, what: str) -> None:
    if "error" in r:
        extra = f", peak RSS {r['rss_gb']:.2f} GB" if r.get("rss_gb") else ""
        print(f"{name}: FAILED: {r['error']}{extra}" + (f" [{r['cap']}]" if r.get("cap") else ""))
        return
    line = f"{name}: {r['seconds']:.1f} s, {rows / r['seconds']:,.0f} {what}/s, peak RSS {r['rss_gb']:.2f} GB"
    if "rows" in r:
        line += f", {r['rows']:,} rows out"
    if "aggregate_seconds" in r:
        line += f" (offline aggregate {r['aggregate_seconds']:.1f} s, {r['reports']} progress reports)"
    print(line + (f" [{r['cap']}]" if r.get("cap") else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000_000, help="source rows (entity rows are a tenth)")
    parser.add_argument("--memory-limit", default="6GB", help="the DuckDB offline store's memory_limit")
    parser.add_argument("--phases", default="historical,sqlite,redis", help="comma-separated; see the doc above")
    parser.add_argument("--feast-python", help="the Python of a venv where Feast is installed (feast-* phases)")
    parser.add_argument("--feast-memory", default="12G", help="memory cap of each Feast phase")
    parser.add_argument("--feast-timeout", type=float, default=900, help="seconds before a Feast phase is stopped")
    args = parser.parse_args()
    repo = build(args.rows)
    write_repo(repo, args.memory_limit)
    entities = args.rows // 10
    print(
        f"scale: {args.rows:,} source rows, {entities:,} entity rows; DuckDB memory_limit {args.memory_limit}",
        flush=True,
    )
    results = {}
    for phase in args.phases.split(","):
        if phase == "historical":
            code = HISTORICAL.format(
                repo=str(repo), yaml=str(repo / "sqlite.yaml"), entities=str(repo / "data" / "entities.parquet")
            )
            results[phase] = r = run_child(sys.executable, code)
            report("ladle historical", r, entities, "entity rows")
        elif phase in STORES:
            code = MATERIALIZE.format(repo=str(repo), yaml=str(repo / f"{phase}.yaml"), redis=phase == "redis")
            results[phase] = r = run_child(sys.executable, code)
            report(f"ladle materialize -> {phase}", r, args.rows, "source rows")
        elif phase.startswith("feast-") and args.feast_python:
            kind = phase.removeprefix("feast-")
            if kind == "historical":
                results[phase] = r = feast_phase(args, repo, "sqlite", FEAST_HISTORICAL)
                report("Feast historical", r, entities, "entity rows")
            else:
                results[phase] = r = feast_phase(args, repo, kind, FEAST_MATERIALIZE)
                report(f"Feast materialize -> {kind}", r, args.rows, "source rows")
        else:
            print(f"skipped phase {phase!r} (unknown, or a feast-* phase without --feast-python)")
    (repo / "last_results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

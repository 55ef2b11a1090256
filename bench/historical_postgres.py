"""Benchmark: get_historical_features on the PostgreSQL offline store, ladle and Feast side by side.

Same data as bench/historical.py (10M + 5M source rows and 1M entity rows at --scale 1; 1M + 0.5M and 100k
at --scale 0.1), COPY'd once into PostgreSQL tables in two shapes: ``plain`` (no index, as users' tables
and every ``query=`` source are) and ``indexed`` (a B-tree on (driver_id, event_timestamp)). For each shape it
times ladle's point-in-time join inside PostgreSQL and, with --feast-python, Feast's PostgreSQL offline store
on the very same tables and entity rows (in that interpreter, a fresh process), then prints both and the ratio.
Both results are checked: same row count, missing values and sum of every feature.

Run: nice -n 10 python bench/historical_postgres.py --scale 0.1 --feast-python /path/to/feast-venv/bin/python
     [--tables plain indexed] [--plan auto|window|lateral] [--repeat 3] [--feast-timeout 600]
     [--dsn "host=127.0.0.1 port=5432 user=postgres dbname=test"]
     --append 200000: instead, time the offline store's ``append`` (push to offline, stream sinks) of that many
     rows of driver_stats' shape into a fresh table, median of --repeat (Feast 0.67's PostgreSQL offline store
     has no offline write, so ladle only)
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import ROOT, ensure_repo, entity_table

from ladle import FeatureStore

FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:acc_rate",
    "driver_stats:trips",
    "driver_quality:rating",
    "driver_quality:complaints",
    "driver_quality:tenure_days",
]
SCHEMA = "ladle_bench_offline"
COLUMNS = {
    "driver_stats": "driver_id BIGINT, event_timestamp TIMESTAMPTZ, created TIMESTAMPTZ, conv_rate REAL, "
    "acc_rate DOUBLE PRECISION, trips BIGINT",
    "driver_quality": "driver_id BIGINT, event_timestamp TIMESTAMPTZ, created TIMESTAMPTZ, rating DOUBLE PRECISION, "
    "complaints BIGINT, tenure_days BIGINT",
}

FEAST_REPO = '''
from datetime import timedelta
from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
from feast.types import Float32, Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
driver_stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(days=3650),
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
            Field(name="trips", dtype=Int64)],
    source=PostgreSQLSource(name="driver_stats_src", table="{schema}.driver_stats_{suffix}",
                            timestamp_field="event_timestamp", created_timestamp_column="created"),
)
driver_quality = FeatureView(
    name="driver_quality", entities=[driver], ttl=timedelta(days=3650),
    schema=[Field(name="rating", dtype=Float64), Field(name="complaints", dtype=Int64),
            Field(name="tenure_days", dtype=Int64)],
    source=PostgreSQLSource(name="driver_quality_src", table="{schema}.driver_quality_{suffix}",
                            timestamp_field="event_timestamp", created_timestamp_column="created"),
)
'''

FEAST_CHILD = '''
import json, sys, time
import pandas as pd
sys.path.insert(0, {repo!r})
from feast import FeatureStore
import features
store = FeatureStore(repo_path={repo!r})
store.apply([features.driver, features.driver_stats, features.driver_quality])
entities = pd.read_parquet({entities!r})
t0 = time.perf_counter()
table = store.get_historical_features(entity_df=entities, features={features!r}).to_arrow()
elapsed = time.perf_counter() - t0
import pyarrow.compute as pc
print(json.dumps({{"seconds": elapsed, "rows": table.num_rows,
                   "nulls": {{c: table.column(c).null_count for c in {names!r}}},
                   "sums": {{c: float(pc.sum(table.column(c).cast("float64")).as_py() or 0) for c in {names!r}}}}}))
'''


def load(dsn: str, data: Path, suffix: str, indexed: bool) -> None:
    """Copy each parquet file into ``{SCHEMA}.{view}_{suffix}`` unless it is already there; with an index on
    (driver_id, event_timestamp) when ``indexed``."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        for view, columns in COLUMNS.items():
            table = f'"{SCHEMA}"."{view}_{suffix}"'
            source = pq.read_table(data / f"{view}.parquet")
            exists = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{view}_{suffix}",)).fetchone()
            if exists and exists[0] and conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == source.num_rows:
                continue
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE UNLOGGED TABLE {table} ({columns})")
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
                for batch in source.select([c.split()[0] for c in columns.split(", ")]).to_batches(500_000):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getvalue())
            if indexed:
                conn.execute(f"CREATE INDEX ON {table} (driver_id, event_timestamp)")
            conn.execute(f"ANALYZE {table}")
            print(f"  loaded {source.num_rows:,} rows into {table} in {time.perf_counter() - t0:.1f} s", flush=True)


def repo_for(dsn: str, scale: float, suffix: str) -> Path:
    repo = ROOT / f"pg_repo_{suffix}"
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        f"project: bench_pg\nregistry: data/registry.db\nprovider: local\n"
        f'offline_store:\n  type: postgres\n  dsn: "{dsn}"\n  db_schema: {SCHEMA}\n'
        f"online_store:\n  type: sqlite\n  path: data/online_store.db\n"
    )
    (repo / "features.py").write_text(
        (Path(ensure_repo(scale)) / "features.py")
        .read_text()
        .replace(
            "from ladle import Entity, FeatureView, Field, FileSource",
            "from ladle import Entity, FeatureView, Field, PostgreSQLSource",
        )
        .replace(
            'FileSource(name="driver_stats_src", path="data/driver_stats.parquet",',
            f'PostgreSQLSource(name="driver_stats_src", table="driver_stats_{suffix}",',
        )
        .replace(
            'FileSource(name="driver_quality_src", path="data/driver_quality.parquet",',
            f'PostgreSQLSource(name="driver_quality_src", table="driver_quality_{suffix}",',
        )
    )
    return repo


def feast_repo(dsn: str, suffix: str, folder: Path) -> Path:
    """A Feast repo whose two views read the same PostgreSQL tables (Feast's keys taken from ``dsn``)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(dsn)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feature_store.yaml").write_text(textwrap.dedent(f"""\
        project: bench_pg_feast
        registry: {folder / 'registry.db'}
        provider: local
        entity_key_serialization_version: 3
        offline_store:
          type: postgres
          host: {parts.get('host', '127.0.0.1')}
          port: {parts.get('port', 5432)}
          database: {parts.get('dbname', 'postgres')}
          db_schema: {SCHEMA}
          user: {parts.get('user', 'postgres')}
          password: "{parts.get('password', 'unused')}"
          sslmode: disable
        online_store:
          type: sqlite
          path: {folder / 'online.db'}
        """))
    (folder / "features.py").write_text(FEAST_REPO.format(schema=SCHEMA, suffix=suffix))
    return folder


def stop_feast_queries(dsn: str, since: float) -> None:
    """Terminate the queries Feast's stopped run left on the server (a killed client does not cancel them):
    its point-in-time query, started after ``since`` (a ``time.time()``)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND query LIKE %s AND query_start >= to_timestamp(%s)",
            ("%left_table_query_string%", since),
        )


def run_feast(python: str, repo: Path, entities: Path, timeout: float, dsn: str) -> dict | str:
    """Feast's result summary, or what happened instead (a timeout, an error)."""
    names = [f.split(":")[1] for f in FEATURES]
    code = FEAST_CHILD.format(repo=str(repo), entities=str(entities), features=FEATURES, names=names)
    started = time.time()
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=repo, check=False)
    except subprocess.TimeoutExpired:
        stop_feast_queries(dsn, started)
        return f"did not finish in {timeout:g} s (stopped)"
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ladle(repo: Path, rows: int, plan: str) -> dict:
    import ladle.offline.postgres as pg_store

    if plan != "auto":  # force one plan: the probe-per-row one only applies where the index exists
        pg_store.LATERAL_MAX_FRACTION = float("inf") if plan == "lateral" else 0.0
        pg_store.LATERAL_CACHED_FRACTION = float("inf") if plan == "lateral" else 0.0
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    entities = entity_table(rows)
    t0 = time.perf_counter()
    table = store.get_historical_features(entities, FEATURES).to_arrow()
    elapsed = time.perf_counter() - t0
    names = [f.split(":")[1] for f in FEATURES]
    return {
        "seconds": elapsed,
        "rows": table.num_rows,
        "nulls": {c: table.column(c).null_count for c in names},
        "sums": {c: float(pc.sum(table.column(c).cast("float64")).as_py() or 0) for c in names},
    }


def run_append(dsn: str, rows: int, repeat: int) -> None:
    """Time ``PostgreSQLOfflineStore.append`` of ``rows`` rows (6 columns, driver_stats' shape) into an empty
    table, ``repeat`` times, and print the median rows/s."""
    import psycopg

    from ladle.definitions import PostgreSQLSource
    from ladle.offline.postgres import PostgreSQLOfflineStore, PostgreSQLOfflineStoreConfig

    data = pq.read_table(ensure_repo(0.1) / "data" / "driver_stats.parquet").slice(0, rows)
    table = f"append_bench_{int(time.time())}"
    store = PostgreSQLOfflineStore(PostgreSQLOfflineStoreConfig(dsn=dsn, db_schema=SCHEMA), Path("."))
    source = PostgreSQLSource(name="append_bench", table=table, timestamp_field="event_timestamp")
    seconds = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        try:
            for _ in range(repeat):
                conn.execute(f'DROP TABLE IF EXISTS "{SCHEMA}"."{table}"')
                conn.execute(f'CREATE TABLE "{SCHEMA}"."{table}" ({COLUMNS["driver_stats"]})')
                t0 = time.perf_counter()
                store.append(source, data)
                seconds.append(time.perf_counter() - t0)
                count = conn.execute(f'SELECT count(*) FROM "{SCHEMA}"."{table}"').fetchone()[0]
                assert count == data.num_rows, count
                print(f"  append run: {seconds[-1]:.2f} s", flush=True)
        finally:
            conn.execute(f'DROP TABLE IF EXISTS "{SCHEMA}"."{table}"')
            store.close()
    median = statistics.median(seconds)
    print(f"offline append to PostgreSQL, {data.num_rows:,} rows x {data.num_columns} columns")
    print(f"  ladle: {median:.2f} s, {data.num_rows / median:,.0f} rows/s (median of {len(seconds)})")
    print("  feast 0.67: no offline write for its PostgreSQL offline store (push to offline is unsupported)")


def agree(a: dict, b: dict) -> bool:
    """Same row count, same missing values and the same sum of every feature (to 9 significant digits)."""
    return (
        a["rows"] == b["rows"]
        and a["nulls"] == b["nulls"]
        and all(math.isclose(a["sums"][c], b["sums"][c], rel_tol=1e-9) for c in a["sums"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    parser.add_argument("--tables", nargs="+", choices=["plain", "indexed"], default=["plain", "indexed"])
    parser.add_argument("--plan", choices=["auto", "window", "lateral"], default="auto",
                        help="ladle's join plan (lateral applies only to indexed tables)")
    parser.add_argument("--feast-python", help="a Python with Feast 0.67 and its postgres extra installed")
    parser.add_argument("--feast-timeout", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, interleaved; medians are compared")
    parser.add_argument("--append", type=int, metavar="ROWS", help="time the offline append of ROWS rows instead")
    args = parser.parse_args()
    if args.append:
        run_append(args.dsn, args.append, args.repeat)
        return
    data = ensure_repo(args.scale) / "data"
    rows = int(1_000_000 * args.scale)
    source_rows = int(15_000_000 * args.scale)
    entities_file = Path(tempfile.mkdtemp(prefix="ladle_bench_pg_")) / "entities.parquet"
    pq.write_table(entity_table(rows), entities_file)
    for shape in args.tables:
        suffix = f"{args.scale:g}".replace(".", "_") + f"_{shape}"
        load(args.dsn, data, suffix, indexed=shape == "indexed")
        repo = repo_for(args.dsn, args.scale, suffix)
        feast_dir = feast_repo(args.dsn, suffix, ROOT / f"feast_pg_{suffix}") if args.feast_python else None
        ladle_runs: list[dict] = []
        feast_runs: list[dict | str] = []
        for _ in range(args.repeat):  # interleaved, so both see the same load
            ladle_runs.append(run_ladle(repo, rows, args.plan))
            print(f"  ({shape}) ladle run: {ladle_runs[-1]['seconds']:.2f} s", flush=True)
            if feast_dir is not None:
                feast_runs.append(run_feast(args.feast_python, feast_dir, entities_file, args.feast_timeout, args.dsn))
        report(shape, rows, source_rows, args.plan, ladle_runs, feast_runs)


def report(shape: str, rows: int, source_rows: int, plan: str, ladle_runs: list[dict], feast_runs: list) -> None:
    """Print the median of each side's runs (and every run), the ratio of the medians, and whether they agree."""
    ladle = statistics.median(r["seconds"] for r in ladle_runs)
    every = ", ".join(f"{r['seconds']:.2f}" for r in ladle_runs)
    print(f"historical on PostgreSQL, {rows:,} entity rows x {source_rows:,} source rows, 6 features, {shape} tables")
    print(f"  ladle ({plan} plan): {ladle:.2f} s (median of {every})", flush=True)
    if not feast_runs:
        print("  feast: skipped (give --feast-python PATH to compare)")
        return
    failed = [r for r in feast_runs if isinstance(r, str)]
    if failed:
        print(f"  feast 0.67: {failed[0]}", flush=True)
        return
    feast = statistics.median(r["seconds"] for r in feast_runs)
    same = all(agree(ladle_runs[0], r) for r in feast_runs)
    print(f"  feast 0.67:  {feast:.2f} s (median of {', '.join(format(r['seconds'], '.2f') for r in feast_runs)})")
    print(f"  ratio: ladle is {feast / ladle:.1f}x faster (same rows, missing values and feature sums: {same})", flush=True)


if __name__ == "__main__":
    main()

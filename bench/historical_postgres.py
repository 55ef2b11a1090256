"""Benchmark: get_historical_features on the PostgreSQL offline store, same data as bench/historical.py.

Loads the synthetic parquet files (10M + 5M rows at --scale 1) into PostgreSQL tables once (COPY, then an
index on (driver_id, event_timestamp) — what a user's history table would have), then times the
point-in-time join of the entity rows inside PostgreSQL, and the same join on DuckDB for comparison.
Run: python bench/historical_postgres.py [--scale 0.1] [--dsn "host=127.0.0.1 user=postgres dbname=test"]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

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


def load(dsn: str, data: Path, suffix: str) -> None:
    """Copy each parquet file into ``{SCHEMA}.{view}_{suffix}`` unless it is already there."""
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
            conn.execute(f"CREATE INDEX ON {table} (driver_id, event_timestamp)")
            conn.execute(f"ANALYZE {table}")
            print(f"  loaded {source.num_rows:,} rows into {table} in {time.perf_counter() - t0:.1f} s")


def repo_for(dsn: str, scale: float, suffix: str) -> Path:
    repo = ROOT / f"pg_repo_{scale:g}"
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


def timed(store: FeatureStore, rows: int) -> float:
    entities = entity_table(rows)
    t0 = time.perf_counter()
    table = store.get_historical_features(entities, FEATURES).to_arrow()
    assert table.num_rows == rows
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    args = parser.parse_args()
    suffix = f"{args.scale:g}".replace(".", "_")
    duck_repo = ensure_repo(args.scale)
    load(args.dsn, duck_repo / "data", suffix)
    repo = repo_for(args.dsn, args.scale, suffix)
    rows = int(1_000_000 * args.scale)
    pg = FeatureStore(repo_path=repo)
    pg.apply_repo()
    seconds = timed(pg, rows)
    duck = FeatureStore(repo_path=duck_repo)
    duck.apply_repo()
    print(f"historical {rows:,} entity rows x {int(15_000_000 * args.scale):,} feature rows, 6 features")
    print(f"  postgres offline store: {seconds:.2f} s")
    print(f"  duckdb offline store:   {timed(duck, rows):.2f} s")


if __name__ == "__main__":
    main()

"""Benchmark: windowed aggregates in get_historical_features, ladle vs a hand-written DuckDB band join.

100k entity rows x 10M events, 11 aggregates (sum, count, mean, min, max, std, var, count_distinct, first,
last, last_5) over 2 windows (1 h and 1 day): 22 features. The band join is the query one writes by hand:
``LEFT JOIN events ON key AND ts <= t AND ts > t - W GROUP BY row``, the shorter window as FILTER clauses,
over the same parquet. ``--skew`` puts half of the events and half of the entity rows on 10 hot keys.

Run: python bench/windowed_historical.py [--scale 0.1] [--skew] [--repeat 3] [--offline duckdb|postgres]
Each measurement runs in a fresh subprocess; both sides use DuckDB's default threads and return Arrow.
``--offline postgres`` loads the events into a table of a fresh schema of the test PostgreSQL
(``LADLE_BENCH_POSTGRES_DSN``, default ``host=127.0.0.1 port=5432 user=postgres dbname=test``), runs ladle
on the PostgreSQL offline store, and drops the schema; the band join stays DuckDB's, as the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).parent / ".data" / "windowed"
START_US = 1_767_225_600_000_000  # 2026-01-01 UTC
SPAN_US = 30 * 86_400 * 1_000_000  # events over 30 days
KEYS = 100_000
FUNCTIONS = ["sum", "count", "avg", "min", "max", "stddev", "var", "count_distinct", "first", "last", "last_5"]
WINDOWS = {"1h": 3_600, "1d": 86_400}

REPO_PY = """
from datetime import timedelta
from ladle import Aggregation, BatchFeatureView, Entity, FileSource

user = Entity(name="user", join_keys=["user_id"])
events = FileSource(name="events", path={path!r}, timestamp_field="ts")
tx = BatchFeatureView(
    name="tx", entities=[user], source=events, ttl=timedelta(0),
    aggregations=[Aggregation(column="amount", function=fn, time_window=timedelta(seconds=w),
                              name=f"{{fn}}_{{label}}")
                  for label, w in {windows!r}.items() for fn in {functions!r}],
)
"""

YAML = (
    "project: bench_windows\nregistry: data/registry.db\nprovider: local\nonline_store:\n  type: sqlite\n"
    "  path: data/online.db\noffline_store:\n  type: duckdb\n"
)


def _keys(rng: np.random.Generator, n: int, skew: bool) -> np.ndarray:
    keys = rng.integers(0, KEYS, n)
    if skew:  # half of the rows on 10 hot keys
        hot = rng.random(n) < 0.5
        keys[hot] = rng.integers(0, 10, int(hot.sum()))
    return keys


def ensure_data(events: int, entities: int, skew: bool) -> Path:
    """Events parquet, entity rows parquet and a feature repo, generated once per size."""
    folder = DATA / f"{events}_{entities}_{'skew' if skew else 'uniform'}"
    if (folder / "done").exists():
        return folder
    (folder / "repo" / "data").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    ts = np.sort(START_US + rng.integers(0, SPAN_US, events))
    table = pa.table(
        {
            "user_id": pa.array(_keys(rng, events, skew), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "amount": pa.array(np.round(rng.gamma(2.0, 20.0, events), 2), pa.float64()),
        }
    )
    pq.write_table(table, folder / "events.parquet", row_group_size=1_000_000)
    ent_ts = START_US + SPAN_US // 10 + rng.integers(0, SPAN_US * 9 // 10, entities)
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array(_keys(rng, entities, skew), pa.int64()),
                "event_timestamp": pa.array(ent_ts, pa.timestamp("us", tz="UTC")),
            }
        ),
        folder / "entities.parquet",
    )
    repo = folder / "repo"
    (repo / "feature_store.yaml").write_text(YAML)
    (repo / "features.py").write_text(
        REPO_PY.format(path=str(folder / "events.parquet"), windows=WINDOWS, functions=FUNCTIONS)
    )
    (folder / "done").write_text("")
    return folder


LADLE = """
import json, sys, time
import pyarrow.parquet as pq
from ladle import FeatureStore
store = FeatureStore(repo_path={repo!r})
store.apply_repo()
entities = pq.read_table({entities!r})
features = [f"tx:{{f.name}}" for f in store.get_feature_view("tx").features]
t0 = time.perf_counter()
table = store.get_historical_features(entities, features).to_arrow()
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rows": table.num_rows, "features": len(features),
                   "count_1d": sum(x or 0 for x in table.column("count_1d").to_pylist())}}))
"""

BAND = """
import json, time
import duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
long_us, short_us = {long_us}, {short_us}
def aggs(cond, label):
    f = lambda e: f"{{e}} FILTER (WHERE {{cond}})" if cond else e
    return ", ".join([
        f(f"sum(v.amount)") + f" AS sum_{{label}}", f(f"count(v.amount)") + f" AS count_{{label}}",
        f(f"avg(v.amount)") + f" AS avg_{{label}}", f(f"min(v.amount)") + f" AS min_{{label}}",
        f(f"max(v.amount)") + f" AS max_{{label}}", f(f"stddev_samp(v.amount)") + f" AS stddev_{{label}}",
        f(f"var_samp(v.amount)") + f" AS var_{{label}}",
        f(f"count(DISTINCT v.amount)") + f" AS count_distinct_{{label}}",
        f(f"arg_min(v.amount, struct_pack(t := v.us, v := v.amount))") + f" AS first_{{label}}",
        f(f"arg_max(v.amount, struct_pack(t := v.us, v := v.amount))") + f" AS last_{{label}}",
        "list_reverse(" + f(f"arg_max(v.amount, struct_pack(t := v.us, v := v.amount), 5)") + f") AS last_5_{{label}}",
    ])
sql = f'''
WITH e AS (SELECT row_number() OVER () AS row, user_id, epoch_us(event_timestamp) AS t
           FROM read_parquet({entities!r})),
     v AS (SELECT user_id, epoch_us(ts) AS us, amount FROM read_parquet({events!r}))
SELECT e.row, {{aggs("v.us > e.t - " + str(short_us), "1h")}}, {{aggs(None, "1d")}}
FROM e LEFT JOIN v ON v.user_id = e.user_id AND v.us <= e.t AND v.us > e.t - {{long_us}}
GROUP BY e.row
'''
t0 = time.perf_counter()
table = con.sql(sql).to_arrow_table()
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rows": table.num_rows,
                   "count_1d": sum(x or 0 for x in table.column("count_1d").to_pylist())}}))
"""


PG_DSN = os.environ.get("LADLE_BENCH_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


def postgres_repo(folder: Path, schema: str, functions: list[str]) -> Path:
    """A repo over the events copied into ``schema``.events of PostgreSQL (the schema is created here)."""
    import psycopg

    events = pq.read_table(folder / "events.parquet")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".events (user_id BIGINT, ts TIMESTAMPTZ, amount FLOAT8)')
        with conn.cursor() as cur, cur.copy(f'COPY "{schema}".events FROM STDIN') as copy:
            for row in zip(*(events.column(c).to_pylist() for c in ("user_id", "ts", "amount")), strict=True):
                copy.write_row(row)
        conn.execute(f'ANALYZE "{schema}".events')
    repo = folder / f"repo_{schema}"
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        YAML.replace("  type: duckdb\n", f'  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {schema}\n')
    )
    text = REPO_PY.format(path="unused", windows=WINDOWS, functions=functions)
    text = text.replace(
        'FileSource(name="events", path=\'unused\', timestamp_field="ts")',
        'PostgreSQLSource(name="events", table="events", timestamp_field="ts")',
    )
    (repo / "features.py").write_text(
        text.replace("BatchFeatureView, Entity, FileSource", "BatchFeatureView, Entity, PostgreSQLSource")
    )
    return repo


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _child(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 10M events / 100k entity rows")
    parser.add_argument("--skew", action="store_true", help="half of events and entity rows on 10 hot keys")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-band", action="store_true", help="ladle only (the band join can take very long)")
    parser.add_argument("--offline", choices=["duckdb", "postgres"], default="duckdb", help="ladle's offline store")
    parser.add_argument("--functions", help="with --offline postgres and --skip-band: only these functions (a,b,...)")
    args = parser.parse_args()
    events, entities = int(10_000_000 * args.scale), int(100_000 * args.scale)
    folder = ensure_data(events, entities, args.skew)
    paths = {"entities": str(folder / "entities.parquet"), "events": str(folder / "events.parquet")}
    repo, schema = folder / "repo", None
    if args.offline == "postgres":
        schema = f"bench_windows_{os.getpid()}"
        repo = postgres_repo(folder, schema, args.functions.split(",") if args.functions else FUNCTIONS)
    try:
        ladle = [_child(LADLE.format(repo=str(repo), entities=paths["entities"])) for _ in range(args.repeat)]
    finally:
        if schema is not None:
            drop_schema(schema)
    kind = "skewed (half on 10 keys)" if args.skew else "uniform keys"
    print(f"windowed historical: {entities:,} entity rows x {events:,} events, {kind}, 11 aggregates x 2 windows")
    print(
        f"  ladle ({args.offline}) best of {args.repeat}: {min(r['seconds'] for r in ladle):.2f} s "
        f"(all: {', '.join(format(r['seconds'], '.2f') for r in ladle)})"
    )
    if args.skip_band:
        return
    code = BAND.format(long_us=WINDOWS["1d"] * 10**6, short_us=WINDOWS["1h"] * 10**6, **paths)
    band = [_child(code) for _ in range(args.repeat)]
    print(
        f"  band join  best of {args.repeat}: {min(r['seconds'] for r in band):.2f} s "
        f"(all: {', '.join(format(r['seconds'], '.2f') for r in band)})"
    )
    if ladle[0]["count_1d"] != band[0]["count_1d"]:
        print(f"  MISMATCH: total 1-day count {ladle[0]['count_1d']} (ladle) vs {band[0]['count_1d']} (band join)")
    else:
        print(f"  same answers: total 1-day count {int(ladle[0]['count_1d']):,} on both sides")


if __name__ == "__main__":
    main()

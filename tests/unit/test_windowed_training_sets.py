"""Windowed features through ``FeatureStore.get_historical_features`` on Spark and PostgreSQL give the DuckDB
answer (the per-backend window SQL is checked against the brute-force reference in
tests/property/test_windowed_historical.py); a Spark DataFrame of entity rows works too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.store import FeatureStore
from services import PG_DSN, postgres_admin
from spark_support import spark_session

T0 = datetime(2026, 2, 1, tzinfo=UTC)
UTC_US = pa.timestamp("us", tz="UTC")

REPO = """
from datetime import timedelta
from ladle import Aggregation, BatchFeatureView, Entity, Field, FileSource, FeatureView, PostgreSQLSource, SparkSource
from ladle.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
{source}
aggs = [Aggregation(column="amount", function=fn, time_window=timedelta(hours=h))
        for h in (1, 24) for fn in ("sum", "count", "avg", "max", "stddev", "count_distinct", "last", "first_2")]
tx = BatchFeatureView(name="tx", entities=[user], source=src, aggregations=aggs)
latest = FeatureView(name="latest", entities=[user], source=src, schema=[Field(name="amount", dtype=Float64)])
"""
_TIMES = 'timestamp_field="ts", created_timestamp_column="created"'
SOURCES = {
    "duckdb": f'src = FileSource(name="tx_src", path="data/tx.parquet", {_TIMES})',
    "spark": f'src = SparkSource(name="tx_src", path="data/tx.parquet", file_format="parquet", {_TIMES})',
    "postgres": f'src = PostgreSQLSource(name="tx_src", table="tx", {_TIMES})',
}


#: string keys a CSV or COPY payload could mangle (separators, quotes, escapes, the empty string, non-ASCII)
AWKWARD = {1: 'a,b "c"', 2: "back\\slash\nnew line", 3: "", 4: "ünï ✓"}


def _events(keys: dict[int, str] | None = None) -> pa.Table:
    """Two events of user 1 share a time (0.5 h); their created times tell them apart. Without those, the
    plain view's pick between them is undefined (docs/semantics.md: rows equal on time and created time are
    indistinguishable) and differed by backend and by pandas version, which the comparisons below caught."""
    users = [1, 1, 1, 1, 2, 2, 3]
    hours = [0, 0.5, 0.5, 20, 1, 30, 2]
    created_minutes = [0, 2, 1, 0, 0, 0, 0]
    amounts = [10.0, 2.5, None, 4.0, 7.0, 1.0, 3.0]
    return pa.table(
        {
            "user_id": pa.array(users, pa.int64()) if keys is None else pa.array([keys[u] for u in users]),
            "ts": pa.array([T0 + timedelta(hours=h) for h in hours], UTC_US),
            "created": pa.array(
                [T0 + timedelta(hours=h, minutes=m) for h, m in zip(hours, created_minutes, strict=True)], UTC_US
            ),
            "amount": pa.array(amounts, pa.float64()),
        }
    )


ENTITIES = pd.DataFrame(
    {
        "user_id": [1, 1, 1, 2, 2, 3, 4],
        "event_timestamp": [T0 + timedelta(hours=h) for h in (0.5, 1.5, 20.5, 1, 31, 3, 2)],
    }
)


def _store(tmp: Path, backend: str, yaml_extra: str = "", keys: dict[int, str] | None = None) -> FeatureStore:
    repo = tmp / backend
    (repo / "data").mkdir(parents=True)
    pq.write_table(_events(keys), repo / "data" / "tx.parquet")
    (repo / "features.py").write_text(REPO.format(source=SOURCES[backend]))
    (repo / "feature_store.yaml").write_text(
        "project: windows\nregistry: data/registry.db\nprovider: local\nonline_store:\n  type: sqlite\n"
        f"  path: data/online.db\noffline_store:\n  type: {backend}\n{yaml_extra}"
    )
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    return store


def _training(store: FeatureStore, entity_df: object = ENTITIES) -> pd.DataFrame:
    features = [f"tx:{f.name}" for f in store.get_feature_view("tx").features] + ["latest:amount"]
    return store.get_historical_features(entity_df, features).to_df()


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float):
        return round(value, 9)
    if hasattr(value, "__len__") and not isinstance(value, str):
        return [_plain(v) for v in value]  # type: ignore[attr-defined]
    return value


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        left, right = [_plain(x) for x in a[column]], [_plain(x) for x in b[column]]
        assert left == right, column


def test_duckdb_values(tmp_path: Path) -> None:
    df = _training(_store(tmp_path, "duckdb"))
    # (t - 1h, t]: the events at 0.5 h are out of the window ending at 1.5 h, the one at 2 h out of 3 h's
    assert df["count_amount_3600s"].tolist() == [2, 0, 1, 1, 0, 0, 0]
    assert df["sum_amount_86400s"].tolist()[:3] == [12.5, 12.5, 16.5]
    assert [list(x) if x is not None else None for x in df["first_2_amount_86400s"]][:3] == [
        [10.0, 2.5],
        [10.0, 2.5],
        [10.0, 2.5],
    ]
    assert df["amount"].tolist()[2] == 4.0  # the plain view beside them
    # at 0.5 h two events tie on time: the newer created one (2.5) is the latest value
    assert df["amount"].tolist()[:2] == [2.5, 2.5]


@pytest.mark.services
def test_spark_gives_the_duckdb_answer_with_spark_entity_rows(tmp_path: Path) -> None:
    spark = spark_session()
    duck = _training(_store(tmp_path, "duckdb"))
    store = _store(tmp_path, "spark")
    _same(_training(store), duck)
    frame = spark.createDataFrame(ENTITIES)
    _same(_training(store, frame), duck)


@pytest.mark.services
@pytest.mark.parametrize("keys", [None, AWKWARD], ids=["int-keys", "awkward-string-keys"])
def test_postgres_gives_the_duckdb_answer(tmp_path: Path, keys: dict[int, str] | None) -> None:
    entities = ENTITIES if keys is None else ENTITIES.assign(user_id=ENTITIES["user_id"].map(keys))
    duck = _training(_store(tmp_path, "duckdb", keys=keys), entities)
    admin = postgres_admin()
    schema = f"ladle_wts_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        key_type = "BIGINT" if keys is None else "TEXT"
        admin.execute(
            f'CREATE TABLE "{schema}".tx (user_id {key_type}, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount FLOAT8)'
        )
        with admin.cursor() as cur, cur.copy(f'COPY "{schema}".tx FROM STDIN') as copy:
            for row in _events(keys).to_pylist():
                copy.write_row([row["user_id"], row["ts"], row["created"], row["amount"]])
        extra = f"  dsn: {PG_DSN}\n  db_schema: {schema}\n"
        got = _training(_store(tmp_path, "postgres", extra, keys), entities)
        _same(got, duck)
        if keys is not None:
            assert got["user_id"].tolist() == entities["user_id"].tolist()
            assert got["count_amount_3600s"].tolist() == [2, 0, 1, 1, 0, 0, 0]
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()

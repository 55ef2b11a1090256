"""A saved dataset built on the PostgreSQL offline store, rebuilt by ``reproduce``: zero differences on an
unchanged table; after a row lands in the table, the differing row and the changed source are reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from backends import PG_DSN, postgres_admin
from ladle.definitions import SavedDatasetFileStorage
from ladle.store import FeatureStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, PostgreSQLSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=3),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)],
    source=PostgreSQLSource(name="stats_src", table="stats", timestamp_field="ts"),
)
"""


def test_saved_dataset_rebuilt_on_postgres(make_repo, pg_schema: str) -> None:
    admin = postgres_admin()
    try:
        admin.execute(f'CREATE TABLE "{pg_schema}".stats (driver_id BIGINT, ts TIMESTAMPTZ, rate DOUBLE PRECISION)')
        for key, hours, rate in [(1, 10, 0.1), (1, 5, 0.5), (2, 8, 0.8)]:
            admin.execute(
                f'INSERT INTO "{pg_schema}".stats VALUES (%s, %s, %s)', (key, NOW - timedelta(hours=hours), rate)
            )
        yaml = (
            "project: saved_pg\nregistry: data/registry.db\nprovider: local\nonline_store: null\n"
            f'offline_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {pg_schema}\n'
        )
        repo = make_repo({"features.py": REPO}, yaml=yaml)
        store = FeatureStore(repo_path=repo)
        store.apply_repo()
        entities = pd.DataFrame({"driver_id": [1, 2, 1], "event_timestamp": [NOW, NOW, NOW - timedelta(hours=7)]})
        job = store.get_historical_features(entities, ["stats:rate"])
        path = Path(repo) / "data/train.parquet"
        store.create_saved_dataset(from_=job, name="train", storage=SavedDatasetFileStorage(path=str(path)))
        saved = store.get_saved_dataset("train")
        assert saved.metadata["views"]["stats"]["fingerprint"].startswith("rows:3;")
        assert saved.to_df()["rate"].tolist() == [0.5, 0.8, 0.1]

        report = FeatureStore(repo_path=repo).reproduce_saved_dataset("train")
        assert report.identical and report.changes == []

        admin.execute(f'INSERT INTO "{pg_schema}".stats VALUES (2, %s, 0.9)', (NOW - timedelta(hours=1),))
        report = FeatureStore(repo_path=repo).reproduce_saved_dataset("train")
        assert report.differing_rows == 1 and report.differing_columns == {"rate": 1}
        assert report.changes == [
            "source 'stats_src' of feature view 'stats': its data changed since the dataset was saved"
        ]
        store.close()
    finally:
        admin.close()

"""A demo repo with a registry history, published versions and saved datasets, for the UI's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from server_helpers import demo_repo

from ladle import FeatureStore
from ladle.definitions import SavedDatasetFileStorage

VIEW = "driver_hourly_stats"


def edit_repo(repo: Path, old: str, new: str) -> None:
    """Replace the first ``old`` of the demo's definitions with ``new``."""
    path = repo / "example_repo.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def save_dataset(store: FeatureStore, repo: Path, name: str, features: list[str], tags: dict[str, str]) -> None:
    now = datetime.now(UTC)
    entity_df = pd.DataFrame({"driver_id": [1001, 1002, 1003], "event_timestamp": [now, now, now]})
    job = store.get_historical_features(entity_df, features)
    path = repo / "data" / f"{name}.parquet"
    store.create_saved_dataset(from_=job, name=name, storage=SavedDatasetFileStorage(path=str(path)), tags=tags)


def build_history(parent: Path) -> Path:
    """v1: ``ladle init``'s apply; published version v1; v2: ttl 1 day -> 2 hours (cosmetic); saved dataset
    ``train_eta``; v3: ``acc_rate`` Float32 -> Float64 (a contract change); published version v2 (latest);
    saved dataset ``train_trips``."""
    repo = demo_repo(parent, name="ui_history", yaml_extra="feature_sets:\n  root: data/feature_sets\n")
    source = pq.read_table(repo / "data" / "driver_stats.parquet")
    store = FeatureStore(repo_path=repo)
    try:
        store.publish(VIEW, source, version="v1")
        edit_repo(repo, "ttl=timedelta(days=1)", "ttl=timedelta(hours=2)")
        store.apply_repo()
        save_dataset(store, repo, "train_eta", [f"{VIEW}:conv_rate", f"{VIEW}:acc_rate"], {"model": "eta"})
        edit_repo(repo, 'Field(name="acc_rate", dtype=Float32)', 'Field(name="acc_rate", dtype=Float64)')
        store.apply_repo()
        store.publish(VIEW, source.slice(0, 10), version="v2")
        save_dataset(store, repo, "train_trips", [f"{VIEW}:avg_daily_trips"], {"model": "trips"})
    finally:
        store.close()
    return repo

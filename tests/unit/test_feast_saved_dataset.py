"""Feast's saved-dataset spelling on ladle: ``feast.saved_dataset`` (``SavedDataset``, ``SavedDatasetStorage``) in a
repo ladle loads and in a user's script (``import feast`` through ladle's start-up hook, as in
tests/unit/test_feast_script_shim.py), and the tutorial's ``create_saved_dataset`` / ``get_saved_dataset().to_df()``.
Feast's ``ValidationReference`` (data-quality monitoring) is refused with the reason and the alternative."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ladle.store import FeatureStore

SRC = Path(__file__).resolve().parents[2] / "src"
NOW = datetime(2026, 6, 1, tzinfo=UTC)

REPO = """
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.saved_dataset import SavedDataset, SavedDatasetStorage
from feast.types import Float64, Int64

assert SavedDataset.__module__ == "ladle.retrieval.saved_datasets" and SavedDatasetStorage is not None

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=3),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
)
"""

TUTORIAL = """
import pandas as pd
from feast import FeatureStore
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.saved_dataset import SavedDataset, SavedDatasetStorage

store = FeatureStore(repo_path=".")
entity_df = pd.DataFrame(
    {"driver_id": [1, 2, 3], "event_timestamp": pd.to_datetime(["2026-06-01T00:00:00Z"] * 3)}
)
job = store.get_historical_features(entity_df=entity_df, features=["stats:rate", "stats:trips"])
dataset = store.create_saved_dataset(
    from_=job, name="my_training_ds", storage=SavedDatasetFileStorage(path="my_training_ds.parquet")
)
assert isinstance(dataset, SavedDataset)
assert isinstance(SavedDatasetFileStorage(path="other.parquet"), SavedDatasetStorage)
training_df = store.get_saved_dataset("my_training_ds").to_df()
print(json.dumps({"rows": training_df[["driver_id", "rate", "trips"]].astype(object).where(
    training_df[["driver_id", "rate", "trips"]].notna(), None).values.tolist()}))
try:
    from feast.saved_dataset import ValidationReference
except ImportError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "user_script.py").write_text("import json\n" + textwrap.dedent(script))
    boot = f"import site; site.addsitedir({str(SRC)!r}); exec(open('user_script.py').read())"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", boot], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_feast_tutorial_spelling_in_a_script(make_repo) -> None:
    repo = make_repo({"features.py": REPO})
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 1, 2], pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=h) for h in (5, 2, 3)], pa.timestamp("us", tz="UTC")),
                "rate": [0.1, 0.2, 0.3],
                "trips": pa.array([1, 2, 3], pa.int64()),
            }
        ),
        repo / "data/stats.parquet",
    )
    store = FeatureStore(repo_path=repo)
    store.apply_repo()  # the repo's files import feast.saved_dataset: loading them works
    done = _run(TUTORIAL, repo)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert out[0] == {"rows": [[1, 0.2, 2], [2, 0.3, 3], [3, None, None]]}
    assert "feast.saved_dataset.ValidationReference is not provided by ladle" in out[1]["error"]
    assert "ladle reproduce" in out[1]["error"]
    assert (repo / "my_training_ds.parquet").exists()
    saved = FeatureStore(repo_path=repo).get_saved_dataset("my_training_ds")
    assert saved.features == ["stats:rate", "stats:trips"] and saved.metadata["rows"] == 3
    assert FeatureStore(repo_path=repo).reproduce_saved_dataset("my_training_ds").identical

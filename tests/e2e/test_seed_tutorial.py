"""The Feast hands-on tutorial (shared/seeds/002), run on ladle with only the import changed.

Each step is the tutorial's own code, executed as the user would: the CLI in a subprocess, the Python
snippets in a fresh interpreter inside the repo folder, with ``from feast import`` changed to ``from ladle
import`` and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def ladle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ladle"), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def python(code: str, cwd: Path) -> str:
    # The tutorial's scripts, with only the import changed (repo files keep `from feast import`).
    code = textwrap.dedent(code).replace("from feast import", "from ladle import")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seed")
    assert ladle("init", "my_project", cwd=root).returncode == 0
    repo = root / "my_project" / "feature_repo"
    done = ladle("apply", cwd=repo)
    assert done.returncode == 0, done.stderr
    return repo


def test_historical_features_as_in_the_tutorial(repo: Path) -> None:
    out = python(
        """
        from datetime import datetime, timedelta
        import pandas as pd

        from feast import FeatureStore

        entity_df = pd.DataFrame.from_dict(
            {
                "driver_id": [1001, 1002, 1003],
                "label_driver_reported_satisfaction": [1, 5, 3],
                "event_timestamp": [
                    datetime.now() - timedelta(minutes=11),
                    datetime.now() - timedelta(minutes=36),
                    datetime.now() - timedelta(minutes=73),
                ],
            }
        )
        store = FeatureStore(repo_path=".")
        training_df = store.get_historical_features(
            entity_df=entity_df,
            features=[
                "driver_hourly_stats:conv_rate",
                "driver_hourly_stats:acc_rate",
                "driver_hourly_stats:avg_daily_trips",
            ],
        ).to_df()
        print(training_df.to_json(orient="records"))
        """,
        repo,
    )
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r["driver_id"] for r in rows] == [1001, 1002, 1003]
    assert all(r["conv_rate"] is not None and r["avg_daily_trips"] is not None for r in rows)
    assert [r["label_driver_reported_satisfaction"] for r in rows] == [1, 5, 3]


def test_materialize_then_read_sqlite_and_online(repo: Path) -> None:
    from datetime import datetime

    done = ladle("materialize-incremental", datetime.now().isoformat(), cwd=repo)
    assert done.returncode == 0, done.stderr
    out = python(
        """
        import sqlite3
        import pandas as pd
        con = sqlite3.connect("data/online_store.db")
        print(pd.read_sql_query("SELECT * FROM my_project_driver_hourly_stats", con).columns.tolist())
        con.close()

        from pprint import pprint
        from feast import FeatureStore

        store = FeatureStore(repo_path=".")
        feature_vector = store.get_online_features(
            features=[
                "driver_hourly_stats:conv_rate",
                "driver_hourly_stats:acc_rate",
                "driver_hourly_stats:avg_daily_trips",
            ],
            entity_rows=[{"driver_id": 1004}, {"driver_id": 1005}],
        ).to_dict()
        import json
        print(json.dumps(feature_vector))
        """,
        repo,
    )
    lines = out.strip().splitlines()
    columns = eval(lines[0])  # our own printed list
    assert {"conv_rate", "acc_rate", "avg_daily_trips"} <= set(columns)
    vector = json.loads(lines[-1])
    assert vector["driver_id"] == [1004, 1005]
    assert all(v is not None for v in vector["conv_rate"] + vector["avg_daily_trips"])


def test_feature_service_and_registry_listing(repo: Path) -> None:
    out = python(
        """
        from feast import FeatureStore
        feature_store = FeatureStore('.')
        print(sorted(fv.name for fv in feature_store.list_feature_views()))
        feature_service = feature_store.get_feature_service("driver_activity_v1")
        features = feature_store.get_online_features(
            features=feature_service,
            entity_rows=[{"driver_id": 1001, "val_to_add": 1, "val_to_add_2": 2}],
        ).to_dict()
        import json
        print(json.dumps(features))
        """,
        repo,
    )
    lines = out.strip().splitlines()
    assert "driver_hourly_stats" in lines[0]
    features = json.loads(lines[-1])
    assert features["driver_id"] == [1001]
    assert features["conv_rate"][0] is not None
    assert abs(features["conv_rate_plus_val1"][0] - (features["conv_rate"][0] + 1)) < 1e-6

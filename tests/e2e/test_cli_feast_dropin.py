"""Feast's CLI and configuration surface on ladle: ``FEAST_FS_YAML_FILE_PATH``, ``configuration`` (secrets
masked) and ``materialize --disable-event-timestamp``, run as a user does on a repo written with
``from feast import ...``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from conftest import RepoFactory
from e2e.test_cli import LADLE, ok, python

FEATURES = """
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=1),
                    schema=[Field(name="conv_rate", dtype=Float64)],
                    source=FileSource(name="stats_source", path="data/stats.parquet", timestamp_field="event_timestamp"))
"""
SECRET_YAML = """\
project: secrets
registry:
  registry_type: sql
  path: postgresql://feast:hunter2@db.internal:5432/feast
offline_store:
  type: postgres
  host: db.internal
  user: feast
  password: s3cr3t-offline
online_store:
  type: redis
  connection_string: "redis.internal:6379,password=s3cr3t-redis,ssl=true"
feature_server:
  api_keys: [key-one, key-two]
"""


def run(*args: str, cwd: Path, env: dict[str, str], code: int = 0) -> str:
    """``ladle ARGS`` with extra environment variables; stdout on success, stderr otherwise."""
    done = subprocess.run(
        [str(LADLE), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **env},
    )
    assert done.returncode == code, done.stderr
    return done.stdout if code == 0 else done.stderr


def test_configuration_prints_the_resolved_config_with_secrets_masked(make_repo: RepoFactory) -> None:
    repo = make_repo({}, yaml=SECRET_YAML)
    text = ok("configuration", cwd=repo)
    for secret in ("hunter2", "s3cr3t-offline", "s3cr3t-redis", "key-one", "key-two"):
        assert secret not in text
    shown = yaml.safe_load(text)
    assert shown["project"] == "secrets" and shown["repo_path"] == str(repo.resolve())
    assert shown["registry"]["path"] == "postgresql://feast:********@db.internal:5432/feast"
    assert shown["registry"]["cache_ttl_seconds"] == 60.0  # defaults are filled in
    assert shown["offline_store"]["password"] == "********" and shown["offline_store"]["user"] == "feast"
    assert shown["offline_store"]["host"] == "db.internal"
    assert shown["online_store"]["connection_string"] == "redis.internal:6379,password=********,ssl=true"
    assert [k["key"] for k in shown["feature_server"]["api_keys"]] == [
        "********",
        "********",
    ]  # scoped: admin by default
    assert shown["batch_engine"]["type"] == "local"


def test_feast_fs_yaml_file_path_names_the_configuration(make_repo: RepoFactory, tmp_path: Path) -> None:
    repo = make_repo({"features.py": FEATURES})
    other = tmp_path / "elsewhere.yaml"
    other.write_text("project: from_env\nregistry: data/env_registry.db\n")
    assert (
        yaml.safe_load(run("configuration", cwd=repo, env={"FEAST_FS_YAML_FILE_PATH": str(other)}))["project"]
        == "from_env"
    )
    assert (
        yaml.safe_load(
            run(
                "configuration",
                cwd=repo,
                env={"LADLE_FS_YAML_FILE_PATH": str(other), "FEAST_FS_YAML_FILE_PATH": "nope.yaml"},
            )
        )["project"]
        == "from_env"
    )
    pq.write_table(
        pa.table(
            {"driver_id": [1], "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC")), "conv_rate": [0.5]}
        ),
        repo / "data" / "stats.parquet",
    )
    run("apply", cwd=repo, env={"FEAST_FS_YAML_FILE_PATH": str(other)})
    assert (repo / "data" / "env_registry.db").exists() and not (repo / "data" / "registry.db").exists()
    # -f still wins over the environment
    assert "test_project" in run(
        "configuration", "-f", str(repo / "feature_store.yaml"), cwd=repo, env={"FEAST_FS_YAML_FILE_PATH": str(other)}
    )
    assert "nope.yaml: not found" in run(
        "configuration", cwd=repo, env={"FEAST_FS_YAML_FILE_PATH": "nope.yaml"}, code=1
    )


def test_materialize_disable_event_timestamp_writes_all_data_as_of_now(make_repo: RepoFactory) -> None:
    repo = make_repo({"features.py": FEATURES})
    old = datetime(2020, 5, 1, tzinfo=UTC)
    pq.write_table(
        pa.table(
            {
                "driver_id": [1, 1, 2],
                "event_timestamp": pa.array([old, old + timedelta(days=1), old], pa.timestamp("us", tz="UTC")),
                "conv_rate": [0.1, 0.2, 0.7],
            }
        ),
        repo / "data" / "stats.parquet",
    )
    ok("apply", cwd=repo)
    before = datetime.now(UTC)
    out = ok("materialize", "--disable-event-timestamp", cwd=repo)
    after = datetime.now(UTC)
    assert "from 1970-01-01" in out and "written as of now" in out
    with sqlite3.connect(repo / "data" / "online_store.db") as con:
        rows = con.execute("SELECT conv_rate, event_ts FROM test_project_driver_stats ORDER BY conv_rate").fetchall()
    assert [r[0] for r in rows] == [0.2, 0.7]  # the latest value per driver, over all the data
    for _, micros in rows:
        written = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        assert before - timedelta(seconds=1) <= written <= after  # stamped with the run's time, not 2020
    # stamped now, the values are within the view's 1-day ttl (their own timestamps are years old)
    online = python(
        """
        from ladle import FeatureStore
        r = FeatureStore(repo_path=".").get_online_features(["driver_stats:conv_rate"], [{"driver_id": 1}, {"driver_id": 2}])
        print(r.to_dict()["conv_rate"], [str(s) for s in r.statuses["conv_rate"]])
    """,
        cwd=repo,
    )
    assert online.strip() == "[0.2, 0.7] ['PRESENT', 'PRESENT']"
    assert "driver_stats" in ok(
        "materialize", "2020-01-01", "now", "--disable-event-timestamp", "-v", "driver_stats", cwd=repo
    )

"""Backends named by class path in feature_store.yaml (Feast's plugin spelling), on a repo written with
``from feast import ...``: a recording subclass of the SQLite online store, of the DuckDB offline store and
of the file registry store, each living in a module of the repo folder; and the errors for bad plugins."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import RepoFactory
from e2e.test_cli import fails, ok, python
from ladle.config import load_repo_config
from ladle.errors import InvalidConfig

T = datetime(2024, 1, 1, tzinfo=UTC)
FEATURES = """
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="driver_stats", entities=[driver], ttl=timedelta(days=3650),
                    schema=[Field(name="conv_rate", dtype=Float64)],
                    source=FileSource(name="stats_source", path="data/stats.parquet", timestamp_field="event_timestamp"))
"""
PLUGINS = """
import json
from pathlib import Path

from ladle.online.sqlite import SqliteOnlineStoreConfig
from ladle.ingest.materialize import LocalEngine
from ladle.offline.duckdb import DuckDBOfflineStore
from ladle.online.sqlite import SqliteOnlineStore
from ladle.registry.file import FileRegistryStore


def record(repo_path, *event):
    with open(Path(repo_path) / "calls.jsonl", "a") as f:
        f.write(json.dumps(event) + "\\n")


class RecordingOnlineStoreConfig(SqliteOnlineStoreConfig):
    label: str = "unset"


class RecordingOnlineStore(SqliteOnlineStore):
    def __init__(self, config, repo_path):
        super().__init__(config, repo_path)
        self.repo_path, self.label = repo_path, config.label

    def update(self, project, keep, delete):
        record(self.repo_path, "online.update", self.label, [v.name for v in keep])
        super().update(project, keep, delete)

    def write(self, project, view, rows):
        record(self.repo_path, "online.write", self.label, view.name, rows.num_rows)
        return super().write(project, view, rows)


class RecordingOfflineStore(DuckDBOfflineStore):
    def __init__(self, config, repo_path):
        super().__init__(config, repo_path)
        self.repo_path = repo_path
        record(repo_path, "offline.init", config.memory_limit)

    def pull_latest(self, view, start, end):
        record(self.repo_path, "offline.pull_latest", view.name)
        return super().pull_latest(view, start, end)


class RecordingRegistryStore(FileRegistryStore):
    def __init__(self, registry_config, repo_path, project):
        super().__init__(registry_config, repo_path, project)

    def write(self, data, expected_token):
        record(self.repo_path, "registry.write")
        return super().write(data, expected_token)


class RecordingEngine(LocalEngine):
    def materialize(self, offline, online, bookkeeping, project, intervals, progress=None, event_timestamp=None):
        record(self.repo_path, "engine.materialize", self.config.batch_size, [v.name for v, _, _ in intervals])
        return super().materialize(offline, online, bookkeeping, project, intervals, progress, event_timestamp)


class NotAStore:
    pass


class HalfStore(SqliteOnlineStore.__mro__[1]):
    def update(self, project, keep, delete):
        pass
"""
YAML = """\
project: plugged
registry:
  path: data/registry.db
  registry_store_type: plugins.stores.RecordingRegistryStore
online_store:
  type: plugins.stores.RecordingOnlineStore
  path: data/online.db
  label: from-yaml
offline_store:
  type: plugins.stores.RecordingOfflineStore
  memory_limit: 1GB
batch_engine:
  type: plugins.stores.RecordingEngine
  batch_size: 7
"""


def plugin_repo(make_repo: RepoFactory, config: str = YAML) -> Path:
    repo = make_repo({"features.py": FEATURES, "plugins/__init__.py": "", "plugins/stores.py": PLUGINS}, yaml=config)
    pq.write_table(
        pa.table(
            {
                "driver_id": [1, 2],
                "event_timestamp": pa.array([T, T], pa.timestamp("us", tz="UTC")),
                "conv_rate": [0.25, 0.75],
            }
        ),
        repo / "data" / "stats.parquet",
    )
    return repo


def calls(repo: Path) -> list[list[object]]:
    return [json.loads(line) for line in (repo / "calls.jsonl").read_text().splitlines()]


def test_plugins_named_by_class_path_run_every_step(make_repo: RepoFactory) -> None:
    repo = plugin_repo(make_repo)
    ok("apply", cwd=repo)
    ok("materialize", "2023-12-31", "now", cwd=repo)
    out = python(
        """
        from ladle import FeatureStore
        store = FeatureStore(repo_path=".")
        print(type(store.online_store).__name__, type(store.offline_store).__name__, type(store.registry.store).__name__)
        print(store.get_online_features(["driver_stats:conv_rate"], [{"driver_id": 2}, {"driver_id": 1}]).to_dict())
    """,
        cwd=repo,
    )
    assert out.splitlines() == [
        "RecordingOnlineStore RecordingOfflineStore RecordingRegistryStore",
        "{'driver_id': [2, 1], 'conv_rate': [0.75, 0.25]}",
    ]
    seen = calls(repo)
    assert ["online.update", "from-yaml", ["driver_stats"]] in seen  # extra key reached the plugin's config
    assert ["online.write", "from-yaml", "driver_stats", 2] in seen
    assert ["offline.init", "1GB"] in seen and ["offline.pull_latest", "driver_stats"] in seen
    assert ["registry.write"] in seen
    assert ["engine.materialize", 7, ["driver_stats"]] in seen  # the engine ran, with its yaml keys
    assert (repo / "data" / "online.db").exists()
    shown = yaml.safe_load(ok("configuration", cwd=repo))
    assert shown["online_store"] == {
        "type": "plugins.stores.RecordingOnlineStore",
        "enforce_ttl": True,
        "window_max_events_per_key": 10_000,
        "path": "data/online.db",
        "label": "from-yaml",
    }
    assert shown["offline_store"]["type"] == "plugins.stores.RecordingOfflineStore"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            "online_store: {type: plugins.nowhere.Store}",
            "'online_store.type' is 'plugins.nowhere.Store': module 'plugins.nowhere' cannot be imported",
        ),
        (
            "online_store: {type: plugins.stores.Missing}",
            "'online_store.type' is 'plugins.stores.Missing': module 'plugins.stores' has no attribute 'Missing'",
        ),
        (
            "online_store: {type: plugins.stores.NotAStore}",
            "'online_store.type' is 'plugins.stores.NotAStore', which is not a subclass of ladle's OnlineStore "
            "(subclass ladle.online.base.OnlineStore)",
        ),
        (
            "online_store: {type: plugins.stores.HalfStore}",
            "'online_store.type' is 'plugins.stores.HalfStore', which does not implement OnlineStore.read, teardown, "
            "write (implement the missing methods)",
        ),
        (
            "offline_store: {type: plugins.stores.RecordingOnlineStore}",
            "'offline_store.type' is 'plugins.stores.RecordingOnlineStore', which is not a subclass of ladle's "
            "OfflineStore",
        ),
        (
            "online_store: {type: plugins.stores.RecordingOnlineStore, colour: red}",
            "unknown key 'online_store.colour' for plugins.stores.RecordingOnlineStore",
        ),
        (
            "offline_store: {type: plugins.stores.RecordingOfflineStore, threads: many}",
            "'offline_store.threads': Input should be a valid integer",
        ),
        (
            "batch_engine: {type: plugins.stores.RecordingOnlineStore}",
            "'batch_engine.type' is 'plugins.stores.RecordingOnlineStore', which is not a subclass of ladle's BatchEngine",
        ),
        (
            "batch_engine: {type: plugins.stores.RecordingEngine, batch_size: 0}",
            "'batch_engine.batch_size': Input should be greater than 0",
        ),
        (
            "registry: {path: data/r.db, registry_store_type: plugins.stores.RecordingOfflineStore}",
            "'registry.registry_store_type' is 'plugins.stores.RecordingOfflineStore', which is not a subclass of "
            "ladle's RegistryStore",
        ),
    ],
)
def test_bad_plugins_are_named_with_the_key_and_the_fix(make_repo: RepoFactory, section: str, problem: str) -> None:
    repo = plugin_repo(make_repo, f"project: plugged\n{section}\n")
    with pytest.raises(InvalidConfig) as exc:
        load_repo_config(repo)
    assert problem in str(exc.value)


def test_a_bad_plugin_is_one_line_in_the_cli(make_repo: RepoFactory) -> None:
    repo = plugin_repo(make_repo, "project: plugged\nonline_store: {type: plugins.stores.NotAStore}\n")
    for command in ("apply", "validate", "configuration"):
        assert "which is not a subclass of ladle's OnlineStore" in fails(command, cwd=repo)

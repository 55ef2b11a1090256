"""Choosing backends: a third-party package's entry point is selected by ``type: <name>`` like a built-in, an
unknown name lists every choice, ``ladle.config`` imports no backend, and Feast's config keys have a meaning."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from ladle.backends.catalog import make_batch_engine, make_online_store
from ladle.backends.tables import ONLINE_STORES, backend_names
from ladle.config import parse_repo_config
from ladle.definitions import Entity, FeatureView, Field, FileSource
from ladle.errors import InvalidConfig
from ladle.registry.registry import make_registry_store
from ladle.types import Float64, Int64

STORES = '''
from typing import Literal

from ladle.ingest.materialize import LocalEngine
from ladle.online.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig


class MemoOnlineStoreConfig(SqliteOnlineStoreConfig):
    type: Literal["memo"] = "memo"
    label: str = "unset"


class MemoOnlineStore(SqliteOnlineStore):
    """A third-party online store: SQLite, plus a label of its own."""

    name = "memo"
    config_class = MemoOnlineStoreConfig


class CountingEngine(LocalEngine):
    name = "counting"
'''


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution (a dist-info folder on sys.path) declaring ladle backends as entry points."""
    site = tmp_path / "site"
    info = site / "ladle_memo-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ladle-memo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[ladle.online_stores]\nmemo = ladle_memo.stores:MemoOnlineStore\nbroken = ladle_memo.nowhere:Store\n"
        "[ladle.batch_engines]\ncounting = ladle_memo.stores:CountingEngine\n"
        "not_an_engine = ladle_memo.stores:MemoOnlineStore\n"
    )
    (site / "ladle_memo").mkdir()
    (site / "ladle_memo" / "__init__.py").write_text("")
    (site / "ladle_memo" / "stores.py").write_text(STORES)
    monkeypatch.syspath_prepend(str(site))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("ladle_memo")]:
        del sys.modules[name]


def test_an_entry_point_backend_is_selected_by_its_name(third_party: Path) -> None:
    config = parse_repo_config(
        {
            "project": "p",
            "online_store": {"type": "memo", "path": "memo.db", "label": "from-yaml"},
            "batch_engine": {"type": "counting", "batch_size": 3},
        },
        third_party,
    )
    assert "memo" in backend_names(ONLINE_STORES) and "sqlite" in backend_names(ONLINE_STORES)
    store = make_online_store(config)
    assert type(store).__name__ == "MemoOnlineStore" and store.name == "memo"
    assert store.config.label == "from-yaml"  # type: ignore[attr-defined]  # validated by the plugin's own model
    assert store.path == third_party / "memo.db"  # type: ignore[attr-defined]
    engine = make_batch_engine(config)
    assert type(engine).__name__ == "CountingEngine" and engine.config.batch_size == 3  # type: ignore[attr-defined]

    # the store works: a row written is read back
    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(
        name="stats",
        entities=[driver],
        schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)],
        source=FileSource(path="x.parquet", timestamp_field="ts"),
    )
    view.bind_entities({"driver": driver})
    store.update("p", [view], [])
    ts = pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    store.write("p", view, pa.table({"driver_id": [7], "rate": [0.5], "event_ts": ts, "created_ts": ts}))
    got = store.read("p", view, pa.table({"driver_id": [7, 8]}), ["rate"])
    assert got.column("rate").to_pylist() == [0.5, None]
    store.close()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"online_store": {"type": "mem"}},
            "'online_store.type' is 'mem'; expected one of 'broken', 'dynamodb', 'memo', 'postgres', 'redis', "
            "'sqlite'; did you mean 'memo'?",
        ),
        ({"online_store": {"type": "memo", "colour": "red"}}, "unknown key 'online_store.colour'"),
        (
            {"online_store": {"type": "broken"}},
            "'online_store.type' is 'broken': its entry point 'ladle_memo.nowhere:Store' cannot be loaded",
        ),
        (
            {"batch_engine": {"type": "not_an_engine"}},
            "'batch_engine.type' is 'not_an_engine' (ladle_memo.stores:MemoOnlineStore), which is not a subclass "
            "of ladle's BatchEngine",
        ),
        ({"offline_store": "bigquery"}, "'offline_store.type' is 'bigquery'; expected one of 'dask', 'duckdb'"),
        ({"registry": {"registry_type": "gcs"}}, "'registry.registry_type' is 'gcs'; expected one of"),
        ({"coerce_tz_aware": False}, "'coerce_tz_aware': ladle always reads naive entity_df timestamps as UTC"),
        ({"flags": {"alpha_features": True, "on_demand_transforms": False}}, "on_demand_transforms set to false"),
    ],
)
def test_a_bad_backend_name_names_the_key_and_the_choices(
    third_party: Path, section: dict[str, object], problem: str
) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_repo_config({"project": "p", **section}, third_party)
    assert problem in str(info.value)


def test_feast_keys_users_have_are_accepted_with_their_meaning(tmp_path: Path) -> None:
    config = parse_repo_config(
        {
            "project": "p",
            "coerce_tz_aware": True,
            "flags": {"alpha_features": True, "on_demand_transforms": True},
            "registry": {"path": "data/registry.db", "registry_store_type": "FileRegistryStore"},
        },
        tmp_path,
    )
    assert config.flags == {"alpha_features": True, "on_demand_transforms": True}
    store = make_registry_store(config)
    assert store.name == "file" and store.describe() == str(tmp_path / "data/registry.db")
    with pytest.raises(InvalidConfig, match=r"'registry.registry_store_type' is 'GCSRegistryStore'; expected one of"):
        parse_repo_config({"project": "p", "registry": {"registry_store_type": "GCSRegistryStore"}}, tmp_path)


def test_config_imports_no_backend_and_no_driver() -> None:
    """``ladle.config`` sits above nothing but the tables: validating a yaml loads only the backend it names."""
    code = (
        "import sys, ladle.config\n"
        "layers = ('ladle.offline', 'ladle.online', 'ladle.ingest', 'ladle.registry', 'ladle.retrieval')\n"
        "print(sorted(m for m in sys.modules if m.startswith(layers)))\n"
        "print(sorted(m for m in ('duckdb', 'redis', 'psycopg', 'boto3', 'pyspark') if m in sys.modules))\n"
        "ladle.config.parse_repo_config({'project': 'p', 'online_store': 'redis'}, '.')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ladle.online.', 'ladle.offline.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, drivers, after = out.splitlines()
    assert (before, drivers) == ("[]", "[]")
    loaded = set(ast.literal_eval(after))
    stores = {"ladle.offline.duckdb", "ladle.offline.postgres", "ladle.offline.spark", "ladle.online.sqlite"}
    stores |= {"ladle.online.redis", "ladle.online.postgres", "ladle.online.dynamodb"}
    assert loaded & stores == {"ladle.offline.duckdb", "ladle.online.redis"}  # the default offline store, and redis

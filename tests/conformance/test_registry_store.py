"""One suite for the registry-store protocol, run on every registry backend: file, sql (sqlite), sql
(postgres) and s3 (a real moto server).

The same story for each: nothing stored, a first write, a read back, a conflicting write refused without
writing, a full Registry apply on top of it, a stale Registry's apply refused, and delete leaving nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import registry_locations
from ladle.config import RegistryConfig, RepoConfig
from ladle.definitions import Entity
from ladle.errors import RegistryConflict
from ladle.registry import Registry
from ladle.registry.base import RegistryStore, content_token
from ladle.registry.file import FileRegistryStore
from ladle.registry.s3 import S3RegistryStore
from ladle.registry.sql import SqlRegistryStore
from ladle.repo.loader import RepoContents

#: (registry_type, path) of a fresh location on every registry store (tests/backends.py); the project name is
#: unique per test
registry_path = registry_locations()


def make_store(kind: str, path: str, project: str, tmp_path: Path) -> RegistryStore:
    config = RegistryConfig(**registry_settings(kind, path, project))  # type: ignore[arg-type]
    cls = {"s3": S3RegistryStore, "file": FileRegistryStore, "sql": SqlRegistryStore}[kind]
    return cls(config, tmp_path, project)


def registry_settings(kind: str, path: str, project: str) -> dict[str, object]:
    if kind == "s3":
        url, _, endpoint = path.partition("|")
        return {"path": url.replace("registry.json", f"{project}/registry.json"), "s3_endpoint_url": endpoint}
    return {"registry_type": kind, "path": path}


def test_store_protocol(registry_path: tuple[str, str], tmp_path: Path) -> None:
    kind, path = registry_path
    project = f"p_{uuid.uuid4().hex[:8]}"
    store = make_store(kind, path, project, tmp_path)
    assert store.read() is None
    token = store.write(b'{"v": 1}', None)
    assert token == content_token(b'{"v": 1}')
    assert store.read() == b'{"v": 1}'
    with pytest.raises(RegistryConflict):
        store.write(b'{"v": 2}', None)  # someone already wrote
    with pytest.raises(RegistryConflict):
        store.write(b'{"v": 2}', content_token(b"stale"))
    assert store.read() == b'{"v": 1}'  # refused writes wrote nothing
    store.write(b'{"v": 3}', token)
    assert store.read() == b'{"v": 3}'
    store.delete()
    assert store.read() is None


def test_registry_apply_and_conflict(registry_path: tuple[str, str], tmp_path: Path) -> None:
    kind, path = registry_path
    project = f"p_{uuid.uuid4().hex[:8]}"
    config = RepoConfig(
        project=project, registry={**registry_settings(kind, path, project), "cache_ttl_seconds": 0}, repo_path=tmp_path
    )
    first, second = Registry(config), Registry(config)
    assert second.list_entities() == []  # second has read the empty registry
    diff = first.apply(RepoContents(entities=[Entity(name="driver", join_keys=["driver_id"])]))
    assert [c.name for c in diff.added] == ["driver"]
    assert Registry(config).get_entity("driver").join_keys == ["driver_id"]
    assert Registry(config).version == 1
    # the stale reader re-reads before applying, so it sees the change rather than overwriting it
    diff2 = second.apply(
        RepoContents(
            entities=[Entity(name="driver", join_keys=["driver_id"]), Entity(name="rider", join_keys=["rider_id"])]
        )
    )
    assert [c.name for c in diff2.added] == ["rider"]
    assert sorted(e.name for e in Registry(config).list_entities()) == ["driver", "rider"]
    Registry(config).teardown()
    assert Registry(config).list_entities() == []

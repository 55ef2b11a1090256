"""One suite for the registry-store protocol, run on every registry backend: file, sql (sqlite), sql
(postgres) and s3 (a real moto server).

The same story for each: nothing stored, a first write, a read back, a conflicting write refused without
writing, a full Registry apply on top of it, a stale Registry's apply refused, and delete leaving nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ladle.config import RegistryConfig, RepoConfig
from ladle.definitions import Entity
from ladle.errors import RegistryConflict
from ladle.registry import Registry
from ladle.registry.base import RegistryStore, content_token
from ladle.registry.file import FileRegistryStore
from ladle.registry.s3 import S3RegistryStore
from ladle.registry.sql import SqlRegistryStore
from ladle.repo.loader import RepoContents

POSTGRES_URL = os.environ.get("LADLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_or_skip() -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        if os.environ.get("LADLE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL is required (LADLE_REQUIRE_SERVICES=1) but {POSTGRES_URL} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")


@pytest.fixture(params=["file", "sql-sqlite", "sql-postgres", "s3"])
def registry_path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(registry_type, path) for a fresh registry location; the project name is unique per test."""
    if request.param == "file":
        yield "file", str(tmp_path / "registry.db")
    elif request.param == "sql-sqlite":
        yield "sql", f"sqlite:///{tmp_path / 'registry.sqlite'}"
    elif request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        boto3 = pytest.importorskip("boto3")
        bucket = f"ladle-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield "s3", f"s3://{bucket}/registry.json|{endpoint}"
    else:
        _postgres_or_skip()
        yield "sql", POSTGRES_URL


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

"""Apply under fault injection and concurrency, on file registry + SQLite, SQL registry + PostgreSQL, and Redis.

A child process is killed (``os._exit``, no cleanup) at an exact step of ``apply``; a fresh store must then
recover: the registry consistent with the online store, the data of every registered view present or its
bookkeeping invalidated so that ``materialize_incremental`` restores it, and no orphan temp file left.
Two applies racing must leave every view of the winner's registry with its online storage.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import PG_DSN, PG_URL, REDIS_URL, postgres_admin, redis_ping
from ladle.errors import RegistryConflict
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)
KILLED = 77
LOST = 3
DRIVERS = list(range(1, 7))

BEFORE = """
from datetime import timedelta
from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="src", path="data/stats.parquet", timestamp_field="ts")
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=2), source=src,
                    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)])
extra = FeatureView(name="extra", entities=[driver], ttl=timedelta(days=2), source=src,
                    schema=[Field(name="rate", dtype=Float64)])
"""
# stats loses a feature (PostgreSQL and SQLite rebuild its table), extra is removed
AFTER = """
from datetime import timedelta
from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="src", path="data/stats.parquet", timestamp_field="ts")
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=2), source=src,
                    schema=[Field(name="rate", dtype=Float64)])
"""


@contextlib.contextmanager
def backend_yaml(kind: str) -> Iterator[str]:
    """The yaml (registry and online store) of one backend pair, with a unique project/schema."""
    project = f"crash{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        yield f"project: {project}\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
    elif kind == "redis":
        client = redis_ping()
        yield (
            f"project: {project}\nregistry: data/registry.db\n"
            f"online_store:\n  type: redis\n  connection_string: {REDIS_URL}\n"
        )
        for key in client.scan_iter(match=f"ladle:{project}:*"):
            client.delete(key)
        client.close()
    else:
        admin = postgres_admin()
        admin.execute(f'CREATE SCHEMA "{project}"')
        yield (
            f"project: {project}\nregistry:\n  registry_type: sql\n  path: {PG_URL}\n"
            f'online_store:\n  type: postgres\n  dsn: "{PG_DSN}"\n  db_schema: {project}\n'
        )
        admin.execute(f'DROP SCHEMA "{project}" CASCADE')
        admin.execute("DELETE FROM ladle_registry WHERE project = %s", (project,))
        admin.close()


def _backends(*kinds: str) -> Any:
    @pytest.fixture(params=kinds)
    def fixture(request: pytest.FixtureRequest) -> Iterator[str]:
        with backend_yaml(request.param) as yaml:
            yield yaml

    return fixture


#: file+SQLite, SQL registry+PostgreSQL and file+Redis
backend = _backends("sqlite", "postgres", "redis")
#: the one online store that deletes a view key by key
redis_backend = _backends("redis")
#: the registries written through a temp file and a rename
file_registry_backend = _backends("sqlite", "redis")


def make_repo(root: Path, yaml: str) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(yaml + "offline_store:\n  type: duckdb\n")
    (root / "features.py").write_text(textwrap.dedent(BEFORE))
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array(DRIVERS, pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=1)] * len(DRIVERS), pa.timestamp("us", tz="UTC")),
                "rate": [d / 10 for d in DRIVERS],
                "trips": pa.array(DRIVERS, pa.int64()),
            }
        ),
        root / "data/stats.parquet",
    )
    store = FeatureStore(repo_path=root)
    store.apply_repo()
    store.materialize_incremental(NOW)
    store.close()
    (root / "features.py").write_text(textwrap.dedent(AFTER))
    return root


def online_storage(store: FeatureStore, view: str) -> bool:
    """Whether the online store holds anything for ``view`` (a table, or Redis fields)."""
    kind, project = store.config.online_store.type, store.project
    if kind == "sqlite":
        con = sqlite3.connect(store.repo_path / "data/online.db")
        try:
            return (
                con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"{project}_{view}",)).fetchone() is not None
            )
        finally:
            con.close()
    if kind == "postgres":
        admin = postgres_admin()
        try:
            found = admin.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (project, f"{project}_{view}"),
            ).fetchone()
            return found is not None
        finally:
            admin.close()
    client = redis_ping()
    try:
        return any(client.hexists(k, f"{view}:_ts") for k in client.scan_iter(match=f"ladle:{project}:*"))
    finally:
        client.close()


def run_killed(repo: Path, inject: Callable[[], None]) -> int:
    """Apply the repo in a forked child after ``inject()`` armed a kill; the child's exit code."""

    def child() -> None:
        inject()
        FeatureStore(repo_path=repo).apply_repo()
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "the child hung"
    return proc.exitcode


def kill_when(obj: Any, name: str, after: bool = False, calls: int = 1) -> Callable[[], None]:
    """An injector: ``obj.name`` kills the process on its ``calls``-th call (before it runs, or ``after``)."""

    def inject() -> None:
        original = getattr(obj, name)
        count = [0]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] >= calls and not after:
                os._exit(KILLED)
            result = original(*args, **kwargs)
            if count[0] >= calls and after:
                os._exit(KILLED)
            return result

        setattr(obj, name, wrapper)

    return inject


def assert_recovers(repo: Path, committed: bool) -> None:
    """A fresh store: registry and online store agree, data restored by materialize_incremental."""
    store = FeatureStore(repo_path=repo)
    try:
        store.materialize_incremental(NOW)  # settles pending online work first
        state = store.registry.state()
        assert state.pending_infra is None
        views = sorted(state.feature_views())
        assert views == (["stats"] if committed else ["extra", "stats"])
        assert online_storage(store, "stats")
        assert online_storage(store, "extra") is not committed
        served = store.get_online_features(["stats:rate"], {"driver_id": DRIVERS}).to_dict()
        assert served["rate"] == [d / 10 for d in DRIVERS]
        if not committed:
            store.apply_repo()
            assert not online_storage(store, "extra")
        assert not list((repo / "data").glob(".registry.db.*.tmp"))
    finally:
        store.close()


def test_killed_after_the_registry_commit_recovers(backend: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", backend)
    assert run_killed(repo, kill_when(FeatureStore, "_apply_infra")) == KILLED
    store = FeatureStore(repo_path=repo)
    assert sorted(store.registry.state().feature_views()) == ["stats"]
    assert store.registry.state().pending_infra is not None  # the committed registry says what is left to do
    store.close()
    assert_recovers(repo, committed=True)


def test_killed_after_the_online_change_before_clearing_recovers(backend: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", backend)
    assert run_killed(repo, kill_when(FeatureStore, "_apply_infra", after=True)) == KILLED
    assert_recovers(repo, committed=True)


def test_killed_mid_redis_field_deletion_recovers(redis_backend: str, tmp_path: Path) -> None:
    """SQL stores drop a table in one transaction; Redis deletes a view's fields in steps (a SCAN step, then
    the delete script on the keys it found, pipelined with the next step): killed after the second step."""
    import redis

    repo = make_repo(tmp_path / "repo", redis_backend)
    assert run_killed(repo, kill_when(redis.client.Pipeline, "execute", after=True, calls=2)) == KILLED
    assert_recovers(repo, committed=True)


def test_killed_between_temp_file_and_rename_recovers(file_registry_backend: str, tmp_path: Path) -> None:
    """The file registry writes a temp file and renames it (the SQL registry writes in one statement)."""
    import ladle.registry.file as registry_file

    repo = make_repo(tmp_path / "repo", file_registry_backend)
    assert run_killed(repo, kill_when(registry_file.os, "replace")) == KILLED
    assert list((repo / "data").glob(".registry.db.*.tmp"))  # the killed writer's orphan
    assert_recovers(repo, committed=False)


def test_concurrent_applies_leave_the_winners_views_with_storage(backend: str, tmp_path: Path) -> None:
    """Two processes apply different repos from the same registry, 8 times: one loses and touches nothing."""
    repo = make_repo(tmp_path / "repo", backend)
    other = tmp_path / "other"
    other.mkdir()
    (other / "feature_store.yaml").write_text((repo / "feature_store.yaml").read_text())
    (other / "features.py").write_text(textwrap.dedent(BEFORE))
    (other / "data").symlink_to(repo / "data")
    context = multiprocessing.get_context("fork")
    conflicts = 0
    for trial in range(8):
        barrier = context.Barrier(2)

        def child(path: Path, barrier: Any = barrier) -> None:
            store = FeatureStore(repo_path=path)
            write = store.registry.store.write

            def write_together(data: bytes, token: str | None) -> str:
                barrier.wait(30)  # both applies have read the same registry: exactly one commit can win
                store.registry.store.write = write  # type: ignore[method-assign]
                return write(data, token)

            store.registry.store.write = write_together  # type: ignore[method-assign]
            try:
                store.apply_repo()
            except RegistryConflict:
                os._exit(LOST)
            os._exit(0)

        for who, path in (("a", repo), ("b", other)):  # both differ from the registry: both must commit
            text = BEFORE if who == "b" else AFTER
            (path / "features.py").write_text(
                textwrap.dedent(text).replace("source=src,", f"source=src, description='{who}{trial}',")
            )
        procs = [context.Process(target=child, args=(p,)) for p in ((repo, other) if trial % 2 else (other, repo))]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = sorted(p.exitcode for p in procs)
        assert set(outcomes) <= {0, LOST}, outcomes
        conflicts += outcomes.count(LOST)
        store = FeatureStore(repo_path=repo)
        try:
            state = store.registry.state()
            assert state.pending_infra is None
            for name in ("stats", "extra"):
                registered, stored = name in state.feature_views(), online_storage(store, name)
                if not registered:
                    assert not stored, (trial, outcomes, name)  # the loser created nothing
                elif "type: redis" not in backend or state.materialized_until(name) is not None:
                    assert stored, (trial, outcomes, name)  # the loser dropped nothing the winner uses
        finally:
            store.close()
    assert conflicts == 8


def test_ladle_serve_finishes_pending_online_work_at_start(backend: str, tmp_path: Path) -> None:
    """A server started after an interrupted apply serves the committed registry with its online work done."""
    from fastapi.testclient import TestClient

    from ladle.server.app import create_app
    from ladle.server.settings import ServerSettings

    repo = make_repo(tmp_path / "repo", backend)
    assert run_killed(repo, kill_when(FeatureStore, "_apply_infra")) == KILLED
    with TestClient(create_app(ServerSettings(repo_path=str(repo))), base_url="http://localhost") as client:
        assert client.get("/health").status_code == 200
    store = FeatureStore(repo_path=repo)
    try:
        assert store.registry.state().pending_infra is None
        assert not online_storage(store, "extra")  # the dropped view's storage is gone
    finally:
        store.close()

"""Registry history, diff and rollback on every registry store: file, sql (sqlite), sql (postgres), s3 (moto).

The same story on each: three applies leave three versions with time, user, host and a summary; ``diff``
names the added/removed/changed fields between any two; ``rollback`` writes a *new* version equal to an old
one (history is never rewritten), runs the online-store step with that version's views, and a stale writer
still gets ``RegistryConflict``. Retention keeps the configured number of versions and no more.
"""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backends import registry_locations
from ladle.config import RepoConfig
from ladle.definitions import Entity, FeatureView, Field, FileSource
from ladle.errors import InvalidRequest, RegistryConflict
from ladle.registry import Registry, RegistryState
from ladle.repo.loader import RepoContents
from ladle.types import Float32, Float64, Int64

registry_path = registry_locations()


def settings(kind: str, path: str, project: str) -> dict[str, object]:
    if kind == "s3":
        url, _, endpoint = path.partition("|")
        return {"path": url.replace("registry.json", f"{project}/registry.json"), "s3_endpoint_url": endpoint}
    return {"registry_type": kind, "path": path}


def make_config(registry_path: tuple[str, str], tmp_path: Path, **extra: Any) -> RepoConfig:
    kind, path = registry_path
    project = f"h_{uuid.uuid4().hex[:8]}"
    registry = {**settings(kind, path, project), "cache_ttl_seconds": 0, **extra}
    return RepoConfig(project=project, registry=registry, repo_path=tmp_path)


def repo(ttl_hours: int = 24, rate_type: Any = Float32, extra_entity: bool = False) -> RepoContents:
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts")
    view = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(hours=ttl_hours),
        schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=rate_type)],
        source=source,
    )
    objs: list[Any] = [driver, source, view]
    if extra_entity:
        objs.append(Entity(name="rider", join_keys=["rider_id"]))
    return RepoContents.from_objects(objs)


class InfraCalls:
    """The online-store step as the registry calls it: which views it was asked to keep."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, state: RegistryState, dropped: list[FeatureView]) -> None:
        self.calls.append({n: v.schema[1].dtype for n, v in state.feature_views().items()})


def three_versions(registry: Registry) -> None:
    registry.apply(repo())  # v1
    registry.apply(repo(ttl_hours=2, extra_entity=True))  # v2: cosmetic ttl change, entity added
    registry.apply(repo(ttl_hours=2, rate_type=Float64))  # v3: contract change, entity removed


def test_history_lists_every_version_with_who_and_what(
    registry_path: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADLE_USER", "alice")
    registry = Registry(make_config(registry_path, tmp_path))
    three_versions(registry)
    history = registry.history()
    assert [v.version for v in history] == [1, 2, 3]
    assert {v.user for v in history} == {"alice"} and {v.host for v in history} == {socket.gethostname()}
    assert all(v.time and v.restorable for v in history)
    assert "added entity 'driver'" in history[0].summary
    assert history[1].summary == "added entity 'rider'; changed feature_view 'driver_stats' (ttl_seconds)"
    assert [(c["name"], c["change"]) for c in history[2].changes] == [
        ("rider", "removed"),
        ("driver_stats", "changed"),
    ]
    assert [c.get("contract_changed") for c in history[2].changes] == [None, True]
    assert history[1].changes[1]["contract_changed"] is False


def test_diff_between_any_two_versions(registry_path: tuple[str, str], tmp_path: Path) -> None:
    registry = Registry(make_config(registry_path, tmp_path))
    three_versions(registry)
    diff = registry.diff_versions(1, 3)
    assert diff.describe() == [
        "~ feature view 'driver_stats'",
        "    schema[1].dtype: Float32 -> Float64",
        "    ttl_seconds: 86400 -> 7200",
    ]
    assert [c.name for c in diff.contract_changes] == ["driver_stats"]
    backwards = registry.diff_versions(3, 2)
    assert [(c.kind, c.name, c.change) for c in backwards.changes] == [
        ("entity", "rider", "added"),
        ("feature_view", "driver_stats", "changed"),
    ]
    assert registry.diff_versions(2, 2).is_empty
    with pytest.raises(InvalidRequest, match="version 9 does not exist"):
        registry.diff_versions(1, 9)


def test_rollback_writes_a_new_version_and_settles_online(registry_path: tuple[str, str], tmp_path: Path) -> None:
    config = make_config(registry_path, tmp_path)
    registry = Registry(config)
    three_versions(registry)
    infra = InfraCalls()
    diff = registry.rollback(1, apply_infra=infra)
    assert [c.name for c in diff.changes] == ["driver_stats"]
    fresh = Registry(config)
    assert fresh.version == 4  # a new version; versions 1..3 are still there
    assert [v.version for v in fresh.history()] == [1, 2, 3, 4]
    assert fresh.history()[-1].rollback_of == 1
    assert fresh.history()[-1].summary.startswith("rollback to version 1: ")
    assert fresh.specs_at(4) == fresh.specs_at(1)
    view = fresh.get_feature_view("driver_stats")
    assert view.ttl == timedelta(hours=24) and view.schema[1].dtype == Float32
    assert infra.calls == [{"driver_stats": Float32}]  # the online step saw version 1's view
    assert fresh.state().pending_infra is None  # the online step ran and was marked done
    assert registry.rollback(1).is_empty  # already equal: nothing written
    with pytest.raises(InvalidRequest, match="versions start at 1"):
        registry.rollback(0)
    assert Registry(config).version == 4


def test_rollback_refused_for_a_stale_writer(registry_path: tuple[str, str], tmp_path: Path) -> None:
    config = make_config(registry_path, tmp_path)
    registry = Registry(config)
    three_versions(registry)
    state, token = registry._read()  # a writer that read version 3 ...
    Registry(config).apply(repo(ttl_hours=5))  # ... then someone else applied version 4
    with pytest.raises(RegistryConflict):
        registry._commit(state, token, registry.specs_at(1), None, rollback_of=1)
    assert Registry(config).version == 4  # nothing written by the refused rollback


def test_retention_keeps_the_configured_number_of_versions(registry_path: tuple[str, str], tmp_path: Path) -> None:
    config = make_config(registry_path, tmp_path, history_limit=2)
    registry = Registry(config)
    three_versions(registry)
    assert [v.version for v in registry.history()] == [2, 3]
    with pytest.raises(InvalidRequest, match="past retention"):
        registry.rollback(1)
    registry.rollback(2)
    assert [v.version for v in registry.history()] == [3, 4]
    # only the specs the kept versions use are stored
    kept = {h for e in registry.state().history for h in e["objects"].values()}
    assert set(registry.state().snapshots) == kept

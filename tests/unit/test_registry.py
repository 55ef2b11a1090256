"""The registry: plan/apply with field-level diffs, all-or-nothing writes, concurrency, history, bookkeeping."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from ladle.config import RegistryConfig, RepoConfig
from ladle.definitions import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    Project,
    PushSource,
    RequestSource,
    on_demand_feature_view,
)
from ladle.errors import InvalidConfig, InvalidDefinition, InvalidRequest, NotFound, RegistryConflict
from ladle.registry import FileRegistryStore, Registry, RegistryDiff, RegistryState
from ladle.repo.loader import RepoContents
from ladle.types import Float32, Float64, Int64

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def config(tmp_path: Path, ttl: float = 60.0, project: str = "demo") -> RepoConfig:
    return RepoConfig(
        project=project, repo_path=tmp_path, registry=RegistryConfig(path="data/registry.db", cache_ttl_seconds=ttl)
    )


def objects(ttl_hours: int = 24, rate_type: Any = Float32, service: bool = True) -> list[Any]:
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts")
    push = PushSource(name="stats_push", batch_source=source)
    stats = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(hours=ttl_hours),
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="rate", dtype=rate_type),
            Field(name="trips", dtype=Int64),
        ],
        source=push,
    )
    req = RequestSource(name="req", schema=[Field(name="bonus", dtype=Float64)])

    @on_demand_feature_view(sources=[stats, req], schema=[Field(name="boosted", dtype=Float64)])
    def boosted(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"boosted": inputs["rate"] + inputs["bonus"]})

    out: list[Any] = [driver, source, push, stats, req, boosted]
    if service:
        out.append(FeatureService(name="model_v1", features=[stats[["rate"]], boosted]))
    return out


def contents(*objs: Any) -> RepoContents:
    return RepoContents.from_objects(objs if objs else objects())


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(config(tmp_path))


def registry_bytes(reg: Registry) -> bytes:
    data = reg.store.read()
    assert data is not None
    return data


# --- apply and plan -------------------------------------------------------------------------------------
def test_first_apply_registers_everything(registry: Registry, tmp_path: Path) -> None:
    diff = registry.apply(contents())
    assert diff.describe() == [
        "+ data source 'req'",
        "+ data source 'stats_push'",
        "+ data source 'stats_src'",
        "+ entity 'driver'",
        "+ feature view 'driver_stats'",
        "+ on-demand feature view 'boosted'",
        "+ feature service 'model_v1'",
    ]
    assert (tmp_path / "data/registry.db").exists()
    assert registry.version == 1
    assert [v.name for v in registry.list_feature_views()] == ["driver_stats"]
    fv = registry.get_feature_view("driver_stats")
    assert fv.join_keys == ["driver_id"] and [f.name for f in fv.features] == ["rate", "trips"]
    assert isinstance(registry.get_data_source("stats_push"), PushSource)
    assert registry.get_feature_service("model_v1").on_demand_names == {"boosted"}
    assert registry.get_project().name == "demo"


def test_registry_file_layout(registry: Registry) -> None:
    registry.apply(contents())
    doc = orjson.loads(registry_bytes(registry))
    # without an online store to change, the apply's online work stays pending in the document
    assert set(doc) == {
        "format",
        "project",
        "version",
        "last_updated",
        "objects",
        "materialization",
        "history",
        "snapshots",
        "view_versions",
        "pending_infra",
    }
    registry.settle_infra(lambda state, dropped: None)
    doc = orjson.loads(registry_bytes(registry))
    assert set(doc) == {
        "format",
        "project",
        "version",
        "last_updated",
        "objects",
        "materialization",
        "history",
        "snapshots",
        "view_versions",
    }
    assert doc["format"] == "ladle-registry/1" and doc["project"] == "demo" and doc["version"] == 1
    assert set(doc["objects"]) == {
        "projects",
        "data_sources",
        "entities",
        "feature_views",
        "on_demand_feature_views",
        "feature_services",
    }
    entry = doc["objects"]["entities"]["driver"]
    assert set(entry) == {"spec", "hash", "created_timestamp", "last_updated_timestamp"}
    assert entry["spec"] == Entity(name="driver", join_keys=["driver_id"]).to_dict()
    text = registry_bytes(registry).decode()
    assert text.startswith('{\n  "format"') and text.endswith("}\n")  # indented, sorted keys: diffable


def test_plan_describes_changes_field_by_field_and_writes_nothing(registry: Registry) -> None:
    registry.apply(contents())
    before = registry_bytes(registry)
    diff = registry.plan(contents(*objects(ttl_hours=1, rate_type=Float64)))
    assert diff.describe() == [
        "~ feature view 'driver_stats'",
        "    schema[1].dtype: Float32 -> Float64",
        "    ttl_seconds: 86400 -> 3600",
    ]
    assert [c.name for c in diff.contract_changes] == ["driver_stats"]
    assert diff.contract_lines()[0].startswith("CONTRACT CHANGE feature view 'driver_stats': schema hash ")
    assert [(c.kind, c.name) for c in diff.changed] == [("feature_view", "driver_stats")]
    assert ("entity", "driver") in diff.unchanged
    assert diff.summary() == "0 added, 1 changed, 0 removed, 6 unchanged, 1 contract change(s)"
    assert registry_bytes(registry) == before


def test_diff_matches_named_list_entries_by_name() -> None:
    old = {"feature_views": {"v": {"schema": [{"name": "a", "dtype": "Int64"}, {"name": "b", "dtype": "Int64"}]}}}
    new = {
        "feature_views": {
            "v": {
                "schema": [
                    {"name": "new", "dtype": "String"},
                    {"name": "a", "dtype": "Int64"},
                    {"name": "b", "dtype": "Float64"},
                ]
            }
        }
    }
    lines = RegistryDiff.compute(old, new).describe()
    assert lines == [
        "~ feature view 'v'",
        '    schema[0]: (absent) -> {"dtype":"String","name":"new"}',
        "    schema[2].dtype: Int64 -> Float64",
    ]


def test_apply_with_no_changes_does_not_write_or_bump_the_version(registry: Registry) -> None:
    registry.apply(contents())
    before = registry_bytes(registry)
    calls: list[RegistryState] = []
    diff = registry.apply(contents(), apply_infra=lambda s, dropped: calls.append(s))
    assert diff.is_empty and diff.describe() == ["No changes: the registry already matches the repo."]
    assert registry.version == 1
    assert len(calls) == 1  # infrastructure is still ensured (and the first apply's pending work cleared)
    after = registry_bytes(registry)
    registry.apply(contents(), apply_infra=lambda s, dropped: calls.append(s))
    assert registry_bytes(registry) == after and len(calls) == 2
    assert before != after and orjson.loads(after).get("pending_infra") is None


def test_full_apply_removes_what_the_repo_no_longer_defines(registry: Registry) -> None:
    registry.apply(contents())
    diff = registry.apply(contents(*objects(service=False)))
    assert diff.describe() == ["- feature service 'model_v1'"]
    assert registry.list_feature_services() == []


def test_partial_apply_adds_and_updates_and_keeps_the_rest(registry: Registry) -> None:
    registry.apply(contents())
    rider = Entity(name="rider", join_keys=["rider_id"])
    diff = registry.apply(contents(rider), partial=True)
    assert diff.describe() == ["+ entity 'rider'"]
    assert [e.name for e in registry.list_entities()] == ["driver", "rider"]
    assert registry.get_feature_service("model_v1").name == "model_v1"
    changed = [o for o in objects(ttl_hours=2) if isinstance(o, FeatureView)]
    diff = registry.apply(contents(*changed), partial=True)
    assert diff.describe() == ["~ feature view 'driver_stats'", "    ttl_seconds: 86400 -> 7200"]
    assert len(registry.list_entities()) == 2


def test_partial_apply_deletes_in_the_same_write(registry: Registry) -> None:
    """``delete`` pairs go in the one atomic write of a partial apply: unknown names are skipped, an object
    also given is kept, and a deletion that leaves a dangling reference writes nothing."""
    registry.apply(contents())
    rider = Entity(name="rider", join_keys=["rider_id"])
    version = registry.version
    diff = registry.apply(
        contents(rider),
        partial=True,
        delete=[("FeatureService", "model_v1"), ("feature_views", "never_registered"), ("Entity", "rider")],
    )
    assert diff.describe() == ["+ entity 'rider'", "- feature service 'model_v1'"]
    assert registry.version == version + 1
    assert [e.name for e in registry.list_entities()] == ["driver", "rider"]
    with pytest.raises(InvalidDefinition, match="reads feature view 'driver_stats', which is not defined"):
        registry.apply(contents(rider), partial=True, delete=[("FeatureView", "driver_stats")])
    assert registry.version == version + 1 and [v.name for v in registry.list_feature_views()] == ["driver_stats"]


def test_failed_online_change_stays_pending_and_is_redone(registry: Registry) -> None:
    """The registry is committed first; online work that fails stays recorded until someone finishes it."""
    registry.apply(contents(), apply_infra=lambda s, d: None)

    def fail(state: RegistryState, dropped: list[FeatureView]) -> None:
        assert state.version == 2
        raise RuntimeError("cannot create online table")

    with pytest.raises(RuntimeError, match="cannot create online table"):
        registry.apply(contents(*objects(ttl_hours=5)), apply_infra=fail)
    assert registry.version == 2
    assert registry.get_feature_view("driver_stats").ttl == timedelta(hours=5)
    assert registry.state().pending_infra is not None
    seen: list[int] = []
    assert registry.settle_infra(lambda s, d: seen.append(s.version)) is True
    assert seen == [2] and registry.state().pending_infra is None
    assert registry.settle_infra(lambda s, d: seen.append(s.version)) is False


def test_removed_view_is_dropped_only_after_the_commit(registry: Registry) -> None:
    registry.apply(contents(), apply_infra=lambda s, d: None)
    registry.record_materialization("driver_stats", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    calls: list[tuple[list[str], list[str]]] = []

    def record(state: RegistryState, dropped: list[FeatureView]) -> None:
        # the committed registry no longer references what is dropped, nor claims it materialized
        assert "driver_stats" not in state.objects["feature_views"]
        assert state.materialized_until("driver_stats") is None
        calls.append((sorted(state.objects["feature_views"]), [v.name for v in dropped]))

    kept = [o for o in objects(service=False) if not isinstance(o, FeatureView | OnDemandFeatureView)]
    registry.apply(contents(*kept), apply_infra=record)
    assert calls == [([], ["driver_stats"])]


# --- validation --------------------------------------------------------------------------------------------
def _driver_view(name: str = "v", entities: list[Any] | None = None) -> FeatureView:
    return FeatureView(
        name=name,
        entities=entities if entities is not None else ["driver"],
        schema=[Field(name="rate", dtype=Float32)],
        source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: [_driver_view(entities=["customer"])],
            "FeatureView 'v': uses entity 'customer', which is not defined "
            "(define Entity(name='customer', ...) in the repo; defined entities: ['driver'])",
        ),
        (
            lambda: [FeatureService(name="svc", features=[_driver_view(name="ghost")])],
            "FeatureService 'svc': includes feature view 'ghost', which is not defined "
            "(define or apply it too; defined feature views: ['driver_stats', 'boosted'])",
        ),
        (
            lambda: [
                _driver_view(name="other"),
                FeatureService.from_dict({"name": "svc", "features": [{"name": "other", "features": ["nope"]}]}),
            ],
            "FeatureService 'svc': includes feature(s) 'nope' of 'other', which it does not have "
            "(its features are: rate)",
        ),
        (
            lambda: [Project(name="elsewhere")],
            "Project 'elsewhere': does not match the project 'demo' of feature_store.yaml "
            "(use the same name in both places)",
        ),
        (
            lambda: [FileSource(name="stats_src", path="data/other.parquet", timestamp_field="ts")],
            "DataSource 'stats_src': two different data sources have this name (give each a distinct name)",
        ),
    ],
    ids=["unknown-entity", "unknown-view", "unknown-feature", "project-name", "duplicate-source"],
)
def test_invalid_repos_are_rejected_and_nothing_is_written(registry: Registry, make: Any, expected: str) -> None:
    registry.apply(contents())
    before = registry_bytes(registry)
    with pytest.raises(InvalidDefinition) as exc:
        registry.apply(contents(*objects(), *make()))
    assert str(exc.value) == expected.replace("['driver_stats', 'boosted']", "['boosted', 'driver_stats']")
    assert registry_bytes(registry) == before
    with pytest.raises(InvalidDefinition):
        registry.plan(contents(*objects(), *make()))


def test_two_different_sources_with_one_name_are_rejected_by_the_registry(registry: Registry) -> None:
    a = FileSource(name="src", path="data/a.parquet", timestamp_field="ts")
    b = FileSource(name="src", path="data/b.parquet", timestamp_field="ts")
    with pytest.raises(InvalidDefinition) as exc:
        registry.apply(RepoContents(data_sources=[a, b]))
    assert str(exc.value) == "DataSource 'src': two different data sources have this name (give each a distinct name)"
    assert registry.store.read() is None


def test_on_demand_view_without_its_source_view(registry: Registry) -> None:
    objs = [o for o in objects(service=False) if not isinstance(o, FeatureView)]
    with pytest.raises(InvalidDefinition) as exc:
        registry.apply(contents(*objs))
    assert str(exc.value) == (
        "OnDemandFeatureView 'boosted': reads feature view 'driver_stats', which is not defined "
        "(define or apply it too; defined feature views: none)"
    )


def test_partial_apply_of_a_changed_source_needs_its_views(registry: Registry) -> None:
    registry.apply(contents())
    moved = FileSource(name="stats_src", path="data/moved.parquet", timestamp_field="ts")
    with pytest.raises(InvalidDefinition, match="was defined with a different version of data source 'stats_src'"):
        registry.apply(contents(moved), partial=True)


# --- concurrency ---------------------------------------------------------------------------------------------
def test_concurrent_applies_from_the_same_version_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = Registry(config(tmp_path)), Registry(config(tmp_path))
    first.apply(contents())
    second.refresh()
    touched: list[str] = []
    write = first.store.write

    def other_process_applies_first(data: bytes, token: str | None) -> str:
        second.apply(contents(Entity(name="rider")), partial=True)
        return write(data, token)

    monkeypatch.setattr(first.store, "write", other_process_applies_first)
    with pytest.raises(RegistryConflict, match="changed by another process"):
        first.apply(contents(*objects(ttl_hours=3)), apply_infra=lambda s, d: touched.append("online"))
    assert touched == []  # the loser changed no online table
    monkeypatch.undo()
    doc = RegistryState.from_json(registry_bytes(first))  # still a valid registry: the second apply's
    assert doc.version == 2 and "rider" in doc.objects["entities"]
    assert doc.objects["feature_views"]["driver_stats"].spec["ttl_seconds"] == 86400
    first.refresh()
    assert (
        first.apply(contents(*objects(ttl_hours=3), Entity(name="rider"))).describe()[0]
        == "~ feature view 'driver_stats'"
    )


def test_a_stale_token_is_refused_by_the_store(tmp_path: Path) -> None:
    store = file_store(tmp_path / "r.db")
    token = store.write(b"one", None)
    store.write(b"two", token)
    with pytest.raises(RegistryConflict):
        store.write(b"three", token)
    with pytest.raises(RegistryConflict):
        store.write(b"three", None)
    assert store.read() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db", "r.db.lock"]  # no temp files left behind
    store.delete()
    assert store.read() is None and not (tmp_path / "r.db.lock").exists()


def file_store(path: Path) -> FileRegistryStore:
    return FileRegistryStore(RegistryConfig(path=str(path)), path.parent, "demo")


def _increment(path: str, times: int) -> int:
    store = file_store(Path(path))
    conflicts = 0
    for _ in range(times):
        while True:
            data = store.read()
            value = int(data or b"0")
            try:
                store.write(str(value + 1).encode(), store.token(data))
                break
            except RegistryConflict:
                conflicts += 1
    return conflicts


def test_writers_in_several_processes_never_lose_an_update(tmp_path: Path) -> None:
    """Read-modify-write with the token, retried on conflict, counts every increment exactly once."""
    path = str(tmp_path / "counter.db")
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: a real other process
    with ctx.Pool(6) as pool:
        pool.starmap(_increment, [(path, 40)] * 6)
    assert file_store(Path(path)).read() == b"240"  # without the file lock, updates get lost here


# --- history and bookkeeping -----------------------------------------------------------------------------------
def test_history_records_versions_hashes_and_changes(registry: Registry) -> None:
    registry.apply(contents())
    registry.apply(contents(*objects(ttl_hours=2)))
    registry.apply(contents(*objects(ttl_hours=2, service=False)))
    history = registry.state().history
    assert [h["version"] for h in history] == [1, 2, 3]
    assert "feature_service/model_v1" in history[0]["objects"]
    assert "feature_service/model_v1" not in history[2]["objects"]
    assert history[0]["objects"]["entity/driver"] == history[2]["objects"]["entity/driver"]
    assert history[0]["objects"]["feature_view/driver_stats"] != history[1]["objects"]["feature_view/driver_stats"]
    assert history[1]["changes"] == [
        {
            "kind": "feature_view",
            "name": "driver_stats",
            "change": "changed",
            "fields": ["ttl_seconds"],
            "contract_changed": False,  # a ttl change is cosmetic: the schema hash is the same
        }
    ]
    assert history[2]["changes"][0]["change"] == "removed"
    state = registry.state()
    fv = state.objects["feature_views"]["driver_stats"]
    assert fv.created_timestamp == history[0]["time"] and fv.last_updated_timestamp == history[1]["time"]
    assert state.objects["entities"]["driver"].last_updated_timestamp == history[0]["time"]


def test_materialization_intervals_persist(registry: Registry, tmp_path: Path) -> None:
    registry.apply(contents())
    assert registry.materialized_until("driver_stats") is None
    registry.record_materialization("driver_stats", T0, T0 + timedelta(hours=1))
    registry.record_materialization("driver_stats", T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    registry.record_materialization("driver_stats", T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    version = registry.version
    reopened = Registry(config(tmp_path))
    assert reopened.materialized_until("driver_stats") == T0 + timedelta(hours=4)
    assert reopened.materialization_intervals("driver_stats") == [
        (T0, T0 + timedelta(hours=2)),
        (T0 + timedelta(hours=3), T0 + timedelta(hours=4)),
    ]
    assert reopened.version == version == 1  # bookkeeping is not an apply
    doc = reopened.to_dict()["materialization"]["driver_stats"]
    assert doc["materialized_until"] == "2024-01-01T04:00:00+00:00"


def test_materialization_is_forgotten_when_the_view_changes_shape(registry: Registry) -> None:
    registry.apply(contents())
    registry.record_materialization("driver_stats", T0, T0 + timedelta(hours=1))
    registry.apply(contents(*objects(ttl_hours=2)))  # ttl only: rows keep their shape
    assert registry.materialized_until("driver_stats") == T0 + timedelta(hours=1)
    registry.apply(contents(*objects(ttl_hours=2, rate_type=Float64)))  # schema: materialize again
    assert registry.materialized_until("driver_stats") is None


def test_bookkeeping_errors(registry: Registry) -> None:
    registry.apply(contents())
    with pytest.raises(
        NotFound, match="unknown feature view 'nope' of project 'demo'; registered feature views: driver_stats"
    ):
        registry.record_materialization("nope", T0, T0)
    with pytest.raises(InvalidRequest, match="ends"):
        registry.record_materialization("driver_stats", T0, T0 - timedelta(seconds=1))


# --- reads, cache, deletes ------------------------------------------------------------------------------------
def test_get_unknown_names_lists_what_exists(registry: Registry) -> None:
    registry.apply(contents())
    with pytest.raises(NotFound) as exc:
        registry.get_feature_view("driver_stat")
    assert str(exc.value).strip('"') == (  # (KeyError quotes its message; ladle.errors should not)
        "unknown feature view 'driver_stat' of project 'demo'; did you mean 'driver_stats'? registered feature "
        "views: driver_stats (check the name, or run `ladle apply`)"
    )
    with pytest.raises(NotFound, match="entity 'x'"):
        registry.get_entity("x")
    with pytest.raises(NotFound, match="on-demand feature view 'x'"):
        registry.get_on_demand_feature_view("x")
    with pytest.raises(NotFound, match="feature service 'x'"):
        registry.get_feature_service("x")
    with pytest.raises(NotFound, match="data source 'x'"):
        registry.get_data_source("x")


def test_on_demand_views_come_back_callable(registry: Registry) -> None:
    registry.apply(contents())
    odfv = registry.get_on_demand_feature_view("boosted")
    out = odfv(pd.DataFrame({"rate": [1.0], "bonus": [0.5]}))
    assert out["boosted"].tolist() == [1.5]
    assert odfv.source_views[0].join_keys == ["driver_id"]


def test_cache_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("ladle.registry.registry.time.monotonic", lambda: clock[0])
    writer = Registry(config(tmp_path))
    cached = Registry(config(tmp_path, ttl=60))
    forever = Registry(config(tmp_path, ttl=0))  # Feast's meaning: load once, never expire
    writer.apply(contents())
    assert [len(r.list_entities()) for r in (cached, forever)] == [1, 1]
    writer.apply(contents(Entity(name="rider")), partial=True)
    clock[0] += 59
    assert len(cached.list_entities()) == 1
    clock[0] += 2
    assert len(cached.list_entities()) == 2
    assert len(forever.list_entities()) == 1
    forever.refresh()
    assert len(forever.list_entities()) == 2


def test_state_marker_changes_with_the_content(registry: Registry) -> None:
    empty = registry.state_marker()
    registry.apply(contents())
    applied = registry.state_marker()
    assert applied != empty
    registry.apply(contents())
    assert registry.state_marker() == applied
    assert registry.list_feature_views()[0] is registry.list_feature_views()[0]  # rebuilt once per state


def test_delete_objects(registry: Registry) -> None:
    registry.apply(contents())
    with pytest.raises(InvalidDefinition, match="uses entity 'driver', which is not defined"):
        registry.delete_objects([("Entity", "driver")])
    with pytest.raises(NotFound, match="feature service 'nope'"):
        registry.delete_objects([("FeatureService", "nope")])
    with pytest.raises(InvalidRequest, match="unknown kind of object 'Widget'"):
        registry.delete_objects([("Widget", "x")])
    diff = registry.delete_objects([("FeatureService", "model_v1"), ("on_demand_feature_view", "boosted")])
    assert diff.describe() == ["- on-demand feature view 'boosted'", "- feature service 'model_v1'"]
    assert registry.version == 2


def test_teardown_deletes_the_registry(registry: Registry, tmp_path: Path) -> None:
    registry.apply(contents())
    registry.teardown()
    assert not (tmp_path / "data/registry.db").exists()
    assert registry.list_feature_views() == [] and registry.version == 0


def test_registry_of_another_project_is_refused(tmp_path: Path) -> None:
    Registry(config(tmp_path, project="one")).apply(contents())
    with pytest.raises(
        InvalidConfig, match=r"holds the registry of project 'one', but feature_store\.yaml says project 'two'"
    ):
        Registry(config(tmp_path, project="two")).list_entities()


def test_a_feast_protobuf_registry_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/registry.db").write_bytes(b"\n\x07\x08\x01\x12\x03abc\xff")
    with pytest.raises(InvalidConfig, match="is not a ladle registry: not JSON"):
        Registry(config(tmp_path)).list_entities()


def test_unsupported_remote_registry_paths_are_refused(tmp_path: Path) -> None:
    cfg = RepoConfig(project="demo", repo_path=tmp_path, registry=RegistryConfig(path="gs://bucket/registry.db"))
    with pytest.raises(InvalidConfig, match="is remote"):
        Registry(cfg)


def test_registry_paths_pick_their_store(tmp_path: Path) -> None:
    from ladle.registry.registry import make_registry_store
    from ladle.registry.sql import SqlRegistryStore

    def store_for(**registry: str) -> object:
        return make_registry_store(RepoConfig(project="demo", repo_path=tmp_path, registry=RegistryConfig(**registry)))

    assert isinstance(store_for(path="data/registry.db"), FileRegistryStore)
    assert isinstance(store_for(path="sqlite:///data/r.sqlite"), SqlRegistryStore)
    assert isinstance(store_for(registry_type="sql", path="postgresql://u@h/db"), SqlRegistryStore)

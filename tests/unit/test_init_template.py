"""``ladle init``: the generated demo data and the files of the demo repo."""

from __future__ import annotations

import itertools
import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ladle.config import load_repo_config
from ladle.errors import InvalidRequest, LadleError
from ladle.repo.init_template import DRIVER_IDS, HISTORY_HOURS, check_project_name, driver_stats_table, init_repo
from ladle.repo.loader import load_repo

NOW = datetime(2024, 3, 10, 17, 42, 5, 123456, tzinfo=UTC)
EXPECTED_SCHEMA = pa.schema(
    [
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("driver_id", pa.int64()),
        ("conv_rate", pa.float32()),
        ("acc_rate", pa.float32()),
        ("avg_daily_trips", pa.int64()),
        ("created", pa.timestamp("us", tz="UTC")),
    ]
)


def test_data_has_five_drivers_hourly_over_fifteen_days_up_to_the_current_hour() -> None:
    table = driver_stats_table(NOW)
    assert table.schema == EXPECTED_SCHEMA
    assert sorted(pc.unique(table.column("driver_id")).to_pylist()) == [1001, 1002, 1003, 1004, 1005]
    assert table.num_rows == len(DRIVER_IDS) * HISTORY_HOURS == 5 * 15 * 24
    last_hour = NOW.replace(minute=0, second=0, microsecond=0)
    for driver in DRIVER_IDS:
        rows = table.filter(pc.equal(table.column("driver_id"), driver))
        times = rows.column("event_timestamp").to_pylist()
        assert times[-1] == last_hour
        assert times[0] == last_hour - timedelta(hours=HISTORY_HOURS - 1)
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))


def test_values_are_plausible_and_created_never_precedes_the_event_nor_follows_now() -> None:
    table = driver_stats_table(NOW).to_pydict()
    assert all(0.0 <= v < 1.0 for v in table["conv_rate"] + table["acc_rate"])
    assert all(0 <= v < 1000 for v in table["avg_daily_trips"])
    assert all(e <= c <= NOW for e, c in zip(table["event_timestamp"], table["created"], strict=True))


def test_data_is_deterministic_given_the_seed_and_now() -> None:
    assert driver_stats_table(NOW, seed=7).equals(driver_stats_table(NOW, seed=7))
    assert not driver_stats_table(NOW, seed=7).equals(driver_stats_table(NOW, seed=8))
    naive = driver_stats_table(NOW.replace(tzinfo=None), seed=7)
    assert naive.equals(driver_stats_table(NOW, seed=7))  # naive means UTC


@pytest.mark.parametrize("name", ["demo", "my_project", "Driver2", "2024_features", "x"])
def test_valid_project_names(name: str) -> None:
    assert check_project_name(name) == name


@pytest.mark.parametrize("name", ["my-repo", "my repo", "_private", "v2.0", "", "naïve", "a/b"])
def test_invalid_project_names_are_rejected_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_project_name(name)
    assert str(info.value) == (
        f"cannot create project {name!r}: a project name may contain only letters, digits and underscores, "
        "and must not start with an underscore (e.g. my_project)"
    )


def test_an_invalid_name_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="'my-repo'"):
        init_repo(tmp_path / "my-repo")
    assert list(tmp_path.iterdir()) == []


def test_init_writes_the_demo_repo_in_name_slash_feature_repo(tmp_path: Path) -> None:
    """Feast's layout: NAME/README.md and NAME/feature_repo/{feature_store.yaml, example_repo.py, ...}."""
    result = init_repo(tmp_path / "my_project")
    root, repo = tmp_path / "my_project", tmp_path / "my_project" / "feature_repo"
    assert result.root == root and result.path == repo and result.project == "my_project"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "README.md",
        "feature_repo/data/driver_stats.parquet",
        "feature_repo/example_repo.py",
        "feature_repo/feature_store.yaml",
        "feature_repo/test_workflow.py",
    ]
    assert result.files == (
        "README.md",
        "feature_repo/feature_store.yaml",
        "feature_repo/example_repo.py",
        "feature_repo/test_workflow.py",
        "feature_repo/data/driver_stats.parquet",
    )
    readme = (root / "README.md").read_text()
    assert "cd my_project/feature_repo" in readme and "ladle apply" in readme
    config = load_repo_config(repo)
    assert config.project == "my_project"
    assert config.registry.path == "data/registry.db"
    assert config.online_store.type == "sqlite" and config.online_store.path == "data/online_store.db"
    assert config.offline_store.type == "file"
    assert config.entity_key_serialization_version == 3
    for name in ("feature_store.yaml", "example_repo.py", "test_workflow.py"):
        assert "${" not in (repo / name).read_text()


def test_generated_parquet_ends_within_the_current_hour(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    init_repo(tmp_path / "demo")
    after = datetime.now(UTC)
    table = pq.read_table(tmp_path / "demo/feature_repo/data/driver_stats.parquet")
    assert table.schema.remove_metadata() == EXPECTED_SCHEMA
    last = pc.max(table.column("event_timestamp")).as_py()
    assert before <= last <= after and last.minute == 0 and last.second == 0


def test_example_repo_is_importable_and_defines_the_quickstart_objects(tmp_path: Path) -> None:
    init_repo(tmp_path / "demo")
    names = runpy.run_path(str(tmp_path / "demo/feature_repo/example_repo.py"))
    assert names["driver"].join_keys == ["driver_id"]
    fv = names["driver_stats_fv"]
    assert fv.name == "driver_hourly_stats" and fv.ttl == timedelta(days=1) and fv.online
    assert [(f.name, str(f.dtype)) for f in fv.features] == [
        ("conv_rate", "Float32"),
        ("acc_rate", "Float32"),
        ("avg_daily_trips", "Int64"),
    ]
    assert names["driver_stats_source"].path == "data/driver_stats.parquet"
    assert names["driver_stats_source"].created_timestamp_column == "created"
    assert names["transformed_conv_rate"].mode == "pandas"
    assert names["driver_stats_fresh_fv"].source.name == "driver_stats_push_source"
    assert names["project"].name == "demo"


def test_the_repo_loader_finds_every_definition(tmp_path: Path) -> None:
    init_repo(tmp_path / "demo")
    contents = load_repo(tmp_path / "demo/feature_repo")
    assert sorted(v.name for v in contents.feature_views) == ["driver_hourly_stats", "driver_hourly_stats_fresh"]
    assert sorted(v.name for v in contents.on_demand_feature_views) == [
        "transformed_conv_rate",
        "transformed_conv_rate_fresh",
    ]
    assert sorted(s.name for s in contents.feature_services) == [
        "driver_activity_v1",
        "driver_activity_v2",
        "driver_activity_v3",
    ]
    assert [e.name for e in contents.entities] == ["driver"]


def test_minimal_writes_only_the_yaml_and_an_empty_data_folder(tmp_path: Path) -> None:
    init_repo(tmp_path / "bare", minimal=True)
    repo = tmp_path / "bare/feature_repo"
    assert sorted(p.name for p in (tmp_path / "bare").iterdir()) == ["README.md", "feature_repo"]
    assert sorted(p.name for p in repo.iterdir()) == ["data", "feature_store.yaml"]
    assert not any((repo / "data").iterdir())
    assert load_repo_config(repo).project == "bare"


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    init_repo(tmp_path / "empty", minimal=True)
    assert (tmp_path / "empty/feature_repo/feature_store.yaml").exists()


def test_a_non_empty_folder_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(InvalidRequest, match="taken") as info:
        init_repo(target)
    assert isinstance(info.value, LadleError)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"

"""The ``ladle`` command as a user runs it: the real console script in a subprocess, inside a repo folder.

The story of the README: ``ladle init demo``, ``cd demo/feature_repo``, ``ladle apply``, ``ladle plan``, listing and
describing what was registered, materializing, reading online features from Python, tearing down —
and the errors a user meets on the way, each one line on stderr with the right exit code.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

BIN = Path(sys.executable).parent
LADLE = BIN / "ladle"
FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"]
DEFINED = [
    "driver",
    "driver_hourly_stats",
    "driver_hourly_stats_fresh",
    "transformed_conv_rate",
    "driver_activity_v1",
    "driver_hourly_stats_source",
    "driver_stats_push_source",
]


def ladle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``ladle ARGS`` in ``cwd`` as a user would."""
    assert LADLE.exists(), f"the console script is not installed next to {sys.executable} (pip install -e .)"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LADLE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env
    )


def ok(*args: str, cwd: Path) -> str:
    """Run ``ladle ARGS``, expect exit 0, return stdout."""
    done = ladle(*args, cwd=cwd)
    assert done.returncode == 0, f"ladle {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def fails(*args: str, cwd: Path, code: int = 1) -> str:
    """Run ``ladle ARGS``, expect exit ``code``; for exit 1 expect one ``Error:`` line; return stderr."""
    done = ladle(*args, cwd=cwd)
    assert done.returncode == code, f"expected exit {code}, got {done.returncode}:\n{done.stdout}\n{done.stderr}"
    if code == 1:
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
        assert "Traceback" not in done.stderr
    return done.stderr


def python(code: str, cwd: Path) -> str:
    """Run a Python snippet in a fresh interpreter inside the repo, return stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def names_in(document: Any) -> set[str]:
    """Every ``name`` value anywhere in a JSON document."""
    found: set[str] = set()
    if isinstance(document, dict):
        if isinstance(document.get("name"), str):
            found.add(document["name"])
        for value in document.values():
            found |= names_in(value)
    elif isinstance(document, list):
        for value in document:
            found |= names_in(value)
    return found


def latest_row(repo: Path, driver_id: int) -> dict[str, Any]:
    """The newest row of the driver in the generated parquet (by event time, then created)."""
    table = pq.read_table(repo / "data/driver_stats.parquet")
    rows = table.filter(pc.equal(table.column("driver_id"), driver_id)).to_pylist()
    return max(rows, key=lambda r: (r["event_timestamp"], r["created"]))


def online_tables(repo: Path, project: str) -> list[str]:
    """Tables of ``project`` in the SQLite online store."""
    path = repo / "data/online_store.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(name for (name,) in rows if name.startswith(f"{project}_"))


def fresh_repo(parent: Path, name: str) -> tuple[Path, str]:
    """``ladle init NAME && cd NAME/feature_repo && ladle apply``: the repo and the output of apply."""
    out = ok("init", name, cwd=parent)
    assert "Creating a new ladle repository" in out and f"cd {name}/feature_repo && ladle apply" in out
    repo = parent / name / "feature_repo"
    return repo, ok("apply", cwd=repo)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo repo after its first ``ladle apply``, and what apply printed."""
    return fresh_repo(tmp_path_factory.mktemp("cli"), "demo")


@pytest.fixture
def demo(applied: tuple[Path, str]) -> Path:
    """The shared demo repo (tests using it do not depend on each other's changes)."""
    return applied[0]


# --- the story ---------------------------------------------------------------------------------------------
def test_version(tmp_path: Path) -> None:
    assert ok("version", cwd=tmp_path).strip() == "ladle version 0.1.0"


def test_apply_registers_every_object_then_plan_shows_no_changes(applied: tuple[Path, str]) -> None:
    demo, out = applied
    for name in DEFINED:
        assert name in out
    assert "+ feature view 'driver_hourly_stats'" in out
    assert "version 1" in out
    assert "No changes" in ok("plan", cwd=demo)
    assert "No changes" in ok("apply", cwd=demo)
    assert "valid" in ok("validate", cwd=demo)


def test_lists_show_the_registered_objects(demo: Path) -> None:
    entities = ok("entities", "list", cwd=demo)
    assert "driver" in entities and "driver_id" in entities
    views = ok("feature-views", "list", cwd=demo)
    assert "driver_hourly_stats" in views and "driver_hourly_stats_fresh" in views
    assert "transformed_conv_rate" in ok("on-demand-feature-views", "list", cwd=demo)
    assert "driver_activity_v1" in ok("feature-services", "list", cwd=demo)
    sources = ok("data-sources", "list", cwd=demo)
    assert "driver_hourly_stats_source" in sources and "data/driver_stats.parquet" in sources
    only_team = ok("feature-views", "list", "--tags", "team:driver_performance", cwd=demo)
    assert "driver_hourly_stats" in only_team
    assert "No feature views" in ok("feature-views", "list", "--tags", "team:nobody", cwd=demo)


def test_describe_prints_the_definition(demo: Path) -> None:
    out = ok("feature-views", "describe", "driver_hourly_stats", cwd=demo)
    for text in ("name: driver_hourly_stats", "conv_rate", "Float32", "avg_daily_trips", "Int64"):
        assert text in out
    as_json = json.loads(ok("feature-views", "describe", "driver_hourly_stats", "-o", "json", cwd=demo))
    assert {f["name"] for f in as_json["schema"]} >= {"conv_rate", "acc_rate", "avg_daily_trips"}
    assert json.loads(ok("entities", "describe", "driver", "--output", "json", cwd=demo))["join_keys"] == ["driver_id"]


def test_registry_dump_is_json_with_the_objects(demo: Path) -> None:
    dump = json.loads(ok("registry-dump", cwd=demo))
    assert set(DEFINED) <= names_in(dump)


def test_materialize_incremental_twice_then_online_features_match_the_data(tmp_path: Path) -> None:
    demo, _ = fresh_repo(tmp_path, "incremental")
    end = datetime.now(UTC).isoformat()
    first = ok("materialize-incremental", end, cwd=demo)
    assert "driver_hourly_stats" in first and "5 rows" in first
    intervals = json.loads(ok("registry-dump", cwd=demo))["materialization"]

    second = ok("materialize-incremental", end, cwd=demo)
    assert "5 rows" not in second and "0 rows" in second
    assert json.loads(ok("registry-dump", cwd=demo))["materialization"] == intervals

    out = python(
        f"""
        import json
        from ladle import FeatureStore
        response = FeatureStore('.').get_online_features(features={FEATURES!r}, entity_rows=[{{"driver_id": 1001}}])
        print(json.dumps(response.to_dict()))
        """,
        demo,
    )
    vector = json.loads(out.strip().splitlines()[-1])
    expected = latest_row(demo, 1001)
    assert vector["driver_id"] == [1001]
    for feature in ("conv_rate", "acc_rate", "avg_daily_trips"):
        assert vector[feature] == [expected[feature]], feature
        assert vector[feature][0] is not None


def test_materialize_accepts_positional_and_option_timestamps(demo: Path) -> None:
    out = ok("materialize", "2020-01-01", "now", "--views", "driver_hourly_stats", cwd=demo)
    assert "driver_hourly_stats" in out and "driver_hourly_stats_fresh" not in out
    ok("materialize", "--start-ts", "2020-01-01T00:00:00Z", "--end-ts", "now", cwd=demo)


def test_teardown_removes_the_online_tables_and_the_registry(tmp_path: Path) -> None:
    repo, _ = fresh_repo(tmp_path, "gone")
    ok("materialize-incremental", "now", cwd=repo)
    assert online_tables(repo, "gone") == ["gone_driver_hourly_stats", "gone_driver_hourly_stats_fresh"]
    assert (repo / "data/registry.db").exists()

    ok("teardown", cwd=repo)
    assert online_tables(repo, "gone") == []
    assert not (repo / "data/registry.db").exists()
    assert "No feature views" in ok("feature-views", "list", cwd=repo)


def test_the_demo_workflow_script_runs(tmp_path: Path) -> None:
    """What `make demo` runs after `ladle apply`: training set, materialize, online reads, a push."""
    repo, _ = fresh_repo(tmp_path, "workflow")
    done = subprocess.run(
        [sys.executable, "test_workflow.py"], cwd=repo, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    pushed = done.stdout.split("Online features again")[-1]
    assert "avg_daily_trips  :  [1000," in pushed


def test_chdir_and_init_default_name(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ok("-c", str(elsewhere), "init", "--minimal", cwd=tmp_path)
    assert (elsewhere / "my_project/feature_repo/feature_store.yaml").exists()
    assert "No entities" in ok("-c", str(elsewhere / "my_project/feature_repo"), "entities", "list", cwd=tmp_path)


def test_init_rejects_an_invalid_project_name(tmp_path: Path) -> None:
    err = fails("init", "my-project", cwd=tmp_path)
    assert "cannot create project 'my-project'" in err and "letters, digits and underscores" in err
    assert list(tmp_path.iterdir()) == []


# --- errors ------------------------------------------------------------------------------------------------
def test_apply_without_feature_store_yaml(tmp_path: Path) -> None:
    assert "feature_store.yaml" in fails("apply", cwd=tmp_path)


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken/notes.txt").write_text("mine")
    assert "taken" in fails("init", "taken", cwd=tmp_path)
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


def test_a_repo_file_with_a_syntax_error(tmp_path: Path) -> None:
    ok("init", "broken", "--minimal", cwd=tmp_path)
    repo = tmp_path / "broken" / "feature_repo"
    (repo / "bad_features.py").write_text("from ladle import Entity\n\ndriver = Entity(name='driver'\n")
    assert "bad_features.py" in fails("apply", cwd=repo)
    assert "bad_features.py" in fails("plan", cwd=repo)


def test_an_unknown_yaml_key(tmp_path: Path) -> None:
    ok("init", "typo", "--minimal", cwd=tmp_path)
    repo = tmp_path / "typo" / "feature_repo"
    with (repo / "feature_store.yaml").open("a") as f:
        f.write("onlin_store_typo: true\n")
    assert "onlin_store_typo" in fails("apply", cwd=repo)


def test_describe_an_unknown_name(demo: Path) -> None:
    assert "'nope'" in fails("feature-views", "describe", "nope", cwd=demo)
    assert "'nope'" in fails("entities", "describe", "nope", cwd=demo)


def test_bad_timestamps_are_usage_errors(demo: Path) -> None:
    assert "ISO 8601" in fails("materialize", "yesterday", "now", cwd=demo, code=2)
    fails("materialize-incremental", "2024-13-45", cwd=demo, code=2)
    fails("materialize", "2024-01-01", cwd=demo, code=2)


def test_materialize_backwards_is_a_one_line_error(demo: Path) -> None:
    assert "after" in fails("materialize", "now", "2020-01-01", cwd=demo)


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    done = ladle("-v", "apply", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "feature_store.yaml" in done.stderr.strip().splitlines()[-1]


def test_a_repo_without_online_store_applies_and_refuses_to_materialize(tmp_path: Path) -> None:
    ok("init", "offline_only", cwd=tmp_path)
    repo = tmp_path / "offline_only" / "feature_repo"
    yaml = (repo / "feature_store.yaml").read_text()
    start = yaml.index("online_store:")
    end = yaml.index("offline_store:")
    (repo / "feature_store.yaml").write_text(yaml[:start] + "online_store: null\n" + yaml[end:])
    assert "feature view" in ok("apply", cwd=repo)
    assert not (repo / "data/online_store.db").exists()
    err = fails("materialize-incremental", "now", cwd=repo)
    assert "materialize_incremental needs an online store, but feature_store.yaml sets `online_store: null`" in err


def test_apply_registers_a_declared_view_whose_data_does_not_exist_yet(tmp_path: Path) -> None:
    ok("init", "future", "--minimal", cwd=tmp_path)
    repo = tmp_path / "future" / "feature_repo"
    (repo / "future_views.py").write_text(
        textwrap.dedent("""
        from datetime import timedelta
        from ladle import Entity, FeatureView, Field, FileSource
        from ladle.types import Float64, Int64

        courier = Entity(name="courier", join_keys=["courier_id"])
        future = FeatureView(name="future", entities=[courier], ttl=timedelta(days=1),
                             schema=[Field(name="courier_id", dtype=Int64), Field(name="speed", dtype=Float64)],
                             source=FileSource(name="future_src", path="data/not_yet.parquet", timestamp_field="ts"))
    """)
    )
    done = ladle("apply", "--skip-source-validation", cwd=repo)
    assert done.returncode == 0 and "future" in done.stdout and "Warning" not in done.stderr, done.stderr
    (repo / "future_views.py").write_text((repo / "future_views.py").read_text().replace("speed", "pace"))
    done = ladle("apply", cwd=repo)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1 and "feature view 'future'" in warning[0] and "not_yet.parquet" in warning[0]
    assert "pace" in ok("feature-views", "describe", "future", cwd=repo)


def test_global_options_after_the_subcommand(tmp_path: Path) -> None:
    """Feast tutorials write `feast apply --verbose`; -c/--chdir and -f also work after the command."""
    done = ladle("apply", "--verbose", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "feature_store.yaml" in done.stderr.strip().splitlines()[-1]

    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "other.yaml").write_text("project: after_opts\nregistry: data/registry.db\n")
    yaml_file = repo / "other.yaml"  # -f is relative to the current folder, as before the command
    (repo / "entities.py").write_text("from feast import Entity\ndriver = Entity(name='driver', join_keys=['id'])\n")
    assert "+ entity 'driver'" in ok("apply", "--chdir", str(repo), "-f", str(yaml_file), cwd=tmp_path)
    assert (repo / "data" / "registry.db").exists()
    assert "No changes." in ok("plan", "-c", str(repo), "--feature-store-yaml", str(repo / "other.yaml"), cwd=tmp_path)
    assert "after_opts" in ok("registry-dump", "-c", str(repo), "-f", str(yaml_file), cwd=tmp_path)
    # an option after the command wins over the same one before it
    assert "after_opts" in ok("-c", str(tmp_path), "registry-dump", "-c", str(repo), "-f", str(yaml_file), cwd=tmp_path)
    # in `materialize`, -v stays Feast's --views; --verbose is the long form
    done = ladle(
        "materialize",
        "-v",
        "nope",
        "--verbose",
        "2024-01-01",
        "2024-01-02",
        "-c",
        str(repo),
        "-f",
        str(yaml_file),
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "Traceback" in done.stderr
    assert "has no feature views registered" in done.stderr.strip().splitlines()[-1]

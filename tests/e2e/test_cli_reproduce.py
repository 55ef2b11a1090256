"""``ladle reproduce`` as a user runs it: a contract change that keeps the rows is reported (exit 0), the rebuild
reads the definitions of the registry version the dataset recorded, from any directory (``-c``); once that version
is past the history's retention, the rebuild uses the current definitions and says so with a warning; a changed
source exits 1 with the differing rows listed. And the operating loop's last step: a published version change is
named, and after ``ladle rollback`` to the version the dataset read, zero rows differ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import operating_repo as loop
from ladle.definitions import SavedDatasetFileStorage
from ladle.store import FeatureStore

LADLE = Path(sys.executable).parent / "ladle"
NOW = datetime(2026, 6, 1, tzinfo=UTC)

FEATURES = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource
from ladle.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=3),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
)
"""

YAML = """\
project: cli_reproduce
registry:
  path: data/registry.db
  history_limit: 2
provider: local
online_store: null
offline_store:
  type: duckdb
"""


def run(*args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(LADLE), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert done.returncode == code, f"ladle {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def write_stats(repo: Path, extra: list[tuple[int, float, float, int]] | None = None) -> None:
    rows = [(1, 10.0, 0.1, 1), (1, 5.0, 0.5, 5), (2, 8.0, 0.8, 8), (3, 100.0, 0.3, 3), *(extra or [])]
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([r[0] for r in rows], pa.int64()),
                "ts": pa.array([NOW - timedelta(hours=r[1]) for r in rows], pa.timestamp("us", tz="UTC")),
                "rate": pa.array([r[2] for r in rows], pa.float64()),
                "trips": pa.array([r[3] for r in rows], pa.int64()),
                "speed": pa.array([40.0 + r[0] for r in rows], pa.float64()),
            }
        ),
        repo / "data/stats.parquet",
    )


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / "features.py"
    path.write_text(path.read_text().replace(old, new))
    run("apply", cwd=repo)


def test_reproduce_from_the_command_line(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"features.py": FEATURES}, yaml=YAML)
    write_stats(repo)
    run("apply", cwd=repo)
    store = FeatureStore(repo_path=repo)
    entities = pd.DataFrame({"driver_id": [1, 2, 3], "event_timestamp": [NOW - timedelta(hours=1)] * 3})
    job = store.get_historical_features(entities, ["stats:rate", "stats:trips"])
    store.create_saved_dataset(
        from_=job, name="train", storage=SavedDatasetFileStorage(path=str(repo / "data/t.parquet"))
    )
    store.close()

    # a contract change (a feature added) that keeps the rows: reported, exit 0
    edit(
        repo,
        'Field(name="trips", dtype=Int64)]',
        'Field(name="trips", dtype=Int64), Field(name="speed", dtype=Float64)]',
    )
    out = run("-c", str(repo), "reproduce", "train", cwd=tmp_path).stdout  # from another directory
    assert "Saved dataset 'train' reproduced: 3 rows, 0 differ." in out
    assert "rebuilt with the definitions of registry version 1 (the version it was saved at)" in out
    assert "registry: saved at version 1, now at version 2" in out
    assert "feature view 'stats': contract changed (schema hash " in out
    report = json.loads(run("reproduce", "train", "--json", cwd=repo).stdout)
    assert report["identical"] and report["definitions_version"] == 1
    assert [c["view"] for c in report["contract_changes"]] == ["stats"]

    # version 1 falls out of the history (history_limit: 2): the current definitions, with a warning
    edit(repo, "timedelta(days=3)", "timedelta(days=4)")
    done = run("reproduce", "train", cwd=repo)
    assert "Warning:" in done.stderr and "registry version 1" in done.stderr and "past retention" in done.stderr
    assert "rebuilt with the current definitions (registry version 3)" in done.stdout and "0 differ" in done.stdout

    # new source rows change one training row: exit 1, the row and the source named
    write_stats(repo, [(2, 2.0, 0.9, 9)])
    done = run("reproduce", "train", cwd=repo, code=1)
    assert "1 of 3 rows differ" in done.stdout
    assert "row 1: driver_id=2" in done.stdout and "rate saved 0.8, rebuilt 0.9" in done.stdout
    assert "source 'stats_src' of feature view 'stats': its data changed since the dataset was saved" in done.stdout


def test_reproduce_across_published_versions(make_repo, tmp_path: Path) -> None:
    """The operating loop's last step: a training set read v1; v2 is published (reproduce names the version
    change and the rows, exit 1); ``ladle rollback`` to v1; reproduce finds zero differences."""
    yaml = loop.YAML.format(
        project="cli_reproduce_loop",
        registry="data/registry.db",
        online=loop.SQLITE_ONLINE,
        offline="",
        root="data/sets",
        root_extra="",
    )
    repo = make_repo(
        {"features.py": loop.FEATURES.format(ttl_days=2, path="data/sets/driver_stats/latest", extra="")}, yaml=yaml
    )
    v1, v2 = tmp_path / "v1.parquet", tmp_path / "v2.parquet"
    loop.build([1, 2, 3], 1.0, 10, hours_ago=2).to_parquet(v1)
    loop.build([1, 2, 3], 2.0, 20, hours_ago=1).to_parquet(v2)
    run("publish", "driver_stats", str(v1), "--version", "v1", cwd=repo)
    run("apply", cwd=repo)
    store = FeatureStore(repo_path=repo)
    entities = pd.DataFrame({"driver_id": [1, 2, 3], "event_timestamp": [loop.NOW] * 3})
    job = store.get_historical_features(entities, ["driver_stats:rate", "driver_stats:trips"])
    store.create_saved_dataset(
        from_=job, name="loop", storage=SavedDatasetFileStorage(path=str(repo / "data/loop.parquet"))
    )
    store.close()
    assert "0 differ" in run("reproduce", "loop", cwd=repo).stdout

    run("publish", "driver_stats", str(v2), "--version", "v2", cwd=repo)
    done = run("reproduce", "loop", cwd=repo, code=1)
    assert "3 of 3 rows differ" in done.stdout
    assert "source 'stats_src' of feature view 'driver_stats': published version v1 when saved, v2 now" in done.stdout

    run("rollback", "driver_stats", "v1", cwd=repo)
    out = run("reproduce", "loop", cwd=repo).stdout
    assert "reproduced: 3 rows, 0 differ." in out and "Nothing changed since it was saved." in out

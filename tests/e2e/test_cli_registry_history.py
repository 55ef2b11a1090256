"""``ladle registry history|diff|rollback``, the schema hash, ``ladle saved-datasets`` and ``ladle reproduce``, as a
user runs them on the demo repo.

A cosmetic edit (ttl) and a contract edit (a feature removed) are told apart by ``plan``; history lists the
three versions; ``diff 1 3`` names the fields; ``rollback 1`` writes version 4 equal to version 1, and the
online store follows (the restored view is materialized and read again).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from test_cli import fails, fresh_repo, ladle, ok, online_tables, python

FIRST_VIEW_TTL = "    ttl=timedelta(days=1),\n    # The schema defines"
ACC_RATE = (
    '        Field(name="acc_rate", dtype=Float32),\n        Field(name="avg_daily_trips", dtype=Int64, description='
)


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / "example_repo.py"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_history_diff_rollback_and_schema_hash(tmp_path: Path) -> None:
    repo, _ = fresh_repo(tmp_path, "hist")
    listed = ok("feature-views", "list", cwd=repo)
    described = json.loads(ok("feature-views", "describe", "driver_hourly_stats", "-o", "json", cwd=repo))
    digest = described["schema_hash"]
    assert len(digest) == 64 and "SCHEMA HASH" in listed and digest[:12] in listed
    dump = json.loads(ok("registry-dump", cwd=repo))
    assert dump["objects"]["feature_views"]["driver_hourly_stats"]["schema_hash"] == digest

    edit(repo, FIRST_VIEW_TTL, FIRST_VIEW_TTL.replace("days=1", "days=2"))
    plan = ok("plan", cwd=repo)
    assert "cosmetic change feature view 'driver_hourly_stats'" in plan and "CONTRACT CHANGE" not in plan
    ok("apply", cwd=repo)
    edit(repo, ACC_RATE, '        Field(name="avg_daily_trips", dtype=Int64, description=')
    plan = ok("plan", cwd=repo)
    assert f"CONTRACT CHANGE feature view 'driver_hourly_stats': schema hash {digest[:12]} -> " in plan
    ok("apply", cwd=repo)

    versions = json.loads(ok("feature-views", "versions", "driver_hourly_stats", "--json", cwd=repo))
    assert [(v["version"], v["active"]) for v in versions] == [(0, False), (1, True)]  # ttl edit: no new version
    assert "v1" in ok("feature-views", "list-versions", "driver_hourly_stats", cwd=repo)
    history = json.loads(ok("registry", "history", "--json", cwd=repo))
    assert [v["version"] for v in history] == [1, 2, 3]
    assert all(v["user"] and v["host"] and v["time"] for v in history)
    assert "ttl_seconds" in history[1]["summary"]
    table = ok("registry", "history", cwd=repo)
    assert "VERSION" in table and "USER" in table and "schema[" in table
    diff = ok("registry", "diff", "1", "3", cwd=repo)
    assert "~ feature view 'driver_hourly_stats'" in diff and "ttl_seconds: 86400 -> 172800" in diff
    assert "acc_rate" in diff and "CONTRACT CHANGE" in diff
    as_json = json.loads(ok("registry", "diff", "1", "3", "--json", cwd=repo))
    assert {f["path"] for f in as_json[0]["fields"]} >= {"ttl_seconds"}

    out = ok("registry", "rollback", "1", cwd=repo)
    assert "wrote registry version 4" in out
    assert json.loads(ok("registry", "history", "--json", cwd=repo))[-1]["rollback_of"] == 1
    restored = json.loads(ok("feature-views", "describe", "driver_hourly_stats", "-o", "json", cwd=repo))
    assert restored["schema_hash"] == digest and restored["ttl_seconds"] == 86400
    versions = json.loads(ok("feature-views", "versions", "driver_hourly_stats", "--json", cwd=repo))
    assert [(v["version"], v["active"]) for v in versions] == [(0, False), (1, False), (2, True)]
    assert any("driver_hourly_stats" in t for t in online_tables(repo, "hist"))
    ok("materialize-incremental", "now", cwd=repo)
    values = python(
        """
        from ladle import FeatureStore
        store = FeatureStore(".")
        r = store.get_online_features(["driver_hourly_stats:acc_rate"], [{"driver_id": 1001}]).to_dict()
        print(r["acc_rate"][0] is not None)
        """,
        repo,
    )
    assert values.strip() == "True"  # the restored feature is served again
    assert "does not exist" in fails("registry", "rollback", "99", cwd=repo)


def test_saved_datasets_and_reproduce(tmp_path: Path) -> None:
    repo, _ = fresh_repo(tmp_path, "saved")
    python(
        """
        from datetime import datetime, timezone
        import pandas as pd
        from ladle import FeatureStore
        from ladle.definitions import SavedDatasetFileStorage
        store = FeatureStore(".")
        table = pd.read_parquet("data/driver_stats.parquet")
        entities = table[["driver_id", "event_timestamp"]].head(50).reset_index(drop=True)
        job = store.get_historical_features(entities, ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"])
        store.create_saved_dataset(
            from_=job, name="train_v1", storage=SavedDatasetFileStorage(path="data/train_v1.parquet"),
            tags={"model": "eta"},
        )
        """,
        repo,
    )
    listed = ok("saved-datasets", "list", cwd=repo)
    assert "train_v1" in listed and "data/train_v1.parquet" in listed
    described = json.loads(ok("saved-datasets", "describe", "train_v1", "-o", "json", cwd=repo))
    assert described["tags"] == {"model": "eta"} and described["reproducibility"]["rows"] == 50
    assert described["reproducibility"]["views"]["driver_hourly_stats"]["fingerprint"].startswith("files:")
    assert "0 differ" in ok("reproduce", "train_v1", cwd=repo)

    source = repo / "data/driver_stats.parquet"
    table = pq.read_table(source)
    scaled = table.set_column(
        table.schema.get_field_index("conv_rate"),
        "conv_rate",
        pa.array([1.5] * table.num_rows, table.schema.field("conv_rate").type),
    )
    pq.write_table(scaled, source)
    done = ladle("reproduce", "train_v1", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "differs from its rebuild" in done.stdout and "conv_rate" in done.stdout
    assert "source 'driver_hourly_stats_source' of feature view 'driver_hourly_stats'" in done.stdout
    report = json.loads(ladle("reproduce", "train_v1", "--json", cwd=repo).stdout)
    assert report["identical"] is False and report["differing_columns"] == {"conv_rate": report["differing_rows"]}

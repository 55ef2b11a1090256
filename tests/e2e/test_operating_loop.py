"""The operating loop of seed 004, driven through the ``ladle`` command as a user would:

publish v1 -> apply -> materialize -> check passes -> publish v2 -> check sees the skew -> materialize ->
check passes -> rollback to v1 -> online serves v1's values -> check passes -> save the training set and reproduce it with zero differences.

Run on the embedded default (local feature-set root, file registry, SQLite online) and on an S3 root and S3
registry (a moto server on loopback) with Redis online.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backends import REDIS_URL
from ladle.definitions import SavedDatasetFileStorage
from ladle.store import FeatureStore
from operating_repo import FEATURES, NOW, SQLITE_ONLINE, YAML, build, expected

LADLE = Path(sys.executable).parent / "ladle"
VIEW = "driver_stats"
REFS = [f"{VIEW}:rate", f"{VIEW}:trips"]
START, END = (NOW - timedelta(days=1)).isoformat(), NOW.isoformat()


def ladle(repo: Path, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [str(LADLE), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"},
    )
    assert done.returncode == code, f"ladle {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(params=["embedded", pytest.param("s3-redis", marks=pytest.mark.services)])
def repo(request: pytest.FixtureRequest, make_repo: Any, tmp_path: Path) -> Iterator[Path]:
    project = f"loop_{uuid.uuid4().hex[:8]}"
    if request.param == "embedded":
        root, registry, online, offline, path = "data/sets", "data/registry.db", SQLITE_ONLINE, "", None
        redis = None
    else:
        import boto3

        endpoint = request.getfixturevalue("moto_endpoint")
        redis = request.getfixturevalue("redis_client")
        bucket = f"ladle-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        root = f"s3://{bucket}/sets"
        registry = f"\n  path: s3://{bucket}/registry.json\n  s3_endpoint_url: {endpoint}"
        online = f"  type: redis\n  connection_string: {REDIS_URL}"
        offline, path = f"  s3_endpoint: {endpoint}\n", f"{root}/driver_stats/latest"
    yaml = YAML.format(project=project, registry=registry, online=online, offline=offline, root=root, root_extra="")
    features = FEATURES.format(ttl_days=2, path=path or f"{root}/driver_stats/latest", extra="")
    folder = make_repo({"features.py": features}, yaml=yaml)
    yield folder
    if redis is not None:  # the shared Redis: remove this project's keys only
        for key in redis.scan_iter(match=f"ladle:{project}:*"):
            redis.delete(key)


def online(repo: Path, drivers: list[int]) -> dict[str, list[object]]:
    store = FeatureStore(repo_path=repo)
    try:
        got = store.get_online_features(REFS, [{"driver_id": d} for d in drivers]).to_dict()
    finally:
        store.close()
    return {"rate": got["rate"], "trips": got["trips"]}


def check_json(repo: Path, code: int) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ladle(repo, "check", "--json", "--sample", "5", code=code))
    return doc


def test_the_operating_loop_end_to_end(repo: Path, tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1.parquet", tmp_path / "v2.csv"
    build([1, 2, 3], 1.0, 10, hours_ago=2).to_parquet(v1)
    build([1, 2, 4], 2.0, 20, hours_ago=1).to_csv(v2, index=False)

    # contract -> build -> versioned store -> latest pointer
    assert "latest: (none) -> v1" in ladle(repo, "publish", VIEW, str(v1), "--version", "v1")
    # apply -> materialize -> online read, proven by the checklist
    ladle(repo, "apply")
    ladle(repo, "materialize", START, END)
    report = check_json(repo, code=0)
    assert report["ok"] and report["failed"] == 0
    assert {i["check"] for i in report["items"]} == {"registry", "source", "freshness", "online read", "skew"}
    assert online(repo, [1, 2, 3, 4]) == {
        "rate": [*expected([1, 2, 3], 1.0, 10)["rate"], None],
        "trips": [*expected([1, 2, 3], 1.0, 10)["trips"], None],
    }

    # a new build: latest moves; until it is materialized the check reports the skew, naming the view
    assert "latest: v1 -> v2" in ladle(repo, "publish", VIEW, str(v2), "--version", "v2")
    report = check_json(repo, code=1)
    failed = {i["check"]: i for i in report["items"] if not i["ok"]}
    assert sorted(failed) == ["online read", "skew"]  # driver 4 is not online yet; drivers 1, 2 hold v1
    assert all(i["target"] == VIEW and "ladle materialize" in i["fix"] for i in failed.values())
    assert "driver_id=4" in failed["online read"]["detail"]
    assert "driver_id=1 trips: online 11, offline 21" in failed["skew"]["detail"]
    table = ladle(repo, "check", code=1)
    assert "FAIL" in table and "2 of 5 checks failed" in table
    ladle(repo, "materialize", START, END)
    assert check_json(repo, code=0)["ok"]
    assert online(repo, [1, 2, 4]) == expected([1, 2, 4], 2.0, 20)

    listed = json.loads(ladle(repo, "versions", VIEW, "--json"))
    assert [(v["version"], v["latest"]) for v in listed] == [("v1", False), ("v2", True)]
    assert all(len(v["metadata"]["schema_hash"]) == 64 for v in listed)
    assert "latest" in ladle(repo, "versions", VIEW)

    # rollback: latest back to v1 and the online store serves v1, driver 4 (only in v2) gone
    out = ladle(repo, "rollback", VIEW, "v1")
    assert "latest: v2 -> v1" in out and "4 keys replaced" in out
    want = expected([1, 2, 3], 1.0, 10)
    assert online(repo, [1, 2, 3, 4]) == {"rate": [*want["rate"], None], "trips": [*want["trips"], None]}
    assert check_json(repo, code=0)["ok"]

    # a training set built now reads v1 and records it (what a saved dataset stores)
    store = FeatureStore(repo_path=repo)
    job = store.get_historical_features(pd.DataFrame({"driver_id": [1, 2, 3], "event_timestamp": [NOW] * 3}), REFS)
    assert job.metadata["source_versions"] == {VIEW: "v1"}
    assert job.to_df()["trips"].tolist() == want["trips"]

    # --- reproduce a saved dataset from v1 with zero differences -------------------------------------
    saved = store.create_saved_dataset(
        from_=job, name="trips_v1", storage=SavedDatasetFileStorage(path=str(tmp_path / "trips_v1.parquet"))
    )
    assert saved.metadata["views"][VIEW]["version"] == "v1"
    store.close()
    out = ladle(repo, "reproduce", "trips_v1")
    assert "reproduced: 3 rows, 0 differ" in out
    described = json.loads(ladle(repo, "saved-datasets", "describe", "trips_v1", "-o", "json"))
    assert described["reproducibility"]["views"][VIEW]["version"] == "v1"

    # a refused publish leaves latest where it was
    bad = tmp_path / "bad.parquet"
    build([1], 3.0, 30).drop(columns=["trips"]).to_parquet(bad)
    err = subprocess.run(
        [str(LADLE), "publish", VIEW, str(bad), "--version", "v3"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert err.returncode == 1 and "no column 'trips'" in err.stderr
    assert [v["version"] for v in json.loads(ladle(repo, "versions", VIEW, "--json")) if v["latest"]] == ["v1"]

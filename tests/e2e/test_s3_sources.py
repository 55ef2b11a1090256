"""FileSource on ``s3://`` against a real S3 protocol server (moto on loopback): training sets equal to the
same data read locally, materialize, push to offline, saved datasets, ``ladle validate``, and one-line errors.
Nothing is downloaded: DuckDB's extension directory stays empty and httpfs is never loaded."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import start_moto_server
from ladle.definitions import FileSource, SavedDatasetFileStorage
from ladle.errors import BackendFailure, BackendUnavailable, InvalidRequest
from ladle.ingest.push import PushMode
from ladle.store import FeatureStore

pytestmark = pytest.mark.services

NOW = datetime.now(UTC).replace(microsecond=0)
UTC_US = pa.timestamp("us", tz="UTC")
LADLE = Path(sys.executable).parent / "ladle"

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, PushSource
from ladle.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="stats_src", path={path!r}, timestamp_field="ts", created_timestamp_column="created"{extra})
push_src = PushSource(name="stats_push", batch_source=src)
stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(days=2),
    schema=[Field(name="rate", dtype=Float32), Field(name="trips", dtype=Int64)],
    source=push_src,
)
"""

YAML = """\
project: {project}
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: duckdb
{offline}"""


def history(seed: int = 7, keys: int = 20, n: int = 400) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = NOW - pd.to_timedelta(rng.integers(0, 3 * 86_400, n), unit="s")
    return pa.table(
        {
            "driver_id": pa.array(rng.integers(0, keys, n), pa.int64()),
            "ts": pa.array(ts.to_pydatetime(), UTC_US),
            "created": pa.array((ts + pd.to_timedelta(rng.integers(0, 60, n), unit="s")).to_pydatetime(), UTC_US),
            "rate": pa.array(rng.random(n), pa.float32()),
            "trips": pa.array(rng.integers(0, 1000, n), pa.int64()),
            "day": pa.array((ts.day % 3).astype("int64")),
        }
    )


def entity_df(seed: int = 11, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "driver_id": rng.integers(0, 22, n),
            "event_timestamp": NOW - pd.to_timedelta(rng.integers(0, 3 * 86_400, n), unit="s"),
        }
    )


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"ladle-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def no_duckdb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DuckDB's default extension directory is under $HOME: point it at an empty folder and check that it
    stays empty (an extension download or install would land there)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield home
    assert [p for p in home.rglob("*") if p.is_file()] == []


def upload(s3: Any, bucket: str, layout: str, table: pa.Table) -> str:
    """Put ``table`` in the bucket as ``layout``; returns the FileSource path (without s3://bucket/)."""
    if layout == "file":
        s3.put_object(Bucket=bucket, Key="stats.parquet", Body=parquet_bytes(table))
        return "stats.parquet"
    halves = (table.slice(0, table.num_rows // 2), table.slice(table.num_rows // 2))
    if layout in ("dir", "glob"):
        for i, part in enumerate(halves):
            s3.put_object(Bucket=bucket, Key=f"stats/part-{i}.parquet", Body=parquet_bytes(part))
        s3.put_object(Bucket=bucket, Key="stats/_SUCCESS", Body=b"")
        return "stats/" if layout == "dir" else "stats/*.parquet"
    assert layout == "hive"
    for day in range(3):
        part = table.filter(pa.compute.equal(table.column("day"), day)).drop(["day"])
        s3.put_object(Bucket=bucket, Key=f"hive/day={day}/data.parquet", Body=parquet_bytes(part))
    return "hive"


def applied(make_repo: Any, name: str, path: str, extra: str = "", offline: str = "") -> FeatureStore:
    repo = make_repo(
        {"features.py": REPO.format(path=path, extra=extra)},
        yaml=YAML.format(project=f"s3_{uuid.uuid4().hex[:8]}", offline=offline),
        name=name,
    )
    done = subprocess.run(
        [str(LADLE), "apply"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    return FeatureStore(repo_path=str(repo))


REFS = ["driver_stats:rate", "driver_stats:trips"]


def sorted_training(store: FeatureStore) -> pd.DataFrame:
    df = store.get_historical_features(entity_df=entity_df(), features=REFS).to_df()
    return df.sort_values(["driver_id", "event_timestamp"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("layout", ["file", "dir", "glob", "hive"])
def test_training_set_from_s3_equals_the_same_data_read_locally(
    layout: str, s3: Any, bucket: str, moto_endpoint: str, make_repo: Any
) -> None:
    data = history()
    key = upload(s3, bucket, layout, data)
    remote = applied(make_repo, "remote", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    pq.write_table(data, Path(make_repo({}, name="local_data")) / "stats.parquet")
    local = applied(make_repo, "local", str(Path(make_repo({}, name="local_data")) / "stats.parquet"))

    got, want = sorted_training(remote), sorted_training(local)
    assert got["rate"].notna().sum() > 50  # the comparison is not between two empty results
    pd.testing.assert_frame_equal(got, want)
    assert got["rate"].dtype == np.float32
    if layout == "hive":  # the partition folder is a column, an integer as DuckDB reads it locally
        schema = remote.offline_store.source_schema(remote.get_data_source("stats_src"))
        assert schema.field("day").type == pa.int64()


def test_materialize_from_s3_then_read_online(s3: Any, bucket: str, moto_endpoint: str, make_repo: Any) -> None:
    data = history()
    key = upload(s3, bucket, "dir", data)
    store = applied(make_repo, "repo", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    store.materialize(NOW - timedelta(days=4), NOW + timedelta(minutes=1))

    df = data.to_pandas().sort_values(["driver_id", "ts", "created"])
    latest = df.groupby("driver_id").tail(1).set_index("driver_id")
    keys = sorted(latest.index)[:5]
    online = store.get_online_features(features=REFS, entity_rows=[{"driver_id": int(k)} for k in keys]).to_dict()
    assert online["trips"] == [int(latest.loc[k, "trips"]) for k in keys]
    assert online["rate"] == pytest.approx([float(latest.loc[k, "rate"]) for k in keys])


@pytest.mark.parametrize("layout", ["file", "dir"])
def test_push_to_offline_writes_to_s3_and_reaches_training_data(
    layout: str, s3: Any, bucket: str, moto_endpoint: str, make_repo: Any
) -> None:
    key = upload(s3, bucket, layout, history())
    store = applied(make_repo, "repo", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    t = NOW - timedelta(seconds=5)
    store.push(
        "stats_push",
        pd.DataFrame({"driver_id": [999], "ts": [t], "created": [t], "rate": [0.25], "trips": [4242], "day": [0]}),
        to=PushMode.OFFLINE,
    )

    after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    if layout == "dir":  # a new object beside the others; nothing temporary left behind
        assert len(after - before) == 1
        assert (after - before).pop().startswith("stats/part-")
    else:
        assert after == before
    got = store.get_historical_features(
        entity_df=pd.DataFrame({"driver_id": [999], "event_timestamp": [NOW]}), features=REFS
    ).to_df()
    assert got["trips"].tolist() == [4242]
    assert got["rate"].tolist() == [0.25]


def test_saved_dataset_round_trip_on_s3(s3: Any, bucket: str, moto_endpoint: str, make_repo: Any) -> None:
    key = upload(s3, bucket, "file", history())
    store = applied(make_repo, "repo", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    job = store.get_historical_features(entity_df=entity_df(), features=REFS)
    target = f"s3://{bucket}/saved/training.parquet"

    job.persist(SavedDatasetFileStorage(path=target, s3_endpoint_override=moto_endpoint))
    saved = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key="saved/training.parquet")["Body"].read()))
    assert saved.equals(job.to_arrow())
    with pytest.raises(InvalidRequest, match=r"cannot persist to 's3://.*/saved/training\.parquet': it already exists"):
        job.persist(SavedDatasetFileStorage(path=target, s3_endpoint_override=moto_endpoint))
    job.persist(FileSource(path=target, s3_endpoint_override=moto_endpoint), allow_overwrite=True)

    # the saved training set reads back as a source, through the same path
    from ladle.offline.filesystem import ParquetPath

    saved_source = ParquetPath(
        target, "FileSource 'saved'", store.config.repo_path, store.offline_store.object_store, moto_endpoint
    )
    back = saved_source.dataset().to_table(columns=["driver_id", "trips"])
    assert sorted(back.column("trips").to_pylist(), key=str) == sorted(
        job.to_arrow().column("trips").to_pylist(), key=str
    )


def test_offline_store_settings_give_the_endpoint_and_region(
    s3: Any, bucket: str, moto_endpoint: str, make_repo: Any
) -> None:
    key = upload(s3, bucket, "file", history())
    host = moto_endpoint.removeprefix("http://")
    store = applied(
        make_repo,
        "repo",
        f"s3://{bucket}/{key}",
        offline=f"  s3_endpoint: {host}\n  s3_use_ssl: false\n  s3_region: eu-west-1\n  s3_url_style: path\n",
    )
    df = sorted_training(store)
    assert df["trips"].notna().sum() > 50


def test_validate_reads_the_s3_source(s3: Any, bucket: str, moto_endpoint: str, make_repo: Any) -> None:
    key = upload(s3, bucket, "dir", history())
    store = applied(make_repo, "repo", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    done = subprocess.run(
        [str(LADLE), "validate"],
        cwd=store.repo_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    s3.delete_object(Bucket=bucket, Key="stats/part-0.parquet")
    s3.delete_object(Bucket=bucket, Key="stats/part-1.parquet")
    done = subprocess.run(
        [str(LADLE), "validate"],
        cwd=store.repo_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 1
    assert f"FileSource 'stats_src' has no parquet data at 's3://{bucket}/stats/'" in done.stderr


def test_no_extension_is_loaded(s3: Any, bucket: str, moto_endpoint: str, make_repo: Any) -> None:
    key = upload(s3, bucket, "file", history())
    store = applied(make_repo, "repo", f"s3://{bucket}/{key}", f", s3_endpoint_override={moto_endpoint!r}")
    sorted_training(store)
    loaded = store.offline_store.query("SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1")
    assert "httpfs" not in loaded.column("extension_name").to_pylist()


def source(path: str, endpoint: str) -> FileSource:
    return FileSource(name="stats_src", path=path, timestamp_field="ts", s3_endpoint_override=endpoint)


def bare_store(tmp_path: Path) -> Any:
    from ladle.offline.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig

    return DuckDBOfflineStore(DuckDBOfflineStoreConfig(), tmp_path)


def test_missing_key_and_missing_bucket_name_the_source_and_path(
    bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    store = bare_store(tmp_path)
    with pytest.raises(
        BackendFailure, match=rf"FileSource 'stats_src' has no parquet data at 's3://{bucket}/nope\.parquet'"
    ):
        store.source_schema(source(f"s3://{bucket}/nope.parquet", moto_endpoint))
    with pytest.raises(
        BackendFailure, match=r"reads 's3://no-such-bucket-[0-9a-f]+/x/', but bucket '.*' does not exist"
    ):
        store.source_schema(source(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x/", moto_endpoint))
    with pytest.raises(BackendFailure, match=r"bucket .* does not exist|the bucket does not exist"):
        store.source_schema(source(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x/*.parquet", moto_endpoint))


def test_unreachable_endpoint_fails_fast(moto_endpoint: str, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = bare_store(tmp_path)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"FileSource 'stats_src' at 's3://b/k\.parquet': cannot reach"):
        store.source_schema(source("s3://b/k.parquet", f"http://127.0.0.1:{port}"))
    assert time.monotonic() - start < 15


def test_append_to_a_glob_is_refused(s3: Any, bucket: str, moto_endpoint: str, tmp_path: Path) -> None:
    upload(s3, bucket, "glob", history())
    store = bare_store(tmp_path)
    with pytest.raises(InvalidRequest, match=r"FileSource 'stats_src'.*is a glob; point it at a folder"):
        store.append(source(f"s3://{bucket}/stats/*.parquet", moto_endpoint), history())


def test_access_denied_names_the_source_and_the_fix(moto_endpoint: str, tmp_path: Path) -> None:
    """A server that checks credentials (moto with authentication on) refuses the test keys with 403."""
    proc, endpoint = start_moto_server({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        store = bare_store(tmp_path)
        for path in ("s3://b/k.parquet", "s3://b/stats/*.parquet"):
            with pytest.raises(
                BackendFailure,
                match=rf"FileSource 'stats_src' at '{re.escape(path)}': access denied.*"
                r"\(check the AWS credentials",
            ):
                store.source_schema(source(path, endpoint))
    finally:
        proc.terminate()
        proc.wait(timeout=10)

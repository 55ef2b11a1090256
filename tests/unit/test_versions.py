"""Feature-set versions: publish (contract check, layout, metadata, the latest pointer), reading ``latest``
and pinned versions through a FileSource, refusals that leave ``latest`` alone, concurrent publishes, the
S3 root (moto on loopback), and training sets recording the version they read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle.errors import InvalidRequest
from ladle.store import FeatureStore
from ladle.versions.publish import fingerprint
from operating_repo import FEATURES, NOW, SQLITE_ONLINE, YAML, build

VIEW = "driver_stats"
LADLE = Path(sys.executable).parent / "ladle"


def local_repo(make_repo: Any, name: str = "repo") -> FeatureStore:
    yaml = YAML.format(
        project="versions",
        registry="data/registry.db",
        online=SQLITE_ONLINE,
        offline="",
        root="data/sets",
        root_extra="",
    )
    path = make_repo(
        {"features.py": FEATURES.format(ttl_days=2, path="data/sets/driver_stats/latest", extra="")},
        yaml=yaml,
        name=name,
    )
    return FeatureStore(repo_path=path)


def training(store: FeatureStore, drivers: list[int]) -> pd.DataFrame:
    entity_df = pd.DataFrame({"driver_id": drivers, "event_timestamp": [NOW] * len(drivers)})
    return store.get_historical_features(entity_df, [f"{VIEW}:rate", f"{VIEW}:trips"]).to_df()


def test_publish_writes_a_version_with_metadata_and_moves_latest(make_repo: Any) -> None:
    store = local_repo(make_repo)
    first = store.publish(VIEW, build([1, 2], 1.0, 10), version="v1")  # before apply: the repo's contract
    assert first.previous is None
    folder = store.repo_path / "data/sets/driver_stats"
    assert json.loads((folder / "latest").read_text())["version"] == "v1"
    meta = json.loads((folder / "v1/metadata.json").read_text())
    assert meta["version"] == "v1" and meta["row_count"] == 4 and meta["view"] == VIEW
    assert len(meta["schema_hash"]) == 64 and meta["fingerprint"].startswith("sha256:")
    assert meta["event_time_max"] == (NOW - pd.Timedelta(hours=1)).isoformat()
    assert meta["event_time_min"] == (NOW - pd.Timedelta(hours=6)).isoformat()
    assert meta["ladle_version"] and meta["registry_version"] == 0 and meta["generated_at"]
    assert fingerprint(pq.read_table(folder / "v1/data.parquet")) == meta["fingerprint"]
    store.apply_repo()
    second = store.publish(VIEW, build([1, 2, 3], 2.0, 20))  # default version: a UTC timestamp
    assert second.previous == "v1" and second.version.endswith("Z") and second.metadata["registry_version"] == 1
    versions = store.list_versions(VIEW)
    assert [(v.version, v.is_latest) for v in versions] == [("v1", False), (second.version, True)]
    assert training(store, [1, 3])["trips"].tolist() == [21, 23]  # the FileSource reads latest
    job = store.get_historical_features(pd.DataFrame({"driver_id": [1], "event_timestamp": [NOW]}), [f"{VIEW}:trips"])
    assert job.metadata["source_versions"] == {VIEW: second.version}


def test_a_pinned_version_path_reads_that_version(make_repo: Any) -> None:
    store = local_repo(make_repo)
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    store.publish(VIEW, build([1], 2.0, 20), version="v2")
    features = (store.repo_path / "features.py").read_text().replace("driver_stats/latest", "driver_stats/v1")
    (store.repo_path / "features.py").write_text(features)
    store.apply_repo()
    assert training(store, [1])["trips"].tolist() == [11]
    job = store.get_historical_features(pd.DataFrame({"driver_id": [1], "event_timestamp": [NOW]}), [f"{VIEW}:trips"])
    assert job.metadata["source_versions"] == {VIEW: "v1"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=["trips"]), r"'driver_stats'.*no column 'trips' \(feature, Int64\)"),
        (lambda df: df.drop(columns=["ts"]), r"'driver_stats'.*no column 'ts' \(event timestamp\)"),
        (
            lambda df: df.assign(rate=["fast"] * len(df)),
            r"'driver_stats'.*column 'rate' holds (large_)?string.*Float32",
        ),
        (lambda df: df.assign(trips=[1.5] * len(df)), r"'driver_stats'.*column 'trips'.*Int64"),
        (
            lambda df: df.assign(ts=[*df.ts[1:], pd.NaT]),
            r"'driver_stats'.*1 row\(s\) have no event timestamp in column 'ts'",
        ),
    ],
)
def test_data_off_contract_is_refused_and_latest_stays(make_repo: Any, change: Any, message: str) -> None:
    store = local_repo(make_repo)
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    with pytest.raises(InvalidRequest, match=message):
        store.publish(VIEW, change(build([1], 2.0, 20)), version="v2")
    folder = store.repo_path / "data/sets/driver_stats"
    assert json.loads((folder / "latest").read_text())["version"] == "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["latest", "v1"]


def test_versions_are_never_replaced_and_names_are_checked(make_repo: Any) -> None:
    store = local_repo(make_repo)
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    with pytest.raises(InvalidRequest, match=r"already has a version 'v1'.*new --version"):
        store.publish(VIEW, build([1], 2.0, 20), version="v1")
    for bad in ("latest", "../x", ".hidden", "a/b", ""):
        with pytest.raises(InvalidRequest, match="cannot name a feature-set version"):
            store.publish(VIEW, build([1], 2.0, 20), version=bad)
    assert training_after_apply(store) == [11]


def training_after_apply(store: FeatureStore) -> list[int]:
    store.apply_repo()
    return list(training(store, [1])["trips"])


def test_publish_from_parquet_and_csv_paths(make_repo: Any, tmp_path: Path) -> None:
    store = local_repo(make_repo)
    build([1, 2], 1.0, 10).to_csv(tmp_path / "build.csv", index=False)
    (tmp_path / "folder").mkdir()
    build([1, 2], 2.0, 20).to_parquet(tmp_path / "folder" / "part-0.parquet")
    assert store.publish(VIEW, str(tmp_path / "build.csv"), version="csv").metadata["row_count"] == 4
    assert store.publish(VIEW, tmp_path / "folder", version="dir").metadata["row_count"] == 4
    assert training_after_apply(store) == [21]
    with pytest.raises(InvalidRequest, match="does not exist"):
        store.publish(VIEW, str(tmp_path / "nothing.parquet"), version="x")


def test_concurrent_publishes_one_wins_the_pointer_and_none_corrupts(make_repo: Any, tmp_path: Path) -> None:
    """Eight `ladle publish` processes at once: four distinct versions, four racing for one name."""
    store = local_repo(make_repo)
    procs = []
    for i in range(8):
        data = tmp_path / f"build{i}.parquet"
        build([1, 2], float(i), 100 * i).to_parquet(data)
        name = f"v{i}" if i < 4 else "same"
        command = [str(LADLE), "publish", VIEW, str(data), "--version", name]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs.append(subprocess.Popen(command, cwd=store.repo_path, env=env, stdout=PIPE, stderr=PIPE, text=True))
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    assert [code for code, _ in results[:4]] == [0, 0, 0, 0], results
    same = [code for code, _ in results[4:]]
    assert sorted(same) == [0, 1, 1, 1], results  # exactly one of the four "same" publishers
    assert all("already has a version 'same'" in err for code, (_, err) in results[4:] if code), results
    versions = store.list_versions(VIEW)
    assert sorted(v.version for v in versions) == ["same", "v0", "v1", "v2", "v3"]
    latest = [v.version for v in versions if v.is_latest]
    assert len(latest) == 1
    folder = store.repo_path / "data/sets/driver_stats"
    for v in versions:  # every version is whole: its data matches its recorded fingerprint
        assert fingerprint(pq.read_table(folder / v.version / "data.parquet")) == v.metadata["fingerprint"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    served = pq.read_table(folder / latest[0] / "data.parquet").to_pandas().sort_values("ts")
    assert training_after_apply(store) == [int(served[served.driver_id == 1].trips.iloc[-1])]


@pytest.fixture
def s3_root(moto_endpoint: str) -> str:
    import boto3

    bucket = f"ladle-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/sets"


def test_publish_to_s3_and_read_latest_through_the_file_source(
    make_repo: Any, s3_root: str, moto_endpoint: str
) -> None:
    yaml = YAML.format(
        project="versions_s3",
        registry="data/registry.db",
        online=SQLITE_ONLINE,
        offline=f"  s3_endpoint: {moto_endpoint}\n",
        root=s3_root,
        root_extra="",
    )
    path = make_repo(
        {"features.py": FEATURES.format(ttl_days=2, path=f"{s3_root}/driver_stats/latest", extra="")}, yaml=yaml
    )
    store = FeatureStore(repo_path=path)
    store.publish(VIEW, build([1, 2], 1.0, 10), version="v1")
    store.apply_repo()
    store.publish(VIEW, build([1, 2], 2.0, 20), version="v2")
    assert [(v.version, v.is_latest) for v in store.list_versions(VIEW)] == [("v1", False), ("v2", True)]
    assert training(store, [1, 2])["trips"].tolist() == [21, 22]
    with pytest.raises(InvalidRequest, match="already has a version 'v2'"):
        store.publish(VIEW, build([1], 3.0, 30), version="v2")
    with pytest.raises(InvalidRequest, match="no column 'rate'"):
        store.publish(VIEW, build([1], 3.0, 30).drop(columns=["rate"]), version="v3")
    assert [v.version for v in store.list_versions(VIEW) if v.is_latest] == ["v2"]
    store.rollback(VIEW, "v1", online=False)
    assert training(store, [1, 2])["trips"].tolist() == [11, 12]


def test_no_root_is_a_clear_error(make_repo: Any) -> None:
    path = make_repo({"features.py": FEATURES.format(ttl_days=2, path="data/x.parquet", extra="")})
    with pytest.raises(InvalidRequest, match=r"no feature-set root.*feature_sets: \{root:"):
        FeatureStore(repo_path=path).publish(VIEW, build([1], 1.0, 10))


def test_pushing_offline_into_a_published_version_is_refused(make_repo: Any) -> None:
    from ladle.definitions import FileSource

    store = local_repo(make_repo)
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    source = FileSource(name="s", path="data/sets/driver_stats/latest", timestamp_field="ts")
    rows = pa.Table.from_pandas(build([1], 2.0, 20), preserve_index=False)
    with pytest.raises(
        InvalidRequest, match=r"latest pointer of a published feature set \(version 'v1'\).*ladle publish"
    ):
        store.offline_store.append(source, rows)
    assert sorted(p.name for p in (store.repo_path / "data/sets/driver_stats/v1").iterdir()) == [
        "data.parquet",
        "metadata.json",
    ]


@pytest.mark.services
def test_spark_reads_the_version_latest_points_at(make_repo: Any) -> None:
    from backends import spark_session
    from ladle.definitions import Entity, FeatureView, Field, FileSource
    from ladle.offline.base import ViewRequest
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig
    from ladle.types import Int64

    spark_session()
    store = local_repo(make_repo)
    store.publish(VIEW, build([1, 2], 1.0, 10), version="v1")
    store.publish(VIEW, build([1, 2], 2.0, 20), version="v2")
    spark = SparkOfflineStore(SparkOfflineStoreConfig(), store.repo_path)
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="s", path="data/sets/driver_stats/latest", timestamp_field="ts")
    view = FeatureView(name=VIEW, entities=[driver], schema=[Field(name="trips", dtype=Int64)], source=source)
    view.bind_entities({"driver": driver})
    entities = pa.table({"driver_id": [1, 2], "event_timestamp": pa.array([NOW, NOW], pa.timestamp("us", tz="UTC"))})

    def trips() -> list[int]:
        joined = spark.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, VIEW, view.features)])
        return list(joined.column(f"{VIEW}__trips").to_pylist())

    assert trips() == [21, 22]
    store.rollback(VIEW, "v1", online=False)
    assert trips() == [11, 12]


def test_a_view_object_outside_the_repo_is_its_own_contract(make_repo: Any) -> None:
    from ladle.definitions import Entity, FeatureView, Field, FileSource
    from ladle.types import Int64

    store = local_repo(make_repo)
    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(name="other_src", path="data/sets/other/latest", timestamp_field="ts")
    other = FeatureView(name="other", entities=[driver], schema=[Field(name="trips", dtype=Int64)], source=source)
    other.bind_entities({"driver": driver})
    result = store.publish(other, build([1], 1.0, 10).drop(columns=["rate"]), version="v1")
    assert result.metadata["contract"]["features"] == [{"name": "trips", "dtype": "Int64"}]
    with pytest.raises(InvalidRequest, match=r"'other'.*no column 'trips'"):
        store.publish(other, build([1], 1.0, 10).drop(columns=["trips"]), version="v2")
    # a repo view passed as an object is checked against the repo's definition of that name
    with pytest.raises(InvalidRequest, match=r"'driver_stats'.*no column 'rate'"):
        store.publish(
            FeatureView(name=VIEW, entities=[driver], schema=[Field(name="trips", dtype=Int64)], source=source),
            build([1], 1.0, 10).drop(columns=["rate"]),
        )


def test_the_roots_own_s3_endpoint_and_a_root_given_per_call(make_repo: Any, s3_root: str, moto_endpoint: str) -> None:
    """``feature_sets.s3_endpoint`` alone reaches the server (the offline store names none); ``root=`` (the
    CLI's --root) wins over the yaml."""
    yaml = YAML.format(
        project="versions_s3_root",
        registry="data/registry.db",
        online=SQLITE_ONLINE,
        offline="",
        root=s3_root,
        root_extra=f"  s3_endpoint: {moto_endpoint}\n",
    )
    path = make_repo(
        {"features.py": FEATURES.format(ttl_days=2, path="data/sets/driver_stats/latest", extra="")}, yaml=yaml
    )
    store = FeatureStore(repo_path=path)
    store.publish(VIEW, build([1], 1.0, 10), version="v1")
    assert [(v.version, v.is_latest) for v in store.list_versions(VIEW)] == [("v1", True)]
    store.publish(VIEW, build([1], 2.0, 20), version="local", root="data/sets")
    assert [v.version for v in store.list_versions(VIEW, root="data/sets")] == ["local"]
    assert [v.version for v in store.list_versions(VIEW)] == ["v1"]
    store.apply_repo()
    assert training(store, [1])["trips"].tolist() == [21]


def test_a_training_set_reads_the_version_it_recorded_even_if_latest_moves(make_repo: Any) -> None:
    store = local_repo(make_repo)
    store.publish(VIEW, build([1, 2], 1.0, 10), version="v1")
    store.apply_repo()
    entity_df = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [NOW, NOW]})
    job = store.get_historical_features(entity_df, [f"{VIEW}:trips"])
    store.publish(VIEW, build([1, 2], 2.0, 20), version="v2")  # before the job runs
    assert job.metadata["source_versions"] == {VIEW: "v1"}
    assert job.to_df()["trips"].tolist() == [11, 12]
    assert training(store, [1, 2])["trips"].tolist() == [21, 22]  # a new job reads the new latest
    assert store.get_feature_view(VIEW).batch_source.path.endswith("/latest")  # the registered view is untouched

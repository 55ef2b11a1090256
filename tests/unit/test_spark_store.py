"""The spark offline store through FeatureStore, as a user meets it: the same training sets as DuckDB over
the same files (aliases, projections, views without entities, field_mapping, on-demand views, created-time
filtering), SparkSource tables, queries and files, entity rows given as a Spark DataFrame or SQL,
``to_spark_df()`` / ``persist()``, offline push, and one-line errors for sources that do not exist."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backends import spark_session
from ladle.definitions import FileSource, SavedDatasetSparkStorage, SparkSource
from ladle.errors import BackendFailure, InvalidRequest
from ladle.store import FeatureStore

pytestmark = pytest.mark.services  # every test runs Spark

T0 = datetime(2026, 3, 1, tzinfo=UTC)
UTC_US = pa.timestamp("us", tz="UTC")

REPO = """
from datetime import timedelta

import pandas as pd

from ladle import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, on_demand_feature_view
from ladle.types import Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
location = Entity(name="location", join_keys=["location_id"])

stats = FeatureView(
    name="driver_stats", entities=[driver], ttl=timedelta(hours=3),
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64), Field(name="city", dtype=String)],
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts",
                      created_timestamp_column="created", field_mapping={"conv": "conv_rate"}),
)
temps = FeatureView(
    name="location_stats", entities=[location], ttl=None, schema=[Field(name="temperature", dtype=Int64)],
    source=FileSource(name="loc_src", path="data/locations", timestamp_field="ts"),
)
global_stats = FeatureView(
    name="global_stats", entities=[], schema=[Field(name="total_trips", dtype=Int64)],
    source=FileSource(name="global_src", path="data/global.parquet", timestamp_field="ts"),
)
req = RequestSource(name="req", schema=[Field(name="bonus", dtype=Float64)])

@on_demand_feature_view(sources=[stats, req], schema=[Field(name="conv_plus_bonus", dtype=Float64)])
def adjusted(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"conv_plus_bonus": inputs["conv_rate"].astype("float64") + inputs["bonus"]})

svc = FeatureService(
    name="model_v1",
    features=[stats[["conv_rate"]], temps.with_name("origin").with_join_key_map({"location_id": "origin_id"}),
              temps.with_name("dest").with_join_key_map({"location_id": "dest_id"}), global_stats],
)
"""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _yaml(offline: str, name: str) -> str:
    return (
        f"project: sparkunit\nregistry: data/registry_{name}.db\nprovider: local\n"
        f"online_store:\n  type: sqlite\n  path: data/online_{name}.db\noffline_store:\n  type: {offline}\n"
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spark_session()
    repo = tmp_path_factory.mktemp("spark_repo")
    (repo / "data" / "locations").mkdir(parents=True)
    (repo / "features.py").write_text(REPO)
    (repo / "duckdb.yaml").write_text(_yaml("duckdb", "duckdb"))
    (repo / "feature_store.yaml").write_text(_yaml("spark", "spark"))
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 1, 1, 2, 2], pa.int64()),
                "ts": pa.array([at(0), at(1), at(1), at(0), at(2)], UTC_US),
                "created": pa.array([at(0), at(1), at(1.5), at(0), None], UTC_US),
                "conv": pa.array([0.1, 0.2, 0.3, 0.5, 0.6], pa.float64()),
                "trips": pa.array([10, 20, None, 50, 60], pa.int64()),
                "city": ["a", "b", "c", "d", "é ✓"],
            }
        ),
        repo / "data/stats.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "location_id": pa.array([7, 8, 7], pa.int64()),
                "ts": pa.array([at(0), at(0), at(5)], UTC_US),
                "temperature": pa.array([20, 30, 25], pa.int64()),
            }
        ),
        repo / "data/locations/part-0.parquet",
    )
    pq.write_table(
        pa.table({"ts": pa.array([at(0), at(2)], UTC_US), "total_trips": pa.array([100, 200], pa.int64())}),
        repo / "data/global.parquet",
    )
    return repo


@pytest.fixture(scope="module")
def stores(repo: Path) -> Iterator[tuple[FeatureStore, FeatureStore]]:
    spark = FeatureStore(repo_path=repo)
    duck = FeatureStore(repo_path=repo, fs_yaml_file="duckdb.yaml")
    spark.apply_repo()
    duck.apply_repo()
    yield spark, duck
    for s in (spark, duck):
        s.teardown()
        s.close()


def entity_df() -> pd.DataFrame:
    rows = [
        (1, 1.2, 7, 8),
        (2, 1.0, 8, 7),
        (1, 0.5, 7, 7),
        (3, 1.0, 9, 8),
        (1, 5.0, 7, 8),
        (1, 1.2, 7, 8),
        (2, 1.0, 8, 7),
    ]
    return pd.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "event_timestamp": [at(r[1]) for r in rows],
            "origin_id": [r[2] for r in rows],
            "dest_id": [r[3] for r in rows],
            "bonus": [0.5 * i for i in range(len(rows))],
            "label": list(range(len(rows))),
        }
    )


REQUESTS: list[tuple[Any, bool, bool]] = [
    (["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city"], False, False),
    (["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city"], False, True),
    ("model_v1", True, False),
    (["adjusted:conv_plus_bonus", "driver_stats:trips", "global_stats:total_trips"], False, False),
]


@pytest.mark.parametrize(("features", "full_names", "filter_created"), REQUESTS)
def test_spark_and_duckdb_give_the_same_training_set(
    stores: tuple[FeatureStore, FeatureStore], features: Any, full_names: bool, filter_created: bool
) -> None:
    spark, duck = stores
    refs = spark.get_feature_service(features) if isinstance(features, str) else features
    edf = entity_df()
    got = spark.get_historical_features(edf, refs, full_names, filter_created).to_df()
    want = duck.get_historical_features(edf, refs, full_names, filter_created).to_df()
    pd.testing.assert_frame_equal(got, want)
    assert got.index.equals(edf.index)


def test_entity_rows_as_a_spark_dataframe_or_sql(stores: tuple[FeatureStore, FeatureStore], repo: Path) -> None:
    spark, duck = stores
    session = spark_session()
    edf = entity_df()
    refs = ["driver_stats:conv_rate", "driver_stats:city", "global_stats:total_trips"]
    want = duck.get_historical_features(edf, refs).to_arrow()
    frame = session.createDataFrame(pa.Table.from_pandas(edf, preserve_index=False))
    got = spark.get_historical_features(frame, refs).to_arrow()
    assert got.select(want.column_names).to_pylist() == want.to_pylist()
    path = repo / "data" / "entities.parquet"
    pq.write_table(pa.Table.from_pandas(edf, preserve_index=False), path)
    sql = f"SELECT driver_id, event_timestamp, label FROM parquet.`{path}` ORDER BY label"
    got = spark.get_historical_features(sql, refs).to_arrow()
    assert got.column("conv_rate").to_pylist() == want.column("conv_rate").to_pylist()
    assert got.column("label").to_pylist() == list(range(len(edf)))
    with pytest.raises(InvalidRequest, match="lacks column"):
        spark.get_historical_features(frame.drop("driver_id"), refs)


def test_to_spark_df_and_persist(stores: tuple[FeatureStore, FeatureStore], repo: Path) -> None:
    spark, duck = stores
    refs = ["driver_stats:conv_rate", "driver_stats:trips", "global_stats:total_trips"]
    job = spark.get_historical_features(entity_df(), refs)
    frame = job.to_spark_df()
    assert frame.columns == [*entity_df().columns, "conv_rate", "trips", "total_trips"]
    assert dict(frame.dtypes)["conv_rate"] == "float"  # the declared Float32
    want = job.to_arrow()
    assert frame.toArrow().column("trips").to_pylist() == want.column("trips").to_pylist()

    target = repo / "out" / f"training_{uuid.uuid4().hex[:6]}"
    job.persist(SavedDatasetSparkStorage(path=str(target), file_format="parquet"))
    saved = pq.read_table(target).sort_by("label")
    assert saved.column("trips").to_pylist() == want.column("trips").to_pylist()
    with pytest.raises(InvalidRequest, match=r"already exists.*allow_overwrite=True"):
        job.persist(SparkSource(name="t", path=str(target), file_format="parquet"))
    job.persist(FileSource(name="t", path=str(target)), allow_overwrite=True)

    table = f"ladle_training_{uuid.uuid4().hex[:6]}"
    job.persist(SavedDatasetSparkStorage(table_name=table))
    assert spark_session().table(table).count() == len(entity_df())
    spark_session().sql(f"DROP TABLE {table}")

    # on-demand features are computed on the driver: the frame is built from the Arrow result
    odfv = spark.get_historical_features(entity_df(), ["adjusted:conv_plus_bonus"]).to_spark_df()
    assert "conv_plus_bonus" in odfv.columns

    with pytest.raises(
        InvalidRequest, match=r"to_spark_df\(\) needs the spark offline store.*the duckdb offline store"
    ):
        duck.get_historical_features(entity_df(), refs).to_spark_df()
    local = repo / "out" / "duck.parquet"
    duck.get_historical_features(entity_df(), refs).persist(FileSource(name="d", path=str(local)))
    assert pq.read_table(local).column("trips").to_pylist() == want.column("trips").to_pylist()


def test_spark_source_table_query_and_csv_path(tmp_path: Path) -> None:
    from ladle.definitions import Entity, FeatureView, Field
    from ladle.offline.base import ViewRequest
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig
    from ladle.types import Int64

    session = spark_session()
    rows = pa.table(
        {
            "driver_id": pa.array([1, 1, 2], pa.int64()),
            "ts": pa.array([at(0), at(2), at(1)], UTC_US),
            "v": pa.array([10, 20, 30], pa.int64()),
        }
    )
    table = f"ladle_src_{uuid.uuid4().hex[:6]}"
    session.createDataFrame(rows).write.saveAsTable(table)
    pq.write_table(rows, tmp_path / "rows.parquet")
    (tmp_path / "csv").mkdir()
    rows.to_pandas().assign(ts=lambda d: d["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        tmp_path / "csv" / "rows.csv", index=False
    )
    store = SparkOfflineStore(SparkOfflineStoreConfig(), tmp_path)
    driver = Entity(name="driver", join_keys=["driver_id"])
    entities = pa.table(
        {"driver_id": pa.array([1, 2, 1], pa.int64()), "event_timestamp": pa.array([at(1), at(3), at(5)], UTC_US)}
    )
    sources = [
        SparkSource(name="t", table=table, timestamp_field="ts"),
        SparkSource(
            name="q",
            query=f"SELECT driver_id, ts, v * 1 AS v FROM parquet.`{tmp_path / 'rows.parquet'}`",
            timestamp_field="ts",
        ),
        SparkSource(name="c", path="csv", file_format="csv", timestamp_field="ts"),
    ]
    try:
        for source in sources:
            view = FeatureView(name="fv", entities=[driver], schema=[Field(name="v", dtype=Int64)], source=source)
            view.bind_entities({"driver": driver})
            joined = store.point_in_time_join(entities, "event_timestamp", [ViewRequest(view, "fv", view.features)])
            assert joined.column("fv__v").to_pylist() == [10, 30, 20], source.name
    finally:
        session.sql(f"DROP TABLE {table}")


def test_a_source_that_does_not_exist_is_one_line_naming_it(tmp_path: Path) -> None:
    from ladle.offline.spark import SparkOfflineStore, SparkOfflineStoreConfig

    spark_session()
    store = SparkOfflineStore(SparkOfflineStoreConfig(), tmp_path)
    with pytest.raises(BackendFailure) as info:
        store.source_schema(SparkSource(name="missing_table", table="no_such_db_table_x", timestamp_field="ts"))
    message = str(info.value)
    assert "\n" not in message
    assert "SparkSource 'missing_table': table 'no_such_db_table_x' does not exist" in message
    assert "fix table= in the SparkSource" in message
    with pytest.raises(
        BackendFailure, match=r"SparkSource 'gone': parquet files at 'nowhere' does not exist.*check the path"
    ):
        store.source_schema(SparkSource(name="gone", path="nowhere", file_format="parquet", timestamp_field="ts"))


def test_push_offline_appends_to_a_spark_path(tmp_path: Path) -> None:
    spark_session()
    repo = tmp_path / "repo"
    (repo / "data" / "events").mkdir(parents=True)
    pq.write_table(
        pa.table({"driver_id": pa.array([1], pa.int64()), "ts": pa.array([at(0)], UTC_US), "v": pa.array([1.5])}),
        repo / "data" / "events" / "part-0.parquet",
    )
    (repo / "feature_store.yaml").write_text(_yaml("spark", "push"))
    (repo / "features.py").write_text("""
from ladle import Entity, FeatureView, Field, PushSource, SparkSource
from ladle.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
src = SparkSource(name="events", path="data/events", file_format="parquet", timestamp_field="ts")
push = PushSource(name="events_push", batch_source=src)
fv = FeatureView(name="events_fv", entities=[driver], schema=[Field(name="v", dtype=Float64)], source=push)
""")
    store = FeatureStore(repo_path=repo)
    try:
        store.apply_repo()
        store.push("events_push", pd.DataFrame({"driver_id": [1], "ts": [at(2)], "v": [9.5]}), to="offline")
        df = store.get_historical_features(
            pd.DataFrame({"driver_id": [1, 1], "event_timestamp": [at(1), at(3)]}), ["events_fv:v"]
        ).to_df()
        assert df["v"].tolist() == [1.5, 9.5]
    finally:
        store.teardown()
        store.close()

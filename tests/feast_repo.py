"""A feature repo written the way Feast users write it (``from feast import ...`` and Feast's module
paths), for the drop-in tests: one file per drop-in item, so each test takes only the files it needs."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2026, 7, 1, tzinfo=timezone.utc)

BASE = """
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.data_format import ParquetFormat
from feast.types import Array, Float32, Int64, String
from feast.value_type import ValueType

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
stats_source = FileSource(path="data/stats.parquet", timestamp_field="event_timestamp", file_format=ParquetFormat())
stats = FeatureView(
    name="stats",
    entities=[driver],
    ttl=timedelta(0),
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64),
            Field(name="tags", dtype=Array(String))],
    source=stats_source,
)
"""

DISABLED = """
from feast import FeatureView, Field
from feast.types import Float32

from base import driver, stats_source

paused = FeatureView(name="paused", entities=[driver], schema=[Field(name="conv_rate", dtype=Float32)],
                     source=stats_source, enabled=False)
"""

ONLINE_PUSH = """
from datetime import timedelta

from feast import FeatureView, Field, PushSource
from feast.types import Int64

from base import driver

clicks_push = PushSource(name="clicks_push", schema=[Field(name="clicks", dtype=Int64)])
clicks = FeatureView(name="clicks", entities=[driver], ttl=timedelta(0), schema=[Field(name="clicks", dtype=Int64)],
                     source=clicks_push)
"""

TRANSFORMATIONS = """
import pandas as pd

from feast import Field, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.transformation.pandas_transformation import PandasTransformation
from feast.transformation.python_transformation import PythonTransformation
from feast.types import Float64, Int64

from base import stats

bonus = RequestSource(name="bonus", schema=[Field(name="bonus", dtype=Float64)])


def add_bonus(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["rate_plus_bonus"] = df["conv_rate"] + df["bonus"]
    return out


def double_trips(inputs: dict) -> dict:
    return {"trips_doubled": [None if t is None else t * 2 for t in inputs["trips"]]}


plus_bonus = OnDemandFeatureView(
    name="plus_bonus",
    sources=[stats, bonus],
    schema=[Field(name="rate_plus_bonus", dtype=Float64)],
    feature_transformation=PandasTransformation(udf=add_bonus, udf_string="def add_bonus(df): ..."),
)
doubled = OnDemandFeatureView(
    name="doubled",
    sources=[stats],
    schema=[Field(name="trips_doubled", dtype=Int64)],
    feature_transformation=PythonTransformation(udf=double_trips),
    mode="python",
)
"""

WAREHOUSES = """
from feast import AthenaSource, BigQuerySource, FeatureView, Field, OracleSource, RedshiftSource, SnowflakeSource
from feast.errors import FeastOfflineStoreUnsupportedDataSource  # importable in a repo, as in Feast
from feast.infra.offline_stores.bigquery_source import BigQuerySource as BigQuerySourceByPath
from feast.infra.offline_stores.contrib.mssql_offline_store.mssqlserver_source import MsSqlServerSource
from feast.infra.offline_stores.contrib.trino_offline_store.trino_source import TrinoSource
from feast.types import Float64

from base import driver

assert BigQuerySourceByPath is BigQuerySource
bq_trips = BigQuerySource(name="bq_trips", table="my-project:rides.trips", timestamp_field="ts",
                          created_timestamp_column="created", field_mapping={"dist": "distance"},
                          description="trips in BigQuery", tags={"team": "rides"}, owner="rides@example.com")
trips_bq = FeatureView(name="trips_bq", entities=[driver], schema=[Field(name="distance", dtype=Float64)],
                       source=bq_trips)
snowflake_trips = SnowflakeSource(database="RIDES", warehouse="WH", table="TRIPS", timestamp_field="TS")
redshift_trips = RedshiftSource(table="trips", timestamp_field="ts")
athena_trips = AthenaSource(table="ride_events", database="rides", data_source="AwsDataCatalog", timestamp_field="ts")
trino_trips = TrinoSource(name="trino_trips", query="SELECT * FROM hive.rides.trips", timestamp_field="ts")
mssql_trips = MsSqlServerSource(name="mssql_trips", table_ref="dbo.trips", event_timestamp_column="ts",
                                connection_str="mssql+pyodbc://user@host/db")
oracle_trips = OracleSource(name="oracle_trips", table_ref="RIDES.TRIPS", event_timestamp_column="ts")
"""

DTYPES_YAML = """\
project: dropin
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: file
feast_compatible_dtypes: true
"""


def write_stats(repo: Path) -> None:
    """Drivers 1 and 2 at T0; driver 2 has no trips value (a null in a nullable Int64 column)."""
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1, 2], pa.int64()),
                "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
                "conv_rate": pa.array([0.5, 0.25], pa.float32()),
                "trips": pa.array([7, None], pa.int64()),
                "tags": pa.array([["a", "b"], ["c"]], pa.list_(pa.string())),
            }
        ),
        repo / "data" / "stats.parquet",
    )

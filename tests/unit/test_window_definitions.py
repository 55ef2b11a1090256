"""Windowed-aggregation definitions (issue 12): Aggregation, StreamFeatureView, BatchFeatureView and the stream
sources load from Feast's import paths, apply, round-trip through the registry, and name their outputs and
types as documented; bad aggregations fail at apply naming the view and the aggregation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ladle.cli.commands import cli
from ladle.definitions import (
    Aggregation,
    BatchFeatureView,
    Entity,
    FeatureView,
    Field,
    FileSource,
    JsonFormat,
    KafkaSource,
    KinesisSource,
    PushSource,
    RedisStreamSource,
    StreamFeatureView,
    source_from_dict,
    stream_feature_view,
)
from ladle.errors import InvalidDefinition
from ladle.store import FeatureStore
from ladle.types import Array, Float32, Float64, Int64, String
from ladle.windows import longest_window, window_specs

T0 = datetime(2024, 1, 15, 10, tzinfo=timezone.utc)

TUTORIAL = """
from datetime import timedelta

from feast import Entity, Field, FileSource, PushSource, StreamFeatureView
from feast.aggregation import Aggregation
from feast.types import Float32, Int64

user = Entity(name="user", join_keys=["user_id"])
transaction_source = FileSource(path="data/transactions.parquet", timestamp_field="event_timestamp")
push_source = PushSource(name="transaction_push_source", batch_source=transaction_source)

streaming_features = StreamFeatureView(
    name="transaction_streaming_features",
    entities=[user],
    ttl=timedelta(hours=1),
    schema=[
        Field(name="transaction_count_1h", dtype=Int64),
        Field(name="total_amount_1h", dtype=Float32),
    ],
    source=push_source,
    aggregations=[
        Aggregation(column="transaction_amount", function="count", time_window=timedelta(hours=1)),
        Aggregation(column="transaction_amount", function="sum", time_window=timedelta(hours=1)),
    ],
)
"""


def _write_transactions(repo) -> None:
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array([1001, 1001, 1002], pa.int64()),
                "transaction_amount": pa.array([10.0, 5.5, 7.0]),
                "merchant": ["a", "b", "a"],
                "event_timestamp": pa.array([T0 - timedelta(minutes=30), T0, T0], pa.timestamp("us", tz="UTC")),
            }
        ),
        repo / "data" / "transactions.parquet",
    )


def _user() -> Entity:
    return Entity(name="user", join_keys=["user_id"])


def _batch() -> FileSource:
    return FileSource(name="tx", path="data/tx.parquet", timestamp_field="event_timestamp")


def test_tutorial_stream_view_applies_lists_and_round_trips(make_repo) -> None:
    repo = make_repo({"features.py": TUTORIAL})
    _write_transactions(repo)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    view = store.get_feature_view("transaction_streaming_features")
    assert isinstance(view, StreamFeatureView)
    assert [(s.name, s.function, s.window, s.dtype) for s in window_specs(view)] == [
        ("transaction_count_1h", "count", timedelta(hours=1), pa.int64()),
        ("total_amount_1h", "sum", timedelta(hours=1), pa.float32()),
    ]
    assert [f.name for f in view.features] == ["transaction_count_1h", "total_amount_1h"]
    result = CliRunner().invoke(cli, ["--chdir", str(repo), "feature-views", "list"])
    assert result.exit_code == 0, result.output
    assert "transaction_streaming_features" in result.output
    again = FeatureView.from_dict(view.to_dict(), {"user": view.entity_objects[0]})
    assert isinstance(again, StreamFeatureView) and again == view
    assert again.aggregations == view.aggregations


def test_default_names_aliases_and_sized_functions() -> None:
    sfv = StreamFeatureView(
        name="tx",
        entities=[_user()],
        source=PushSource(name="tx_push", batch_source=_batch()),
        schema=[Field(name="amount_p", dtype=Float64)],
        aggregations=[
            Aggregation("amount", "avg", timedelta(hours=1)),
            Aggregation(column="amount", function="stddev", time_window=timedelta(minutes=5)),
            Aggregation(column="amount", function="last_3", time_window=timedelta(days=1), name="recent"),
            Aggregation(column="amount", function="count_distinct", time_window=timedelta(hours=2)),
        ],
    )
    outputs = [(name, agg.canonical_function, agg.param) for agg, name, _ in sfv.aggregation_outputs()]
    assert outputs == [
        ("avg_amount_3600s", "mean", None),
        ("stddev_amount_300s", "std", None),
        ("recent", "last_k", 3),
        ("count_distinct_amount_7200s", "count_distinct", None),
    ]
    assert [f.dtype for f in sfv.features][:2] == [Float64, Float64]
    assert sfv.features[3].dtype == Int64
    assert longest_window(sfv) == timedelta(days=1)
    specs = window_specs(sfv, {"amount": pa.float64()})
    assert specs[2].dtype == pa.list_(pa.float64()) and specs[2].param == 3


@pytest.mark.parametrize(
    ("aggregation", "ttl", "message"),
    [
        (Aggregation("amount", "median", timedelta(hours=1)), None, "unknown aggregation function 'median'"),
        (Aggregation("amount", "approx_percentile", timedelta(hours=1)), None, "windows are exact"),
        (Aggregation("amount", "sum"), None, "has no time_window"),
        (Aggregation("amount", "sum", timedelta(hours=2)), timedelta(hours=1), "longer than the view's ttl"),
        (Aggregation("amount", "sum", timedelta(hours=1), timedelta(hours=2)), None, "slide_interval"),
    ],
)
def test_bad_aggregations_name_the_view_and_the_aggregation(aggregation, ttl, message) -> None:
    with pytest.raises(InvalidDefinition, match=message) as info:
        StreamFeatureView(
            name="tx_bad",
            entities=[_user()],
            ttl=ttl,
            source=PushSource(name="p", batch_source=_batch()),
            aggregations=[aggregation],
        )
    assert "tx_bad" in str(info.value) and aggregation.function in str(info.value)


BAD_AT_APPLY = """
from datetime import timedelta

from feast import Entity, Field, FileSource, StreamFeatureView
from feast.aggregation import Aggregation
from feast.types import Int64, String

user = Entity(name="user", join_keys=["user_id"])
src = FileSource(path="data/transactions.parquet", timestamp_field="event_timestamp")
bad = StreamFeatureView(name="tx_bad", entities=[user], source=src, schema=[{fields}], aggregations=[{agg}])
"""


@pytest.mark.parametrize(
    ("fields", "agg", "message"),
    [
        ("", 'Aggregation(column="nope", function="sum", time_window=timedelta(hours=1))', "'nope' is not a column"),
        (
            'Field(name="m", dtype=Int64)',
            'Aggregation(column="transaction_amount", function="mean", time_window=timedelta(hours=1))',
            "cannot hold a mean",
        ),
        (
            'Field(name="n", dtype=String)',
            'Aggregation(column="transaction_amount", function="count", time_window=timedelta(hours=1))',
            "cannot hold a count",
        ),
        ("", 'Aggregation(column="merchant", function="sum", time_window=timedelta(hours=1))', "needs a numeric"),
    ],
)
def test_apply_checks_aggregations_against_the_source(make_repo, fields, agg, message) -> None:
    repo = make_repo({"features.py": BAD_AT_APPLY.format(fields=fields, agg=agg)})
    _write_transactions(repo)
    with pytest.raises(InvalidDefinition, match=message) as info:
        FeatureStore(repo_path=repo).apply_repo()
    assert "tx_bad" in str(info.value)


def test_undeclared_outputs_get_their_type_from_the_source_at_apply(make_repo) -> None:
    repo = make_repo(
        {
            "features.py": BAD_AT_APPLY.format(
                fields="",
                agg='Aggregation(column="merchant", function="last", time_window=timedelta(hours=1)), '
                'Aggregation(column="transaction_amount", function="max", time_window=timedelta(hours=1))',
            )
        }
    )
    _write_transactions(repo)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    view = store.get_feature_view("tx_bad")
    assert [(f.name, f.dtype) for f in view.features] == [
        ("last_merchant_3600s", String),
        ("max_transaction_amount_3600s", Float64),
    ]


def test_batch_feature_view_and_decorator() -> None:
    bfv = BatchFeatureView(
        name="tx_daily",
        entities=[_user()],
        source=_batch(),
        aggregations=[Aggregation("amount", "max", timedelta(days=1))],
        schema=[Field(name="max_amount_1d", dtype=Float32)],
    )
    assert isinstance(FeatureView.from_dict(bfv.to_dict()), BatchFeatureView)
    assert [f.name for f in bfv.features] == ["max_amount_1d"]
    plain = BatchFeatureView(
        name="tx_plain", entities=[_user()], source=_batch(), schema=[Field(name="amount", dtype=Float64)]
    )
    assert [f.name for f in plain.features] == ["amount"] and window_specs(plain) == []

    @stream_feature_view(
        entities=[_user()],
        source=PushSource(name="p", batch_source=_batch()),
        mode="pandas",
        aggregations=[Aggregation("amount", "sum", timedelta(hours=1))],
    )
    def tx_sums(df):
        return df

    assert tx_sums.name == "tx_sums" and tx_sums.mode == "pandas"
    rebuilt = FeatureView.from_dict(tx_sums.to_dict())
    assert rebuilt.udf is not None and rebuilt.to_dict() == tx_sums.to_dict()
    # one constructor for both kinds; Feast's default modes
    assert StreamFeatureView.__init__ is BatchFeatureView.__init__
    sfv = StreamFeatureView(name="s", entities=[_user()], source=PushSource(name="p", batch_source=_batch()))
    assert (sfv.mode, bfv.mode) == ("spark", "pandas")
    with pytest.raises(InvalidDefinition, match="mode must be one of"):
        BatchFeatureView(name="b", entities=[_user()], source=_batch(), mode="flink")


def test_stream_sources_round_trip() -> None:
    kafka = KafkaSource(
        name="tx_kafka",
        kafka_bootstrap_servers="localhost:9092",
        topic="tx",
        message_format=JsonFormat("x double"),
        batch_source=_batch(),
        watermark_delay_threshold=timedelta(minutes=5),
    )
    kinesis = KinesisSource(
        name="tx_kinesis", region="us-east-1", stream_name="tx", record_format=JsonFormat(""), batch_source=_batch()
    )
    redis = RedisStreamSource(
        name="tx_redis",
        stream="tx",
        batch_source=_batch(),
        message_format=JsonFormat(),
        schema=[Field(name="amount", dtype=Float64)],
        event_id_field="event_id",
    )
    for src in (kafka, kinesis, redis):
        again = source_from_dict(src.to_dict())
        assert type(again) is type(src) and again.to_dict() == src.to_dict()
        assert src.batch.name == "tx" and src.timestamp_field == "event_timestamp" and src.has_history
    assert not KafkaSource(name="k", topic="t", timestamp_field="ts").has_history
    assert kinesis.record_format == JsonFormat("")
    # the common keywords go through one StreamSource constructor, errors naming the concrete kind
    described = KinesisSource(
        name="kd", stream_name="s", description="d", owner="o", tags={"t": "1"}, batch_source=_batch()
    )
    assert (described.description, described.owner, described.tags) == ("d", "o", {"t": "1"})
    for kind in (KafkaSource, KinesisSource):
        with pytest.raises(InvalidDefinition, match=f"{kind.__name__} 'bad'.*batch_source must be a batch"):
            kind(name="bad", batch_source=PushSource(name="p", batch_source=_batch()))


def test_feast_import_paths() -> None:
    from ladle.repo.feast_compat import install_feast_aliases

    install_feast_aliases()
    import feast
    from feast.aggregation import Aggregation as FeastAggregation
    from feast.batch_feature_view import BatchFeatureView as FeastBatch
    from feast.data_format import AvroFormat
    from feast.data_format import JsonFormat as FeastJson
    from feast.data_source import KafkaSource as FeastKafka
    from feast.data_source import KinesisSource as FeastKinesis
    from feast.stream_feature_view import StreamFeatureView as FeastStream
    from feast.stream_feature_view import stream_feature_view as deco

    assert FeastAggregation is Aggregation and FeastBatch is BatchFeatureView and FeastStream is StreamFeatureView
    assert FeastJson is JsonFormat and FeastKafka is KafkaSource and FeastKinesis is KinesisSource
    assert deco is stream_feature_view and AvroFormat("{}").schema_json == "{}"
    assert feast.StreamFeatureView is StreamFeatureView and feast.Aggregation is Aggregation
    assert Array(Float64) == Array(Float64)


def test_tutorial_historical_features_are_windowed(make_repo) -> None:
    import pandas as pd

    repo = make_repo({"features.py": TUTORIAL})
    _write_transactions(repo)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    entity_df = pd.DataFrame(
        {
            "user_id": [1001, 1001, 1001, 1002, 1003],
            "event_timestamp": [T0, T0 - timedelta(minutes=1), T0 + timedelta(minutes=30), T0, T0],
        }
    )
    df = store.get_historical_features(
        entity_df=entity_df,
        features=[
            "transaction_streaming_features:transaction_count_1h",
            "transaction_streaming_features:total_amount_1h",
        ],
    ).to_df()
    assert df["transaction_count_1h"].tolist() == [2, 1, 1, 1, 0]
    assert df["total_amount_1h"].tolist()[:4] == [15.5, 10.0, 5.5, 7.0]
    assert pd.isna(df["total_amount_1h"].iloc[4])


MIXED = (
    TUTORIAL
    + """
import pandas as pd
from feast import FeatureView, on_demand_feature_view
from feast.types import Float64, String

profile = FeatureView(
    name="profile", entities=[user], ttl=timedelta(0),
    schema=[Field(name="merchant", dtype=String)], source=transaction_source,
)


@on_demand_feature_view(sources=[streaming_features], schema=[Field(name="mean_amount_1h", dtype=Float64)])
def mean_amount(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["mean_amount_1h"] = inputs["total_amount_1h"] / inputs["transaction_count_1h"]
    return out
"""
)


def test_windowed_plain_and_on_demand_features_in_one_call(make_repo) -> None:
    """One row per entity row (duplicates kept, caller's order), windowed + plain + on-demand side by side."""
    import pandas as pd

    repo = make_repo({"features.py": MIXED})
    _write_transactions(repo)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    entity_df = pd.DataFrame(
        {"user_id": [1002, 1001, 1001, 1001], "event_timestamp": [T0, T0, T0, T0 - timedelta(minutes=10)]}
    )
    df = store.get_historical_features(
        entity_df=entity_df,
        features=[
            "transaction_streaming_features:transaction_count_1h",
            "transaction_streaming_features:total_amount_1h",
            "profile:merchant",
            "mean_amount:mean_amount_1h",
        ],
        full_feature_names=True,
    ).to_df()
    assert df["user_id"].tolist() == [1002, 1001, 1001, 1001]
    assert df["transaction_streaming_features__transaction_count_1h"].tolist() == [1, 2, 2, 1]
    assert df["profile__merchant"].tolist() == ["a", "b", "b", "a"]
    assert df["mean_amount__mean_amount_1h"].round(3).tolist() == [7.0, 7.75, 7.75, 10.0]


def test_a_view_timestamp_field_other_than_the_source_is_refused(make_repo) -> None:
    text = TUTORIAL.replace("    source=push_source,", "    source=push_source,\n    timestamp_field='created',")
    repo = make_repo({"features.py": text})
    _write_transactions(repo)
    with pytest.raises(InvalidDefinition, match=r"transaction_streaming_features.*differs from the event time"):
        FeatureStore(repo_path=repo).apply_repo()


def test_a_view_udf_is_refused_at_apply(make_repo) -> None:
    text = """
from datetime import timedelta

from feast import Entity, FileSource, PushSource
from feast.aggregation import Aggregation
from feast.stream_feature_view import stream_feature_view

user = Entity(name="user", join_keys=["user_id"])
src = PushSource(name="p", batch_source=FileSource(path="data/transactions.parquet", timestamp_field="event_timestamp"))


@stream_feature_view(entities=[user], source=src, mode="pandas",
                     aggregations=[Aggregation(column="transaction_amount", function="sum", time_window=timedelta(hours=1))])
def doubled(df):
    df["transaction_amount"] = df["transaction_amount"] * 2
    return df
"""
    repo = make_repo({"features.py": text})
    _write_transactions(repo)
    with pytest.raises(InvalidDefinition, match=r"'doubled'.*does not run feature view udfs"):
        FeatureStore(repo_path=repo).apply_repo()

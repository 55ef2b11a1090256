"""Garbage in, ladle errors out: every public entry point, fed values of any shape, raises only
``LadleError`` subclasses (each naming what was wrong) — never a raw TypeError, ArrowInvalid,
OverflowError or KeyError from deep inside.

The rule checked: for every input drawn, the call either succeeds or raises a ``LadleError``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from ladle.config import parse_repo_config
from ladle.errors import LadleError
from ladle.registry.state import RegistryState
from ladle.store import FeatureStore

NOW = datetime.now(UTC).replace(microsecond=0)

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, PushSource
from ladle.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
src = FileSource(name="src", path="data/stats.parquet", timestamp_field="ts")
push_src = PushSource(name="push_src", batch_source=src)
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(days=1),
    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64), Field(name="tag", dtype=String)],
    source=push_src,
)
"""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.dates(),
    st.just(float("nan")),
    st.sampled_from(["stats:rate", "stats:", ":rate", "stats:nope", "nope:rate", "driver_id", "ts", "rate"]),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["driver_id", "ts", "rate", "trips", "tag", "x", ""]), inner, max_size=4),
    ),
    max_leaves=12,
)
columns = st.sampled_from(["driver_id", "ts", "rate", "trips", "tag", "other"])


@st.composite
def frames(draw: st.DrawFn) -> Any:
    """A pandas DataFrame, a dict of lists or an Arrow table with any columns and values."""
    n = draw(st.integers(min_value=0, max_value=3))
    names = draw(st.lists(columns, unique=True, max_size=5))
    data = {c: [draw(scalars) for _ in range(n)] for c in names}
    kind = draw(st.sampled_from(["pandas", "dict", "arrow"]))
    if kind == "dict":
        return data
    try:
        df = pd.DataFrame(data)
    except Exception:
        return data
    if kind == "arrow":
        try:
            return pa.Table.from_pandas(df, preserve_index=False)
        except Exception:
            return df
    return df


def only_ladle_errors(call: Any) -> None:
    try:
        result = call()
        if hasattr(result, "to_df"):
            result.to_df()
    except LadleError:
        pass


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    repo: Path = tmp_path_factory.mktemp("garbage")
    (repo / "data").mkdir()
    (repo / "feature_store.yaml").write_text(
        "project: garbage\nregistry: data/registry.db\nprovider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: duckdb\n"
    )
    (repo / "defs.py").write_text(REPO)
    rows = pa.table(
        {
            "driver_id": pa.array([1, 2, 3], pa.int64()),
            "rate": [0.5, 1.5, math.nan],
            "trips": [1, 2, None],
            "tag": ["a", "ü", None],
            "ts": pa.array([NOW - timedelta(hours=h) for h in (1, 2, 3)], pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(rows, repo / "data/stats.parquet")
    fs = FeatureStore(repo_path=str(repo))
    fs.apply_repo()
    return fs


SETTINGS = settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(features=garbage, entity_rows=garbage, full=garbage)
def test_get_online_features(store: FeatureStore, features: Any, entity_rows: Any, full: Any) -> None:
    only_ladle_errors(lambda: store.get_online_features(features=features, entity_rows=entity_rows))
    only_ladle_errors(lambda: store.get_online_features(features=["stats:rate"], entity_rows=entity_rows))
    only_ladle_errors(
        lambda: store.get_online_features(
            features=["stats:rate"],
            entity_rows=[{"driver_id": 1}],
            full_feature_names=full,
            request_context=entity_rows,
        )
    )


@SETTINGS
@given(entity_df=st.one_of(frames(), garbage), features=garbage)
def test_get_historical_features(store: FeatureStore, entity_df: Any, features: Any) -> None:
    good = pd.DataFrame({"driver_id": [1], "event_timestamp": [NOW]})
    only_ladle_errors(lambda: store.get_historical_features(entity_df=entity_df, features=["stats:rate"]))
    only_ladle_errors(lambda: store.get_historical_features(entity_df=good, features=features))


@SETTINGS
@given(name=garbage, rows=st.one_of(frames(), garbage), to=garbage)
def test_writes(store: FeatureStore, name: Any, rows: Any, to: Any) -> None:
    only_ladle_errors(lambda: store.write_to_online_store(name, rows))
    only_ladle_errors(lambda: store.write_to_online_store("stats", rows))
    only_ladle_errors(lambda: store.push(name, rows))
    only_ladle_errors(lambda: store.push("push_src", rows, to=to))


@SETTINGS
@given(start=garbage, end=garbage, views=garbage)
def test_materialize(store: FeatureStore, start: Any, end: Any, views: Any) -> None:
    only_ladle_errors(lambda: store.materialize(start, end, feature_views=views))
    only_ladle_errors(lambda: store.materialize_incremental(end, feature_views=views))


@SETTINGS
@given(name=garbage)
def test_lookups(store: FeatureStore, name: Any) -> None:
    for get in (
        store.get_feature_view,
        store.get_entity,
        store.get_feature_service,
        store.get_data_source,
        store.get_on_demand_feature_view,
    ):
        only_ladle_errors(lambda get=get: get(name))
    only_ladle_errors(lambda: store.list_feature_views(tags=name))


@settings(max_examples=examples(150))
@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "project",
                "registry",
                "provider",
                "online_store",
                "offline_store",
                "batch_engine",
                "feature_server",
                "entity_key_serialization_version",
                "bogus",
            ]
        ),
        garbage,
        max_size=6,
    )
)
def test_config(tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any]) -> None:
    only_ladle_errors(lambda: parse_repo_config(data, Path(".")))
    only_ladle_errors(lambda: parse_repo_config({"project": "p", "online_store": data}, Path(".")))
    only_ladle_errors(lambda: parse_repo_config({"project": "p", "offline_store": data}, Path(".")))


@settings(max_examples=examples(150))
@given(doc=garbage, raw=st.binary(max_size=40))
def test_registry_document(store: FeatureStore, doc: Any, raw: bytes) -> None:
    good = json.loads(store.registry.state().to_json())

    def damaged() -> None:
        state = RegistryState.from_dict(
            {
                **good,
                "objects": {"feature_views": {"stats": {**good["objects"]["feature_views"]["stats"], "spec": doc}}},
            }
        )
        state.feature_views()

    only_ladle_errors(lambda: RegistryState.from_json(raw))
    only_ladle_errors(lambda: RegistryState.from_dict(doc))
    only_ladle_errors(damaged)


def test_rules_hold_for_known_offenders(store: FeatureStore) -> None:
    """The inputs a probe found escaping as raw exceptions, pinned."""
    cases = [
        lambda: store.get_online_features(features=["stats:rate"], entity_rows={"driver_id": 1}),
        lambda: store.write_to_online_store(
            "stats",
            pd.DataFrame(
                {"driver_id": [1, "x"], "rate": [0.1, "a"], "trips": [1, 2], "tag": ["a", "b"], "ts": [NOW, NOW]}
            ),
        ),
        lambda: store.write_to_online_store(
            "stats", pd.DataFrame({"driver_id": [2**70], "rate": [0.1], "trips": [1], "tag": ["a"], "ts": [NOW]})
        ),
        lambda: store.get_online_features(features=["stats:rate"], entity_rows=[{"driver_id": 2**70}]),
    ]
    for case in cases:
        with pytest.raises(LadleError):
            case()

"""Apply runs every on-demand function once on a one-row sample built from its declared inputs, so a function
that returns nothing, misses a declared feature or raises fails apply, naming the view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ladle import Entity, FeatureView, Field, FileSource, RequestSource, on_demand_feature_view
from ladle.errors import InvalidDefinition
from ladle.store import FeatureStore
from ladle.types import Array, Float64, String, UnixTimestamp

CALLS: list[str] = []

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats",
    entities=[driver],
    ttl=timedelta(days=1),  # schema inferred at apply
    source=FileSource(name="stats_src", path="data/stats.parquet", timestamp_field="ts"),
)
request = RequestSource(
    name="req",
    schema=[
        Field(name="amount", dtype=Float64),
        Field(name="city", dtype=String),
        Field(name="tags", dtype=Array(String)),
        Field(name="when", dtype=UnixTimestamp),
    ],
)


@pytest.fixture
def store(make_repo) -> FeatureStore:
    repo = make_repo({})
    pq.write_table(
        pa.table(
            {
                "driver_id": pa.array([1], pa.int64()),
                "ts": pa.array([0], pa.timestamp("us", tz="UTC")),
                "rate": [0.5],
                "trips": pa.array([3], pa.int64()),
                "name": ["x"],
            }
        ),
        repo / "data/stats.parquet",
    )
    return FeatureStore(repo_path=repo)


def odfv(
    fn: Callable[..., Any], mode: str = "pandas", schema: list[Field] | None = None, sources: list[Any] | None = None
) -> Any:
    return on_demand_feature_view(
        sources=sources or [stats, request],
        mode=mode,
        schema=schema or [Field(name="score", dtype=Float64), Field(name="label", dtype=String)],
    )(fn)


def rejected(store: FeatureStore, view: Any, pattern: str) -> None:
    with pytest.raises(InvalidDefinition, match=pattern):
        store.apply([driver, stats, view])
    assert store.registry.version == 0


def test_value_dependent_functions_in_both_modes_pass(store: FeatureStore) -> None:
    import math

    def scored(df: pd.DataFrame) -> pd.DataFrame:
        CALLS.append("pandas")
        return pd.DataFrame(
            {
                "score": df["rate"] * df["amount"].map(math.log1p) / df["trips"] + df["driver_id"],
                "label": df["city"].str.upper()
                + df["name"]
                + df["tags"].map(lambda t: t[0])
                + df["when"].dt.strftime("%Y"),
            }
        )

    def scored_py(inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {
            "score": [r / t for r, t in zip(inputs["rate"], inputs["trips"], strict=True)],
            "label": [c.upper() + str(d) for c, d in zip(inputs["city"], inputs["driver_id"], strict=True)],
        }

    CALLS.clear()
    store.apply([driver, stats, odfv(scored), odfv(scored_py, mode="python")])
    assert CALLS == ["pandas"]  # one dry run per apply, nothing else runs the function
    assert {v.name for v in store.list_on_demand_feature_views()} == {"scored", "scored_py"}


def test_a_function_returning_nothing_fails_apply(store: FeatureStore) -> None:
    def nothing(df: pd.DataFrame) -> None:
        df["score"] = 1.0

    rejected(store, odfv(nothing), r"OnDemandFeatureView 'nothing'.*must return a pandas DataFrame, got NoneType")

    def nothing_py(inputs: dict[str, list[Any]]) -> None:
        return None

    rejected(store, odfv(nothing_py, mode="python"), r"'nothing_py'.*must return a dict of lists, got NoneType")


def test_missing_declared_features_are_listed(store: FeatureStore) -> None:
    def wrong_columns(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"scor": df["rate"]})

    rejected(
        store,
        odfv(wrong_columns),
        r"OnDemandFeatureView 'wrong_columns'.*does not return declared feature\(s\) 'score', 'label'.*returns: scor",
    )

    def half(inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {"score": inputs["rate"]}

    rejected(store, odfv(half, mode="python"), r"'half'.*does not return declared feature\(s\) 'label'")


def test_an_exception_or_a_wrong_type_fails_apply(store: FeatureStore) -> None:
    def broken(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score": df["no_such_input"], "label": df["city"]})

    rejected(store, odfv(broken), r"OnDemandFeatureView 'broken'.*raised KeyError: 'no_such_input'")

    def wrong_type(inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {"score": ["high"], "label": ["x"]}

    rejected(store, odfv(wrong_type, mode="python"), r"'wrong_type'.*score")

    def two_rows(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score": [1.0, 2.0], "label": ["a", "b"]})

    rejected(store, odfv(two_rows), r"'two_rows'.*returned 2 values for 'score', expected 1")


def test_a_projected_source_gives_only_its_features(store: FeatureStore) -> None:
    def uses_unprojected(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score": df["trips"] * 1.0, "label": df["city"]})

    rejected(
        store,
        odfv(uses_unprojected, sources=[stats[["rate"]], request]),
        r"'uses_unprojected'.*raised KeyError: 'trips'",
    )

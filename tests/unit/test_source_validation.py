"""Apply with sources whose data does not exist yet, and ``--skip-source-validation``."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ladle.errors import BackendFailure, InvalidDefinition, LadleWarning
from ladle.store import FeatureStore
from ladle.types import Int64, String

REPO = """
from datetime import timedelta

from ladle import Entity, FeatureView, Field, FileSource, ValueType
from ladle.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
rider = Entity(name="rider", join_keys=["rider_id"], value_type=ValueType.STRING)
declared = FeatureView(
    name="declared", entities=[driver, rider], ttl=timedelta(days=1),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="rate", dtype=Float64)],
    source=FileSource(name="future_src", path="data/not_yet.parquet", timestamp_field="ts"),
)
"""

INFERRED = """
inferred = FeatureView(name="inferred", entities=[driver], source=FileSource(name="later_src", path="data/later.parquet",
                                                                            timestamp_field="ts"))
"""


def test_a_fully_declared_view_without_data_is_registered_with_a_warning(make_repo) -> None:
    store = FeatureStore(repo_path=make_repo({"features.py": REPO}))
    with pytest.warns(LadleWarning, match=r"feature view 'declared'.*no data yet.*not_yet.parquet.*registered from"):
        store.apply_repo()
    view = store.get_feature_view("declared")
    assert [(f.name, f.dtype) for f in view.entity_columns] == [("rider_id", String), ("driver_id", Int64)]
    assert [f.name for f in view.features] == ["rate"]


def test_skip_source_validation_reads_no_source_of_a_declared_view(make_repo) -> None:
    repo: Path = make_repo({"features.py": REPO})
    (repo / "data/not_yet.parquet").write_text("not parquet")  # reading it would fail
    store = FeatureStore(repo_path=repo)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {c.name for c in store.plan_repo(skip_source_validation=True).added} >= {"declared"}
        store.apply_repo(skip_source_validation=True)
    assert store.get_feature_view("declared").join_keys == ["driver_id", "rider_id"]
    with pytest.raises(BackendFailure, match="future_src"):
        store.apply_repo()  # without the flag it is read: a file that exists but is not parquet is an error


def test_a_view_that_needs_its_source_still_fails_without_data(make_repo) -> None:
    store = FeatureStore(repo_path=make_repo({"features.py": REPO + INFERRED}))
    for skip in (False, True):
        with pytest.raises(BackendFailure, match="later_src"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store.apply_repo(skip_source_validation=skip)
    assert store.registry.version == 0
    with pytest.raises(BackendFailure, match="future_src"):
        store.validate_repo()  # `ladle validate` is the strict check: missing data is an error there


def test_skip_source_validation_keeps_checking_the_definitions(make_repo) -> None:
    bad = REPO.replace("value_type=ValueType.STRING", "value_type=ValueType.INT64").replace(
        'Field(name="driver_id", dtype=Int64)',
        'Field(name="driver_id", dtype=Int64), Field(name="rider_id", dtype=String)',
    )
    store = FeatureStore(repo_path=make_repo({"features.py": bad}))
    with pytest.raises(InvalidDefinition, match="entity 'rider' has value_type INT64"):
        store.apply_repo(skip_source_validation=True)

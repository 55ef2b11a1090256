"""The Feast drop-in list (issue 9): each item loaded from a repo written with ``from feast import ...``
and Feast's module paths, then used the way Feast users use it."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from feast_repo import (
    BASE,
    DISABLED,
    DTYPES_YAML,
    ONLINE_PUSH,
    T0,
    TRANSFORMATIONS,
    WAREHOUSES,
    write_stats,
)
from ladle.cli.commands import cli
from ladle.definitions import BigQuerySource, PandasTransformation, PythonTransformation
from ladle.errors import InvalidDefinition, InvalidRequest, LadleError, MissingExtra, UnsupportedSource
from ladle.store import FeatureStore


def _store(make_repo, *files: tuple[str, str], yaml: str | None = None, **kwargs) -> FeatureStore:
    repo = make_repo({"base.py": BASE, **dict(files)}, **({"yaml": yaml} if yaml else {}))
    write_stats(repo)
    store = FeatureStore(repo_path=repo, **kwargs)
    store.apply_repo()
    return store


# --- feast.errors ---------------------------------------------------------------------------------------


def test_feast_error_names_catch_ladle_errors(make_repo) -> None:
    store = _store(make_repo, ("push.py", ONLINE_PUSH), ("odfv.py", TRANSFORMATIONS), ("disabled.py", DISABLED))
    from feast.errors import (  # the repo load made `feast` ladle's stand-in
        DataSourceObjectNotFoundException,
        EntityNotFoundException,
        FeastError,
        FeastObjectNotFoundException,
        FeatureNameCollisionError,
        FeatureServiceNotFoundException,
        FeatureViewNotFoundException,
        OnDemandFeatureViewNotFoundException,
        PushSourceNotFoundException,
        RequestDataNotFoundInEntityDfException,
        RequestDataNotFoundInEntityRowsException,
    )

    cases = [
        (FeatureViewNotFoundException, lambda: store.get_feature_view("nope")),
        (FeatureViewNotFoundException, lambda: store.get_online_features(["nope:x"], [{"driver_id": 1}])),
        (EntityNotFoundException, lambda: store.get_entity("nope")),
        (FeatureServiceNotFoundException, lambda: store.get_feature_service("nope")),
        (OnDemandFeatureViewNotFoundException, lambda: store.get_on_demand_feature_view("nope")),
        (DataSourceObjectNotFoundException, lambda: store.get_data_source("nope")),
        (PushSourceNotFoundException, lambda: store.push("nope", pd.DataFrame({"driver_id": [1]}))),
        (
            RequestDataNotFoundInEntityRowsException,
            lambda: store.get_online_features(["plus_bonus:rate_plus_bonus"], [{"driver_id": 1}]),
        ),
        (
            RequestDataNotFoundInEntityDfException,
            lambda: store.get_historical_features(
                pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}), ["plus_bonus:rate_plus_bonus"]
            ),
        ),
        (
            FeatureNameCollisionError,
            lambda: store.get_online_features(["stats:conv_rate", "paused:conv_rate"], [{"driver_id": 1}]),
        ),
    ]
    for feast_class, call in cases:
        with pytest.raises(feast_class) as caught:
            call()
        assert isinstance(caught.value, FeastError) and isinstance(caught.value, LadleError)
    with pytest.raises(FeastObjectNotFoundException, match="unknown feature view 'nope' of project"):
        store.get_feature_view("nope")
    # the HTTP server and the CLI still report the family name
    with pytest.raises(FeatureViewNotFoundException) as caught:
        store.get_feature_view("nope")
    assert caught.value.type_name == "NotFound"


def test_feast_error_names_at_apply_and_config(make_repo) -> None:
    from ladle.repo.feast_compat import install_feast_aliases

    install_feast_aliases()
    from feast.errors import ConflictingFeatureViewNames, FeastConfigError, SpecifiedFeaturesNotPresentError

    wrong_feature = BASE.replace('Field(name="trips", dtype=Int64)', 'Field(name="rides", dtype=Int64)')
    repo = make_repo({"base.py": wrong_feature}, name="wrong_feature")
    write_stats(repo)
    with pytest.raises(SpecifiedFeaturesNotPresentError, match="feature 'rides' is not a column of source"):
        FeatureStore(repo_path=repo).apply_repo()

    same_name = TRANSFORMATIONS.replace('name="doubled"', 'name="stats"')
    repo = make_repo({"base.py": BASE, "odfv.py": same_name}, name="same_name")
    write_stats(repo)
    with pytest.raises(ConflictingFeatureViewNames, match="an on-demand feature view has the same name"):
        FeatureStore(repo_path=repo).apply_repo()

    repo = make_repo({"base.py": BASE}, yaml="project: bad-name!\n", name="bad_yaml")
    with pytest.raises(FeastConfigError):
        FeatureStore(repo_path=repo)


# --- sources ladle cannot read ----------------------------------------------------------------------------


def test_warehouse_sources_apply_round_trip_and_list(make_repo) -> None:
    store = _store(make_repo, ("warehouses.py", WAREHOUSES))
    repo_objects = {s.name: s for s in _repo_sources(store.repo_path)}
    fresh = FeatureStore(repo_path=store.repo_path)  # reads everything back from the registry file
    registered = {s.name: s for s in fresh.list_data_sources()}
    names = ["bq_trips", "TRIPS", "trips", "ride_events", "trino_trips", "mssql_trips", "oracle_trips"]
    for name in names:
        assert registered[name].to_dict() == repo_objects[name].to_dict()
    bq = registered["bq_trips"]
    assert (type(bq).__name__, bq.table, bq.query, bq.timestamp_field, bq.created_timestamp_column) == (
        "BigQuerySource",
        "my-project:rides.trips",
        "",
        "ts",
        "created",
    )
    assert (bq.field_mapping, bq.tags, bq.owner) == ({"dist": "distance"}, {"team": "rides"}, "rides@example.com")
    snow = registered["TRIPS"]
    assert (snow.database, snow.schema, snow.warehouse, snow.table) == ("RIDES", "PUBLIC", "WH", "TRIPS")
    assert (registered["trips"].source_type, registered["trips"].schema) == ("redshift", "public")
    assert (registered["ride_events"].database, registered["ride_events"].data_source) == ("rides", "AwsDataCatalog")
    assert registered["trino_trips"].query == "SELECT * FROM hive.rides.trips"
    assert registered["mssql_trips"].table_ref == "dbo.trips"
    assert fresh.get_feature_view("trips_bq").batch_source.name == "bq_trips"

    listed = CliRunner().invoke(cli, ["-c", str(store.repo_path), "data-sources", "list"])
    assert listed.exit_code == 0, listed.output
    assert "bq_trips" in listed.output and "bigquery" in listed.output and "oracle_trips" in listed.output
    described = CliRunner().invoke(cli, ["-c", str(store.repo_path), "data-sources", "describe", "bq_trips"])
    assert described.exit_code == 0, described.output
    assert "my-project:rides.trips" in described.output


def _repo_sources(repo: Path) -> list:
    from ladle.repo.loader import load_repo

    return load_repo(repo).data_sources


def test_retrieving_from_a_warehouse_source_names_it_and_the_stores_that_read(make_repo) -> None:
    store = _store(make_repo, ("warehouses.py", WAREHOUSES))
    from feast.errors import FeastOfflineStoreUnsupportedDataSource

    expected = (
        "BigQuerySource 'bq_trips': needs offline_store type bigquery, which ladle does not provide; "
        "ladle's offline stores read FileSource (file/duckdb), PostgreSQLSource (postgres), "
        "SparkSource and FileSource (spark)"
    )
    entity_df = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]})
    calls = [
        lambda: store.get_historical_features(entity_df, ["trips_bq:distance"]).to_df(),
        lambda: store.materialize(T0 - timedelta(days=1), T0, ["trips_bq"]),
        lambda: store.materialize(T0 - timedelta(days=1), T0),
    ]
    for call in calls:
        with pytest.raises(FeastOfflineStoreUnsupportedDataSource) as caught:
            call()
        assert str(caught.value).startswith(expected)
        assert "\n" not in str(caught.value)
    # the views over readable sources still work beside it
    assert store.get_historical_features(entity_df, ["stats:trips"]).to_df()["trips"].tolist() == [7]


def test_a_view_over_a_warehouse_source_must_declare_its_features(make_repo) -> None:
    undeclared = WAREHOUSES.replace('schema=[Field(name="distance", dtype=Float64)],', "")
    repo = make_repo({"base.py": BASE, "warehouses.py": undeclared})
    write_stats(repo)
    with pytest.raises(InvalidDefinition, match="ladle cannot read BigQuerySource 'bq_trips' to infer them"):
        FeatureStore(repo_path=repo).apply_repo()


def test_warehouse_source_arguments_are_checked() -> None:
    with pytest.raises(InvalidDefinition, match=r"unknown argument\(s\) \['tabel'\]"):
        BigQuerySource(tabel="x")
    with pytest.raises(InvalidDefinition, match="give table= or query="):
        BigQuerySource(name="x")
    with pytest.raises(InvalidDefinition, match="give it a name="):
        BigQuerySource(query="SELECT 1")
    assert isinstance(BigQuerySource(table="t").not_readable(), UnsupportedSource)


# --- transformations, enabled, online-only push, writes --------------------------------------------------


def test_on_demand_views_built_from_transformation_objects(make_repo) -> None:
    store = _store(make_repo, ("odfv.py", TRANSFORMATIONS))
    store.materialize(T0 - timedelta(days=1), T0, ["stats"])
    refs = ["plus_bonus:rate_plus_bonus", "doubled:trips_doubled"]
    online = store.get_online_features(refs, [{"driver_id": 1, "bonus": 1.0}, {"driver_id": 2, "bonus": 2.0}])
    assert online.to_dict() == {"driver_id": [1, 2], "rate_plus_bonus": [1.5, 2.25], "trips_doubled": [14, None]}
    entity_df = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0, T0], "bonus": [1.0, 2.0]})
    df = store.get_historical_features(entity_df, refs).to_df()
    assert df["rate_plus_bonus"].tolist() == [1.5, 2.25]
    assert df["trips_doubled"].tolist()[0] == 14 and pd.isna(df["trips_doubled"].tolist()[1])
    fresh = FeatureStore(repo_path=store.repo_path)
    assert isinstance(fresh.get_on_demand_feature_view("plus_bonus").feature_transformation, PandasTransformation)
    assert isinstance(fresh.get_on_demand_feature_view("doubled").feature_transformation, PythonTransformation)
    assert fresh.get_on_demand_feature_view("doubled").mode == "python"


def test_transformation_mode_must_agree(make_repo) -> None:
    contradicting = TRANSFORMATIONS.replace('mode="python"', 'mode="pandas"')
    repo = make_repo({"base.py": BASE, "odfv.py": contradicting})
    write_stats(repo)
    with pytest.raises(LadleError, match=r"mode='pandas' contradicts its PythonTransformation"):
        FeatureStore(repo_path=repo).apply_repo()


def test_disabled_view_is_registered_but_serves_nothing(make_repo) -> None:
    store = _store(make_repo, ("disabled.py", DISABLED), ("push.py", ONLINE_PUSH))
    fresh = FeatureStore(repo_path=store.repo_path)
    assert fresh.get_feature_view("paused").enabled is False
    assert fresh.get_feature_view("stats").enabled is True
    assert "enabled" not in fresh.get_feature_view("stats").to_dict()  # older registries keep their hashes
    results = fresh.materialize(T0 - timedelta(days=1), T0)  # skips `paused` and the online-only `clicks`
    assert sorted(r.view for r in results) == ["stats"]
    with pytest.raises(InvalidRequest, match=r"\['paused'\] are disabled \(enabled=False\)"):
        fresh.get_online_features(["paused:conv_rate"], [{"driver_id": 1}])
    with pytest.raises(InvalidRequest, match="disabled"):
        fresh.get_historical_features(pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}), ["paused:conv_rate"])
    with pytest.raises(InvalidRequest, match="enable it to materialize it"):
        fresh.materialize(T0 - timedelta(days=1), T0, ["paused"])


def test_push_source_without_batch_source_is_online_only(make_repo) -> None:
    store = _store(make_repo, ("push.py", ONLINE_PUSH))
    assert FeatureStore(repo_path=store.repo_path).get_data_source("clicks_push").batch_source is None
    store.push("clicks_push", pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0, T0], "clicks": [3, 4]}))
    assert store.get_online_features(["clicks:clicks"], [{"driver_id": 2}]).to_dict()["clicks"] == [4]
    with pytest.raises(
        InvalidRequest, match="PushSource 'clicks_push' has no batch_source, so its rows are kept online"
    ):
        store.push(
            "clicks_push", pd.DataFrame({"driver_id": [1], "event_timestamp": [T0], "clicks": [5]}), to="offline"
        )
    with pytest.raises(InvalidRequest, match="has no batch_source"):
        store.get_historical_features(
            pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}), ["clicks:clicks"]
        ).to_df()
    listed = CliRunner().invoke(cli, ["-c", str(store.repo_path), "data-sources", "list"])
    assert "online only" in listed.output


def test_write_to_online_store_takes_inputs_as_a_dict(make_repo) -> None:
    store = _store(make_repo)
    written = store.write_to_online_store(
        "stats",
        inputs={
            "driver_id": [9],
            "event_timestamp": [T0],
            "conv_rate": [0.75],
            "trips": [3],
            "tags": [["x"]],
        },
    )
    assert written == 1
    assert store.get_online_features(["stats:conv_rate", "stats:tags"], [{"driver_id": 9}]).to_dict() == {
        "driver_id": [9],
        "conv_rate": [0.75],
        "tags": [["x"]],
    }
    with pytest.raises(InvalidRequest, match="exactly one of them"):
        store.write_to_online_store("stats", pd.DataFrame({"driver_id": [9]}), inputs={"driver_id": [9]})


def test_async_reads_and_writes(make_repo) -> None:
    store = _store(make_repo, ("push.py", ONLINE_PUSH))

    async def scenario() -> list[dict]:
        await store.write_to_online_store_async(
            "stats",
            inputs={
                "driver_id": [1, 2],
                "event_timestamp": [T0, T0],
                "conv_rate": [0.5, 0.25],
                "trips": [7, 8],
                "tags": [["a"], ["b"]],
            },
        )
        await store.push_async("clicks_push", pd.DataFrame({"driver_id": [1], "event_timestamp": [T0], "clicks": [6]}))
        reads = [
            store.get_online_features_async(["stats:trips", "clicks:clicks"], [{"driver_id": d}]) for d in (1, 2, 3)
        ]
        return [r.to_dict() for r in await asyncio.gather(*reads)]

    assert asyncio.run(scenario()) == [
        {"driver_id": [1], "trips": [7], "clicks": [6]},
        {"driver_id": [2], "trips": [8], "clicks": [None]},
        {"driver_id": [3], "trips": [None], "clicks": [None]},
    ]


# --- OnlineResponse.to_tensor and feast_compatible_dtypes --------------------------------------------------


def test_to_tensor(make_repo) -> None:
    import torch  # in the dev extra, so CI tests the real path

    store = _store(make_repo)
    store.materialize(T0 - timedelta(days=1), T0, ["stats"])
    response = store.get_online_features(
        ["stats:conv_rate", "stats:trips", "stats:tags"], [{"driver_id": 1}, {"driver_id": 2}]
    )
    tensors = response.to_tensor()
    assert torch.equal(tensors["driver_id"], torch.tensor([1, 2]))
    assert tensors["conv_rate"].tolist() == [0.5, 0.25]
    trips = tensors["trips"].tolist()
    assert trips[0] == 7 and np.isnan(trips[1])  # the missing value is NaN, as in Feast
    assert tensors["tags"] == [["a", "b"], ["c"]]  # not numeric: a list
    assert response.to_tensor(default_value=-1)["trips"].tolist() == [7, -1]
    with pytest.raises(InvalidRequest, match="only kind='torch'"):
        response.to_tensor(kind="tensorflow")


def test_to_tensor_without_torch_names_the_extra(make_repo, monkeypatch) -> None:
    store = _store(make_repo)
    response = store.get_online_features(["stats:trips"], [{"driver_id": 1}])
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` sees where it is not installed
    with pytest.raises(MissingExtra, match=r'pip install "ladle\[torch\]"'):
        response.to_tensor()


def test_feast_compatible_dtypes_from_yaml(make_repo) -> None:
    store = _store(make_repo, yaml=DTYPES_YAML)
    store.materialize(T0 - timedelta(days=1), T0, ["stats"])
    refs = ["stats:conv_rate", "stats:trips", "stats:tags"]
    online = store.get_online_features(refs, [{"driver_id": 1}, {"driver_id": 2}]).to_df()
    # what Feast's OnlineResponse.to_df gives: a frame built from Python values
    assert {c: str(t) for c, t in online.dtypes.items()} == {
        "driver_id": "int64",
        "conv_rate": "float64",
        "trips": "float64",
        "tags": "object",
    }
    assert online["tags"].tolist() == [["a", "b"], ["c"]] and type(online["tags"][0]) is list
    assert online["trips"][0] == 7 and np.isnan(online["trips"][1])
    entity_df = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0, T0]})
    training = store.get_historical_features(entity_df, refs).to_df()
    assert str(training["conv_rate"].dtype) == "float64" and training["conv_rate"].tolist() == [0.5, 0.25]
    assert str(training["trips"].dtype) == "float64" and np.isnan(training["trips"][1])


def test_feast_compatible_dtypes_argument_and_default(make_repo) -> None:
    store = _store(make_repo, yaml=DTYPES_YAML, feast_compatible_dtypes=False)  # the argument wins over the yaml
    store.materialize(T0 - timedelta(days=1), T0, ["stats"])
    refs = ["stats:conv_rate", "stats:trips", "stats:tags"]
    response = store.get_online_features(refs, [{"driver_id": 1}, {"driver_id": 2}])
    declared = response.to_df()
    assert (str(declared["conv_rate"].dtype), str(declared["trips"].dtype)) == ("float32", "Int64")
    assert isinstance(declared["tags"][0], np.ndarray)
    assert str(response.to_df(feast_compatible_dtypes=True)["conv_rate"].dtype) == "float64"  # per call
    job = store.get_historical_features(pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0, T0]}), refs)
    assert (str(job.to_df()["conv_rate"].dtype), str(job.to_df()["trips"].dtype)) == ("float32", "Int64")
    assert str(job.to_df(feast_compatible_dtypes=True)["trips"].dtype) == "float64"

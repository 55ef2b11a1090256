"""Definitions reject bad arguments with messages naming the object and the fix, and round-trip through dicts."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from ladle.definitions import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    Project,
    PushSource,
    RequestSource,
    on_demand_feature_view,
    source_from_dict,
)
from ladle.errors import InvalidDefinition
from ladle.types import Array, Float32, Float64, Int64, String, ValueType

#: read by the on-demand function below, so it must travel with the function's source
SCALE = 2.5

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64, description="a driver")
stats_source = FileSource(
    name="driver_stats_source",
    path="data/driver_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    field_mapping={"rate": "conv_rate"},
)
stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="conv_rate", dtype=Float32),
        Field(name="trips", dtype=Int64, description="trips today"),
        Field(name="tags", dtype=Array(String)),
    ],
    source=stats_source,
    tags={"team": "drivers"},
)
request = RequestSource(name="vals", schema=[Field(name="bonus", dtype=Float64)])


@on_demand_feature_view(sources=[stats, request], schema=[Field(name="scaled_rate", dtype=Float64)])
def scaled(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["scaled_rate"] = inputs["conv_rate"] * SCALE + inputs["bonus"]
    return out


def message(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value)


# --- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "Entity: name must be a non-empty string, got ''"),
        (None, "Entity: name must be a non-empty string, got None"),
        (
            "1driver",
            "Entity '1driver': name may only contain letters, digits, '_', '-' and '.', and must not start with a digit",
        ),
        ("driver id", "Entity 'driver id': name may only contain letters"),
    ],
)
def test_bad_names_are_rejected(name: object, expected: str) -> None:
    with pytest.raises(InvalidDefinition) as exc:
        Entity(name=name, join_keys=["driver_id"])  # type: ignore[arg-type]
    assert message(exc).startswith(expected)


def test_bad_view_name() -> None:
    with pytest.raises(InvalidDefinition, match=r"^FeatureView 'my view': name may only contain"):
        FeatureView(name="my view", entities=[driver], schema=[], source=stats_source)


def test_negative_ttl() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureView(name="v", entities=[driver], ttl=timedelta(hours=-1), schema=[], source=stats_source)
    assert message(exc) == "FeatureView 'v': ttl must not be negative, got -1 day, 23:00:00"


def test_ttl_of_the_wrong_type() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureView(name="v", entities=[driver], ttl="1d", schema=[], source=stats_source)  # type: ignore[arg-type]
    assert message(exc) == "FeatureView 'v': ttl must be a datetime.timedelta, got '1d' (e.g. ttl=timedelta(days=1))"


def test_schema_entries_must_be_fields() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureView(name="v", entities=[driver], schema=["conv_rate"], source=stats_source)  # type: ignore[list-item]
    assert message(exc) == "FeatureView 'v': schema entries must be Field objects, got 'conv_rate'"


def test_duplicate_fields() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureView(
            name="v",
            entities=[driver],
            source=stats_source,
            schema=[Field(name="a", dtype=Int64), Field(name="a", dtype=Float32)],
        )
    assert message(exc) == "FeatureView 'v': field 'a' is declared twice in the schema"


def test_field_with_a_non_type() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        Field(name="a", dtype="float")
    assert message(exc).startswith("Field 'a': 'float' is not a feature type")


def test_projection_of_an_unknown_feature() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        stats[["conv_rate", "nope"]]
    assert message(exc) == (
        "FeatureView 'driver_stats': cannot project unknown feature(s) ['nope']; "
        "features: ['conv_rate', 'trips', 'tags']"
    )


def test_feature_service_listing_a_view_twice() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureService(name="svc", features=[stats[["conv_rate"]], stats[["trips"]]])
    assert message(exc) == (
        "FeatureService 'svc': view 'driver_stats' is listed twice "
        "(use .with_name('...') to include the same view under two names)"
    )
    # an alias makes it a different use of the view
    svc = FeatureService(name="svc", features=[stats[["conv_rate"]], stats.with_name("other")[["trips"]]])
    assert [p.name_to_use for p in svc.projections] == ["driver_stats", "other"]


def test_feature_service_needs_views() -> None:
    with pytest.raises(InvalidDefinition, match=r"^FeatureService 'svc': features must list at least one feature view"):
        FeatureService(name="svc", features=[])
    with pytest.raises(InvalidDefinition, match=r"features must be feature views"):
        FeatureService(name="svc", features=["driver_stats:conv_rate"])  # type: ignore[list-item]


def test_on_demand_with_a_bad_mode() -> None:
    with pytest.raises(InvalidDefinition) as exc:

        @on_demand_feature_view(sources=[request], schema=[Field(name="x", dtype=Float64)], mode="spark")
        def doubled(inputs: pd.DataFrame) -> pd.DataFrame:
            return inputs * 2

    assert message(exc) == "OnDemandFeatureView 'doubled': mode must be one of ('pandas', 'python'), got 'spark'"


def test_feature_view_source_must_not_be_a_request_source() -> None:
    with pytest.raises(InvalidDefinition) as exc:
        FeatureView(name="v", entities=[driver], schema=[], source=request)
    assert "request data belongs in an on_demand_feature_view" in message(exc)


def test_push_source_needs_a_batch_source() -> None:
    with pytest.raises(InvalidDefinition, match=r"^PushSource 'p': batch_source must be a batch data source"):
        PushSource(name="p", batch_source=request)


# --- round trips -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "obj",
    [
        driver,
        Entity(name="pair", join_keys=["a", "b"], tags={"k": "v"}, owner="me@example.com"),
        stats_source,
        PushSource(name="push", batch_source=stats_source),
        request,
        Project(name="demo", description="d", tags={"x": "y"}),
    ],
    ids=lambda o: type(o).__name__,
)
def test_simple_objects_round_trip(obj: object) -> None:
    data = obj.to_dict()  # type: ignore[attr-defined]
    rebuilt = source_from_dict(data) if data["kind"] == "data_source" else type(obj).from_dict(data)  # type: ignore[attr-defined]
    assert rebuilt == obj
    assert rebuilt.to_dict() == data
    assert type(rebuilt) is type(obj)


def test_field_round_trip() -> None:
    f = Field(name="tags", dtype=Array(String), description="d", tags={"pii": "no"})
    assert Field.from_dict(f.to_dict()) == f


def test_feature_view_round_trip() -> None:
    data = stats.to_dict()
    rebuilt = FeatureView.from_dict(data, {"driver": driver})
    assert rebuilt.to_dict() == data
    assert rebuilt.join_keys == ["driver_id"]
    assert [f.name for f in rebuilt.features] == ["conv_rate", "trips", "tags"]
    assert rebuilt.ttl == timedelta(days=1)
    assert rebuilt.source.field_mapping == {"rate": "conv_rate"}


def test_feature_service_round_trip() -> None:
    svc = FeatureService(name="svc", features=[stats[["conv_rate"]], scaled], description="model v1")
    rebuilt = FeatureService.from_dict(svc.to_dict())
    assert rebuilt.to_dict() == svc.to_dict()
    assert rebuilt.on_demand_names == {"scaled"}


def test_on_demand_view_round_trip_rebuilds_a_working_function() -> None:
    """The stored function carries its source, the modules it uses (``pd``) and the constants it reads."""
    data = scaled.to_dict()
    assert data["udf_env"] == {"modules": {"pd": "pandas"}, "constants": {"SCALE": 2.5}}
    assert data["udf_source"].startswith("def scaled(")
    rebuilt = OnDemandFeatureView.from_dict(data, {"driver_stats": stats})
    assert rebuilt.to_dict() == data
    assert rebuilt.udf is not scaled.udf
    inputs = pd.DataFrame({"conv_rate": [1.0, 2.0], "bonus": [0.5, 0.0]})
    out = rebuilt(inputs)  # compiled from its source on this first call
    assert out["scaled_rate"].tolist() == [3.0, 5.0]
    compiled = rebuilt.udf._fn
    assert compiled.__globals__ is not globals()  # rebuilt in its own namespace ...
    assert compiled.__globals__["SCALE"] == 2.5  # ... holding what the function reads
    assert [v.name for v in rebuilt.source_views] == ["driver_stats"]
    assert [r.name for r in rebuilt.request_sources] == ["vals"]


def test_on_demand_view_round_trip_keeps_a_projected_source() -> None:
    @on_demand_feature_view(sources=[stats[["conv_rate"]]], schema=[Field(name="pct", dtype=Float64)], mode="python")
    def pct(inputs: dict[str, list[float]]) -> dict[str, list[float]]:
        return {"pct": [v * 100 for v in inputs["conv_rate"]]}

    rebuilt = OnDemandFeatureView.from_dict(pct.to_dict(), {"driver_stats": stats})
    assert [f.name for f in rebuilt.source_views[0].projected_features] == ["conv_rate"]
    assert rebuilt({"conv_rate": [0.5]}) == {"pct": [50.0]}


@pytest.mark.parametrize("bad", ["driver_id\n, injected INTEGER", "a\tb", "nul\x00", "del\x7f"])
def test_control_characters_never_reach_ddl(bad: str, tmp_path) -> None:
    """A join key or feature name with a control character is refused where it is defined; the SQLite table
    it would have produced (a newline ends the ``-- key`` comment) is never built."""
    with pytest.raises(InvalidDefinition, match="contains a control character"):
        Entity(name="driver", join_keys=[bad])
    with pytest.raises(InvalidDefinition, match="contains a control character"):
        Field(name=bad, dtype=Float64)
    assert Field(name="odd name; -- but printable", dtype=Float64).name == "odd name; -- but printable"


def test_copies_of_definitions_keep_the_primitive_types_themselves() -> None:
    """Inference works on deep copies; code compares primitive types by identity (``dtype is Invalid``)."""
    import copy

    from ladle.types import Invalid, String

    field = Field(name="f", dtype=Invalid)
    assert copy.deepcopy(field).dtype is Invalid
    assert copy.copy(String) is String and copy.deepcopy([String])[0] is String

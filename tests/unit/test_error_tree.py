"""Every error ladle raises on purpose is in the one tree of ``ladle.errors``: the server's and the client's
classes live there (their old import paths still work), and user mistakes raise ladle errors naming what
was wrong, never a bare ``TypeError`` or ``ValueError``."""

from __future__ import annotations

import pytest

from ladle import errors
from ladle.client import FeatureClient
from ladle.errors import InvalidDefinition, InvalidRequest, InvalidType, LadleError, WrongArgumentType
from ladle.registry.diff import RegistryDiff
from ladle.types import Array, Invalid, Map, Set, String, Struct, as_feast_type, dtype_from_dict, to_arrow


@pytest.mark.parametrize(
    "name", ["Unauthorized", "Forbidden", "PayloadTooLarge", "RequestTimeout", "TooManyRows", "RegistryUnavailable"]
)
def test_the_server_errors_are_in_the_tree_and_keep_their_old_names(name: str) -> None:
    from ladle.server import errors as server_errors

    cls = getattr(errors, name)
    assert issubclass(cls, LadleError) and name in errors.__all__
    assert getattr(server_errors, name) is cls


def test_the_client_error_is_in_the_tree_and_keeps_its_old_name() -> None:
    from ladle import client

    assert client.FeatureServerError is errors.FeatureServerError
    exc = errors.FeatureServerError(418, "Teapot", "short and stout")
    assert (exc.status, exc.type, str(exc)) == (418, "Teapot", "feature server answered 418 Teapot: short and stout")


def test_the_server_maps_the_moved_classes_to_their_statuses() -> None:
    from ladle.server.errors import status_of

    assert status_of(errors.TooManyRows("entity rows", 10, 5)) == 413
    assert status_of(errors.PayloadTooLarge(10)) == 413
    assert status_of(errors.RequestTimeout(1.5)) == 408
    assert status_of(errors.Unauthorized("no key")) == 401
    assert status_of(errors.Forbidden("read only")) == 403
    assert status_of(errors.RegistryUnavailable("registry", "not loaded yet")) == 503


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Array(Map), r"Array\(Map\) is not supported: the elements of a Array must be"),
        (lambda: Set(Array(String)), r"Set\(Array\(String\)\) is not supported"),
        (lambda: Struct({}), r"Struct needs at least one field \(e\.g\. Struct"),
        (lambda: to_arrow(Invalid), "type Invalid has no storage type; declare the field with a concrete type"),
        (lambda: dtype_from_dict("Int63"), "unknown type name 'Int63'; known: .*Int64"),
        (lambda: as_feast_type("float"), "'float' is not a feature type; use one of ladle.types"),
    ],
)
def test_a_bad_feature_type_is_a_ladle_error(build, message: str) -> None:
    """A ladle error (InvalidDefinition) that still is the TypeError code written for Feast catches."""
    with pytest.raises(InvalidType, match=message) as info:
        build()
    assert isinstance(info.value, InvalidDefinition) and isinstance(info.value, TypeError)


def test_a_client_call_with_features_of_the_wrong_type_is_a_ladle_error() -> None:
    with (
        FeatureClient("http://127.0.0.1:9") as client,
        pytest.raises(
            WrongArgumentType, match="features must be a list of 'view:feature' references or a FeatureService, got int"
        ),
    ):
        client.get_online_features(3, [{"driver_id": 1}])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (42, "rows must be a DataFrame, a pyarrow Table, a dict of lists or a list of dicts, got int"),
        ([1, 2], "rows given as a list must be dicts"),
    ],
)
def test_client_rows_of_the_wrong_type_are_a_ladle_error(rows: object, message: str) -> None:
    with FeatureClient("http://127.0.0.1:9") as client, pytest.raises(WrongArgumentType, match=message):
        client.write_to_online_store("driver_hourly_stats", rows)


def test_a_client_value_that_cannot_be_sent_is_a_ladle_error() -> None:
    """Nothing is sent: the error names the route and the value's type."""
    with (
        FeatureClient("http://127.0.0.1:9") as client,
        pytest.raises(
            WrongArgumentType, match=r"/push: the request cannot be sent as JSON: cannot send object as JSON"
        ),
    ):
        client.push("driver_push", {"driver_id": [1], "created": [object()]})
    assert isinstance(WrongArgumentType("x"), InvalidRequest)


def test_an_unknown_change_type_of_a_diff_is_a_ladle_error() -> None:
    diff = RegistryDiff.compute({}, {})
    with pytest.raises(InvalidRequest, match=r"RegistryDiff.of: change must be one of .*got 'renamed'"):
        diff.of("renamed")
    assert diff.of("added") == diff.of("changed") == diff.of("removed") == []

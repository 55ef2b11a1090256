"""The public surface is explicit: everything in ``ladle.__all__`` exists, and nothing is missing."""

from __future__ import annotations

import ladle


def test_all_names_resolve() -> None:
    for name in ladle.__all__:
        assert getattr(ladle, name) is not None, name


def test_feast_quickstart_names_are_exported() -> None:
    wanted = {
        "Entity",
        "FeatureService",
        "FeatureStore",
        "FeatureView",
        "Field",
        "FileSource",
        "OnDemandFeatureView",
        "Project",
        "PushMode",
        "PushSource",
        "RequestSource",
        "ValueType",
        "on_demand_feature_view",
    }
    assert wanted <= set(ladle.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        ladle.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")

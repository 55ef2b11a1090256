"""Loading a feature repo: Feast-style files load unchanged, files import each other, ignores and errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import ladle
from ladle.definitions import FileSource, PushSource, RequestSource
from ladle.errors import InvalidDefinition, InvalidRequest, RepoLoadError
from ladle.repo.feast_compat import _real_feast_spec, install_feast_aliases
from ladle.repo.loader import IgnoreRules, RepoContents, load_repo, repo_files

_real_feast = _real_feast_spec() is not None  # ladle's own stand-in (the script shim) is not "real"
needs_no_feast = pytest.mark.skipif(_real_feast, reason="the real Feast is installed: ladle does not alias it")


def write(repo: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return repo


def names(objs: list[object]) -> list[str]:
    return sorted(o.name for o in objs)  # type: ignore[attr-defined]


FEAST_REPO = {
    "example_repo.py": """
        # This is the Feast quickstart's definitions file, with its imports unchanged.
        from datetime import timedelta

        import pandas as pd

        from feast import (
            Entity,
            FeatureService,
            FeatureView,
            Field,
            FileSource,
            Project,
            PushSource,
            RequestSource,
            ValueType,
        )
        from feast.on_demand_feature_view import on_demand_feature_view
        from feast.types import Float32, Float64, Int64

        project = Project(name="my_project", description="A project for driver statistics")

        driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)

        driver_stats_source = FileSource(
            name="driver_hourly_stats_source",
            path="data/driver_stats.parquet",
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        )

        driver_stats_fv = FeatureView(
            name="driver_hourly_stats",
            entities=[driver],
            ttl=timedelta(days=1),
            schema=[
                Field(name="conv_rate", dtype=Float32),
                Field(name="acc_rate", dtype=Float32),
                Field(name="avg_daily_trips", dtype=Int64, description="Average daily trips"),
            ],
            online=True,
            source=driver_stats_source,
            tags={"team": "driver_performance"},
        )

        input_request = RequestSource(
            name="vals_to_add",
            schema=[Field(name="val_to_add", dtype=Int64), Field(name="val_to_add_2", dtype=Int64)],
        )

        @on_demand_feature_view(
            sources=[driver_stats_fv, input_request],
            schema=[Field(name="conv_rate_plus_val1", dtype=Float64), Field(name="conv_rate_plus_val2", dtype=Float64)],
        )
        def transformed_conv_rate(inputs: pd.DataFrame) -> pd.DataFrame:
            df = pd.DataFrame()
            df["conv_rate_plus_val1"] = inputs["conv_rate"] + inputs["val_to_add"]
            df["conv_rate_plus_val2"] = inputs["conv_rate"] + inputs["val_to_add_2"]
            return df

        driver_activity_v1 = FeatureService(
            name="driver_activity_v1",
            features=[driver_stats_fv[["conv_rate"]], transformed_conv_rate],
        )

        driver_stats_push_source = PushSource(name="driver_stats_push_source", batch_source=driver_stats_source)

        driver_stats_fresh_fv = FeatureView(
            name="driver_hourly_stats_fresh",
            entities=[driver],
            ttl=timedelta(days=1),
            schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float32)],
            online=True,
            source=driver_stats_push_source,
        )
    """,
    "submodule_imports.py": """
        # Every import path a Feast repo commonly uses.
        from feast.data_format import ParquetFormat
        from feast.data_source import PushSource, RequestSource
        from feast.entity import Entity
        from feast.feature_service import FeatureService
        from feast.feature_view import FeatureView
        from feast.field import Field
        from feast.infra.offline_stores.file_source import FileSource
        from feast.value_type import ValueType
        from feast.types import Array, String
        from feast import Feature, FeatureStore, on_demand_feature_view
        import feast

        FORMAT = ParquetFormat()
        CLASSES = (PushSource, RequestSource, Entity, FeatureService, FeatureView, Field, FileSource, ValueType,
                   Feature, FeatureStore, on_demand_feature_view, feast.types.Float32, Array(String))
    """,
}


@needs_no_feast
def test_a_feast_repo_loads_unchanged(tmp_path: Path) -> None:
    contents = load_repo(write(tmp_path, FEAST_REPO))
    assert names(contents.entities) == ["driver"]
    assert names(contents.feature_views) == ["driver_hourly_stats", "driver_hourly_stats_fresh"]
    assert names(contents.on_demand_feature_views) == ["transformed_conv_rate"]
    assert names(contents.feature_services) == ["driver_activity_v1"]
    assert names(contents.projects) == ["my_project"]
    # sources used by views are collected too: the push source's batch source and the request source
    assert names(contents.data_sources) == [
        "driver_hourly_stats_source",
        "driver_stats_push_source",
        "vals_to_add",
    ]
    assert all(type(o).__module__.startswith("ladle.") for o in contents.objects())
    assert isinstance(contents.feature_views[0], ladle.FeatureView)
    odfv = contents.on_demand_feature_views[0]
    assert odfv.to_dict()["udf_env"]["modules"] == {"pd": "pandas"}


@needs_no_feast
def test_feast_aliases_stay_installed_and_explain_what_is_missing(tmp_path: Path) -> None:
    load_repo(write(tmp_path, FEAST_REPO))
    install_feast_aliases()  # idempotent
    import feast
    from feast.on_demand_feature_view import on_demand_feature_view

    assert feast.FeatureStore is ladle.FeatureStore
    assert feast.on_demand_feature_view is on_demand_feature_view is ladle.on_demand_feature_view
    with pytest.raises(ModuleNotFoundError, match="Feast is not installed and ladle provides only"):
        import feast.infra.online_stores.sqlite
    with pytest.raises(AttributeError, match="ladle stands in for Feast and does not provide it"):
        feast.ValidationReference  # noqa: B018  (a Feast name ladle does not provide)


def test_repo_files_import_each_other_by_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "location_stats_feature_view.py": """
            from ladle import Entity, FeatureView, Field, FileSource
            from ladle.types import Float32

            location = Entity(name="location", join_keys=["location_id"])
            location_stats_fv = FeatureView(
                name="location_stats", entities=[location], schema=[Field(name="temp", dtype=Float32)],
                source=FileSource(name="location_src", path="data/loc.parquet", timestamp_field="ts"),
            )
        """,
            "features.py": """
            from ladle import FeatureService
            from location_stats_feature_view import location_stats_fv
            from shared.names import SERVICE

            service = FeatureService(name=SERVICE, features=[location_stats_fv])
        """,
            "shared/__init__.py": "",
            "shared/names.py": """
            from .prefix import PREFIX

            SERVICE = PREFIX + "service"
        """,
            "shared/prefix.py": "PREFIX = 'location_'\n",
        },
    )
    contents = load_repo(tmp_path)
    assert names(contents.feature_views) == ["location_stats"]  # imported into two files, counted once
    assert names(contents.feature_services) == ["location_service"]
    assert contents.feature_services[0].projections[0].name == "location_stats"
    assert "location_stats_feature_view" not in sys.modules  # plain names served the loading only
    assert str(tmp_path) not in sys.path


def test_ignore_files_and_skipped_folders(tmp_path: Path) -> None:
    boom = "raise RuntimeError('must not be imported')\n"
    write(
        tmp_path,
        {
            "features.py": "from ladle import Entity\ndriver = Entity(name='driver')\n",
            ".feastignore": "# scratch work\nscratch.py\ndrafts/\n",
            ".ladleignore": "**/wip_*.py\n",
            "scratch.py": boom,
            "drafts/old.py": boom,
            "sub/wip_new.py": boom,
            "sub/kept.py": "from ladle import Entity\nrider = Entity(name='rider')\n",
            ".hidden/x.py": boom,
            ".venv/lib/x.py": boom,
            "venv/x.py": boom,
            "env/x.py": boom,
            "node_modules/x.py": boom,
            "__pycache__/x.py": boom,
            "myenv/pyvenv.cfg": "home = /usr\n",
            "myenv/lib/site-packages/x.py": boom,
            "data/generate.py": "from ladle import Entity\ncustomer = Entity(name='customer')\n",
        },
    )
    rel = [p.relative_to(tmp_path).as_posix() for p in repo_files(tmp_path)]
    assert rel == ["data/generate.py", "features.py", "sub/kept.py"]
    assert names(load_repo(tmp_path).entities) == ["customer", "driver", "rider"]


def test_ignore_rules() -> None:
    rules = IgnoreRules(["# comment", "", "tests/", "/root_only.py", "*.tmp.py", "a/**/z.py", "!keep.tmp.py"])
    assert rules.ignores("tests", True) and not rules.ignores("tests", False)
    assert rules.ignores("root_only.py", False) and not rules.ignores("sub/root_only.py", False)
    assert rules.ignores("x.tmp.py", False) and rules.ignores("deep/er/x.tmp.py", False)
    assert not rules.ignores("keep.tmp.py", False)
    assert rules.ignores("a/z.py", False) and rules.ignores("a/b/c/z.py", False) and not rules.ignores("b/z.py", False)


def test_two_different_objects_with_one_name_name_both_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.py": "from ladle import Entity\ndriver = Entity(name='driver', join_keys=['driver_id'])\n",
            "b.py": "from ladle import Entity\ndriver = Entity(name='driver', join_keys=['id'])\n",
        },
    )
    with pytest.raises(RepoLoadError) as exc:
        load_repo(tmp_path)
    assert str(exc.value) == (
        "two different entities are named 'driver': in a.py and again in b.py "
        "(rename one of them, or define it once and import it where it is needed)"
    )


def test_identical_definitions_in_two_files_are_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.py": "from ladle import Entity\ndriver = Entity(name='driver')\n",
            "b.py": "from ladle import Entity\ndriver = Entity(name='driver')\n",
        },
    )
    assert names(load_repo(tmp_path).entities) == ["driver"]


def test_a_failing_file_is_named_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"ok.py": "X = 1\n", "broken.py": "import math\n\nvalue = math.sqrt(4) / 0\n"})
    with pytest.raises(RepoLoadError) as exc:
        load_repo(tmp_path)
    assert str(exc.value) == (
        "broken.py, line 3: ZeroDivisionError: float division by zero "
        "— fix the file, or list it in .ladleignore to skip it"
    )
    assert isinstance(exc.value.__cause__, ZeroDivisionError)


def test_a_bad_definition_names_the_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "features.py": """
        from datetime import timedelta
        from ladle import Entity, FeatureView, FileSource

        driver = Entity(name="driver")
        view = FeatureView(
            name="v", entities=[driver], ttl=timedelta(days=-1),
            source=FileSource(name="s", path="data/s.parquet"),
        )
    """
        },
    )
    with pytest.raises(RepoLoadError) as exc:
        load_repo(tmp_path)
    message = str(exc.value)
    assert message.startswith("features.py, line 6: InvalidDefinition: FeatureView 'v': ttl must not be negative")


def test_errors_in_an_imported_file_name_it_and_the_importer(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a_features.py": "from z_helpers import VALUE\n",
            "z_helpers.py": "VALUE = undefined_name\n",
        },
    )
    with pytest.raises(RepoLoadError) as exc:
        load_repo(tmp_path)
    assert str(exc.value).startswith(
        "z_helpers.py, line 1: NameError: name 'undefined_name' is not defined (while importing a_features.py)"
    )


def test_syntax_errors(tmp_path: Path) -> None:
    write(tmp_path, {"features.py": "x = 1\ndef broken(:\n"})
    with pytest.raises(RepoLoadError, match=r"^features.py, line 2: SyntaxError: "):
        load_repo(tmp_path)


def test_reloading_sees_edits_and_repos_do_not_mix(tmp_path: Path) -> None:
    first = write(tmp_path / "one", {"features.py": "from ladle import Entity\ne = Entity(name='driver')\n"})
    second = write(tmp_path / "two", {"features.py": "from ladle import Entity\ne = Entity(name='rider')\n"})
    assert names(load_repo(first).entities) == ["driver"]
    assert names(load_repo(second).entities) == ["rider"]
    (first / "features.py").write_text("from ladle import Entity\ne = Entity(name='customer')\n")
    assert names(load_repo(first).entities) == ["customer"]


def test_on_demand_function_source_is_read_from_the_repo_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "features.py": """
        from ladle import Field, RequestSource, on_demand_feature_view
        from ladle.types import Float64

        OFFSET = 10.0
        req = RequestSource(name="req", schema=[Field(name="x", dtype=Float64)])

        @on_demand_feature_view(sources=[req], schema=[Field(name="y", dtype=Float64)], mode="python")
        def shifted(inputs):
            return {"y": [v + OFFSET for v in inputs["x"]]}
    """
        },
    )
    odfv = load_repo(tmp_path).on_demand_feature_views[0]
    assert odfv.udf_source.startswith("def shifted(inputs):")
    assert odfv.udf_env["constants"] == {"OFFSET": 10.0}
    assert odfv({"x": [1.0]}) == {"y": [11.0]}


def test_from_objects_collects_what_views_use() -> None:
    batch = FileSource(name="batch", path="data/b.parquet", timestamp_field="ts")
    push = PushSource(name="push", batch_source=batch)
    driver = ladle.Entity(name="driver")
    view = ladle.FeatureView(
        name="v", entities=[driver], schema=[ladle.Field(name="rate", dtype=ladle.ValueType.DOUBLE)], source=push
    )
    contents = RepoContents.from_objects([view[["rate"]], view, view])
    assert names(contents.data_sources) == ["batch", "push"]
    assert names(contents.entities) == ["driver"]
    assert contents.feature_views == [view] and contents.feature_views[0] is view  # the view, not a projection
    with pytest.raises(InvalidRequest, match="cannot apply 'driver'"):
        RepoContents.from_objects(["driver"])
    other = RequestSource(name="push", schema=[ladle.Field(name="a", dtype=ladle.ValueType.INT64)])
    with pytest.raises(InvalidDefinition, match="two different data sources have this name"):
        RepoContents.from_objects([view, other])

"""Let code written for Feast run on ladle: ``import feast`` resolves to ladle when Feast is not installed.

:func:`install_feast_aliases` registers ``feast`` and the submodules Feast users import from
(``feast.types``, ``feast.errors``, ``feast.on_demand_feature_view``, ``feast.transformation...``,
``feast.infra.offline_stores...``) in ``sys.modules``, as stand-in modules whose attributes are ladle's
classes (looked up on first use, so ``import feast`` stays light). Loading a repo installs them; in a
script, ``import feast`` installs them through the start-up hook ladle ships (``_ladle_feast_shim``,
run by ``ladle_feast_shim.pth``), which calls :func:`stand_in_spec`. It never shadows a real Feast
installation, and a Feast module ladle does not provide fails with a message saying so.

>>> install_feast_aliases()
>>> from feast.types import Float32  # ladle.types.Float32 (or Feast's own, when Feast is installed)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["install_feast_aliases"]

_DEFS = "ladle.definitions"
_TYPES = (
    "Array",
    "Bool",
    "Bytes",
    "ComplexFeastType",
    "FeastType",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "Invalid",
    "Json",
    "Map",
    "PrimitiveFeastType",
    "String",
    "Struct",
    "UnixTimestamp",
    "ValueType",
    "from_value_type",
    "Set",
    "Uuid",
    "TimeUuid",
    "Decimal",
)

_SAVED = "ladle.retrieval.saved_datasets"
#: module -> Feast names ladle deliberately does not provide -> why, and what to use instead
_NOT_PROVIDED: dict[str, dict[str, str]] = {
    "feast.saved_dataset": {
        "ValidationReference": "Feast's data-quality monitoring (Great Expectations profiles of a saved dataset) "
        "is not part of ladle; to check a training set against a saved one, use `ladle reproduce NAME` "
        "(docs/saved-datasets.md)",
    },
}

_OFFLINE = "feast.infra.offline_stores"
_CONTRIB = f"{_OFFLINE}.contrib"
_EXTERNAL = (
    "AthenaSource",
    "BigQuerySource",
    "MsSqlServerSource",
    "OracleSource",
    "RedshiftSource",
    "SnowflakeSource",
    "TrinoSource",
)
_ERRORS = (
    "ConflictingFeatureViewNames",
    "DataSourceObjectNotFoundException",
    "EntityNotFoundException",
    "FeastConfigError",
    "FeastEntityDFMissingColumnsError",
    "FeastError",
    "FeastExtrasDependencyImportError",
    "FeastObjectNotFoundException",
    "FeastOfflineStoreUnsupportedDataSource",
    "FeatureNameCollisionError",
    "FeatureServiceNotFoundException",
    "FeatureViewNotFoundException",
    "InvalidFeaturesParameterType",
    "OnDemandFeatureViewNotFoundException",
    "ProjectNotFoundException",
    "ProjectObjectNotFoundException",
    "PushSourceNotFoundException",
    "RequestDataNotFoundInEntityDfException",
    "RequestDataNotFoundInEntityRowsException",
    "SpecifiedFeaturesNotPresentError",
)

#: module name -> attribute -> the ladle module that defines it (parent packages are added by _all_modules)
_MODULES: dict[str, dict[str, str]] = {
    "feast": {
        **{
            n: _DEFS
            for n in (
                "AthenaSource",
                "BigQuerySource",
                "Entity",
                "Feature",
                "FeatureService",
                "FeatureView",
                "Field",
                "FileSource",
                "OnDemandFeatureView",
                "OracleSource",
                "ParquetFormat",
                "Project",
                "PushSource",
                "RedshiftSource",
                "RequestSource",
                "SnowflakeSource",
                "on_demand_feature_view",
                "Aggregation",
                "BatchFeatureView",
                "KafkaSource",
                "KinesisSource",
                "StreamFeatureView",
                "batch_feature_view",
                "stream_feature_view",
            )
        },
        "ValueType": "ladle.types",
        "FeatureStore": "ladle.store",
        "RepoConfig": "ladle.config",
        "PushMode": "ladle.ingest.push",
    },
    "feast.types": {n: "ladle.types" for n in _TYPES},
    "feast.value_type": {"ValueType": "ladle.types"},
    "feast.errors": {n: "ladle.repo.feast_errors" for n in _ERRORS},
    "feast.field": {"Field": _DEFS},
    "feast.feature": {"Feature": _DEFS},
    "feast.entity": {"Entity": _DEFS},
    "feast.feature_view": {"FeatureView": _DEFS},
    "feast.feature_view_projection": {"FeatureViewProjection": _DEFS},
    "feast.feature_service": {"FeatureService": _DEFS},
    "feast.project": {"Project": _DEFS},
    "feast.on_demand_feature_view": {"OnDemandFeatureView": _DEFS, "on_demand_feature_view": _DEFS},
    "feast.transformation.base": {"Transformation": _DEFS},
    "feast.transformation.pandas_transformation": {"PandasTransformation": _DEFS},
    "feast.transformation.python_transformation": {"PythonTransformation": _DEFS},
    "feast.data_source": {
        "DataSource": _DEFS,
        "PushSource": _DEFS,
        "RequestSource": _DEFS,
        "KafkaSource": _DEFS,
        "KinesisSource": _DEFS,
        "PushMode": "ladle.ingest.push",
    },
    "feast.data_format": {
        "FileFormat": _DEFS,
        "ParquetFormat": _DEFS,
        "StreamFormat": _DEFS,
        "JsonFormat": _DEFS,
        "AvroFormat": _DEFS,
        "ProtoFormat": _DEFS,
    },
    "feast.aggregation": {"Aggregation": _DEFS},
    "feast.stream_feature_view": {"StreamFeatureView": _DEFS, "stream_feature_view": _DEFS},
    "feast.batch_feature_view": {"BatchFeatureView": _DEFS, "batch_feature_view": _DEFS},
    "feast.online_response": {"OnlineResponse": "ladle.retrieval.online_read"},
    "feast.feature_store": {"FeatureStore": "ladle.store"},
    "feast.repo_config": {"RepoConfig": "ladle.config", "RegistryConfig": "ladle.config"},
    "feast.saved_dataset": {"SavedDataset": _SAVED, "SavedDatasetStorage": _SAVED},
    f"{_OFFLINE}.file_source": {"FileSource": _DEFS, "SavedDatasetFileStorage": _DEFS},
    f"{_OFFLINE}.bigquery_source": {"BigQuerySource": _DEFS},
    f"{_OFFLINE}.snowflake_source": {"SnowflakeSource": _DEFS},
    f"{_OFFLINE}.redshift_source": {"RedshiftSource": _DEFS},
    f"{_CONTRIB}.athena_offline_store.athena_source": {"AthenaSource": _DEFS},
    f"{_CONTRIB}.trino_offline_store.trino_source": {"TrinoSource": _DEFS},
    f"{_CONTRIB}.mssql_offline_store.mssqlserver_source": {"MsSqlServerSource": _DEFS},
    f"{_CONTRIB}.oracle_offline_store.oracle_source": {"OracleSource": _DEFS},
    f"{_CONTRIB}.postgres_offline_store.postgres_source": {"PostgreSQLSource": _DEFS},
    f"{_CONTRIB}.spark_offline_store.spark_source": {"SparkSource": _DEFS, "SavedDatasetSparkStorage": _DEFS},
}


def _all_modules() -> dict[str, dict[str, str]]:
    """:data:`_MODULES` plus every parent package (``feast.infra``, ...) with no attributes of its own."""
    out = dict(_MODULES)
    for name in _MODULES:
        parts = name.split(".")
        for i in range(1, len(parts)):
            out.setdefault(".".join(parts[:i]), {})
    return out


_lock = threading.Lock()


class _FeastStandIn(types.ModuleType):
    """A ``feast`` module stand-in: attributes come from ladle modules, imported on first access."""

    def __init__(self, name: str, names: dict[str, str]) -> None:
        super().__init__(name, f"ladle's stand-in for {name} (Feast is not installed)")
        self.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        self.__path__: list[str] = []  # a package: its submodules are found in sys.modules
        self.__ladle_names__ = names

    def __getattr__(self, attr: str) -> Any:
        module = self.__ladle_names__.get(attr)
        why = _NOT_PROVIDED.get(self.__name__, {}).get(attr)
        if module is None and why is not None:
            # an ImportError, not an AttributeError: `from feast.x import Name` would replace the latter
            # with a bare "cannot import name", losing the reason
            raise ImportError(f"{self.__name__}.{attr} is not provided by ladle: {why}", name=self.__name__)
        if module is None or attr.startswith("__"):
            raise AttributeError(
                f"module {self.__name__!r} has no attribute {attr!r}: ladle stands in for Feast and does not "
                f"provide it (available: {', '.join(sorted(self.__ladle_names__)) or 'submodules only'})"
            )
        value = getattr(importlib.import_module(module), attr)
        setattr(self, attr, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__ladle_names__))


class _MissingFeastModule(importlib.abc.MetaPathFinder):
    """Turns ``import feast.<something ladle lacks>`` into an error that says what is going on."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("feast.") or not isinstance(sys.modules.get("feast"), _FeastStandIn):
            return None
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: Feast is not installed and ladle provides only "
            f"{', '.join(sorted(_MODULES))}; import the equivalent from ladle instead",
            name=fullname,
        )


def install_feast_aliases() -> None:
    """Make ``import feast`` (and its common submodules) resolve to ladle, unless Feast is installed.

    Idempotent; safe to call from user scripts. Covers ``from feast import Entity, FeatureView, Field,
    FileSource, FeatureService, PushSource, RequestSource, ValueType, Feature, FeatureStore, Project,
    on_demand_feature_view`` and ``feast.types``, ``feast.value_type``, ``feast.field``, ``feast.entity``,
    ``feast.feature_view``, ``feast.feature_service``, ``feast.on_demand_feature_view``,
    ``feast.data_source``, ``feast.data_format``, ``feast.infra.offline_stores.file_source``, ...
    """
    with _lock:
        if "feast" in sys.modules:
            return  # ours already, or the real Feast
        if _real_feast_spec() is not None:
            return  # the real Feast is installed: never shadow it
        _install_stand_ins()


def _real_feast_spec() -> importlib.machinery.ModuleSpec | None:
    """Where a real Feast would be imported from: every finder but ladle's own is asked."""
    for finder in sys.meta_path:
        if getattr(finder, "ladle_feast_shim", False) or isinstance(finder, _MissingFeastModule):
            continue
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec("feast", None) if find_spec is not None else None
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


class _StandInLoader(importlib.abc.Loader):
    """Loads ``feast`` as ladle's stand-in (for the start-up hook's finder)."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        with _lock:
            if not isinstance(sys.modules.get("feast"), _FeastStandIn):
                _install_stand_ins()
        return sys.modules["feast"]

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the stand-in's attributes are looked up on first use."""


def stand_in_spec() -> importlib.machinery.ModuleSpec:
    """The spec the start-up hook returns for ``import feast`` once no finder found a real Feast."""
    return importlib.machinery.ModuleSpec("feast", _StandInLoader(), is_package=True)


def _install_stand_ins() -> None:
    """Put the stand-in modules in ``sys.modules`` (the caller holds ``_lock``)."""
    modules = _all_modules()
    for name, names in modules.items():
        sys.modules[name] = _FeastStandIn(name, names)
    for name in modules:
        parent, _, child = name.rpartition(".")
        # as in Feast, `feast.on_demand_feature_view` is the decorator, not the submodule of that name
        if parent and child not in modules[parent]:
            setattr(sys.modules[parent], child, sys.modules[name])
    if not any(isinstance(f, _MissingFeastModule) for f in sys.meta_path):
        sys.meta_path.append(_MissingFeastModule())

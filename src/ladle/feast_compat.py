"""Let code written for Feast run on ladle: ``import feast`` resolves to ladle when Feast is not installed.

:func:`install_feast_aliases` registers ``feast`` and the submodules Feast tutorials import from
(``feast.types``, ``feast.on_demand_feature_view``, ``feast.infra.offline_stores.file_source``, ...) in
``sys.modules``, as stand-in modules whose attributes are ladle's classes (looked up on first use, so
``import feast`` stays light). Loading a repo installs them; scripts may call it too. It never shadows
a real Feast installation, and a Feast module ladle does not provide fails with a message saying so.

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
    "Array", "Bool", "Bytes", "ComplexFeastType", "FeastType", "Float32", "Float64", "Int32", "Int64", "Invalid",
    "Json", "Map", "PrimitiveFeastType", "String", "Struct", "UnixTimestamp", "ValueType", "from_value_type",
    "Set", "Uuid", "TimeUuid", "Decimal",
)

#: module name -> attribute -> the ladle module that defines it
_MODULES: dict[str, dict[str, str]] = {
    "feast": {
        **{n: _DEFS for n in (
            "Entity", "Feature", "FeatureService", "FeatureView", "Field", "FileSource", "OnDemandFeatureView",
            "ParquetFormat", "Project", "PushSource", "RequestSource", "on_demand_feature_view",
        )},
        "ValueType": "ladle.types",
        "FeatureStore": "ladle.store",
        "RepoConfig": "ladle.config",
        "PushMode": "ladle.push",
    },
    "feast.types": {n: "ladle.types" for n in _TYPES},
    "feast.value_type": {"ValueType": "ladle.types"},
    "feast.field": {"Field": _DEFS},
    "feast.feature": {"Feature": _DEFS},
    "feast.entity": {"Entity": _DEFS},
    "feast.feature_view": {"FeatureView": _DEFS},
    "feast.feature_view_projection": {"FeatureViewProjection": _DEFS},
    "feast.feature_service": {"FeatureService": _DEFS},
    "feast.project": {"Project": _DEFS},
    "feast.on_demand_feature_view": {"OnDemandFeatureView": _DEFS, "on_demand_feature_view": _DEFS},
    "feast.data_source": {"DataSource": _DEFS, "PushSource": _DEFS, "RequestSource": _DEFS, "PushMode": "ladle.push"},
    "feast.data_format": {"FileFormat": _DEFS, "ParquetFormat": _DEFS},
    "feast.infra": {},
    "feast.infra.offline_stores": {},
    "feast.infra.offline_stores.file_source": {"FileSource": _DEFS, "SavedDatasetFileStorage": _DEFS},
    "feast.infra.offline_stores.contrib": {},
    "feast.infra.offline_stores.contrib.postgres_offline_store": {},
    "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source": {"PostgreSQLSource": _DEFS},
    "feast.infra.offline_stores.contrib.spark_offline_store": {},
    "feast.infra.offline_stores.contrib.spark_offline_store.spark_source": {
        "SparkSource": _DEFS, "SavedDatasetSparkStorage": _DEFS,
    },
    "feast.feature_store": {"FeatureStore": "ladle.store"},
    "feast.repo_config": {"RepoConfig": "ladle.config", "RegistryConfig": "ladle.config"},
}

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
        if importlib.util.find_spec("feast") is not None:
            return  # the real Feast is installed: never shadow it
        for name, names in _MODULES.items():
            sys.modules[name] = _FeastStandIn(name, names)
        for name in _MODULES:
            parent, _, child = name.rpartition(".")
            # as in Feast, `feast.on_demand_feature_view` is the decorator, not the submodule of that name
            if parent and child not in _MODULES[parent]:
                setattr(sys.modules[parent], child, sys.modules[name])
        if not any(isinstance(f, _MissingFeastModule) for f in sys.meta_path):
            sys.meta_path.append(_MissingFeastModule())

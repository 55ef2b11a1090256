"""Let repos written for Feast load unchanged: ``import feast`` resolves to ladle when Feast is absent.

``install_feast_aliases()`` registers ``feast`` and the submodules tutorials import from
(``feast.types``, ``feast.on_demand_feature_view``, ``feast.infra.offline_stores.file_source``, ...)
as module objects exposing ladle's classes. It is idempotent and never shadows a real Feast install.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

__all__ = ["install_feast_aliases"]

_TOP = [
    "Entity", "Feature", "FeatureService", "FeatureView", "Field", "FileSource", "OnDemandFeatureView",
    "ParquetFormat", "Project", "PushSource", "RequestSource", "ValueType", "on_demand_feature_view",
]
_LAZY_TOP = {"FeatureStore": "ladle.store", "PushMode": "ladle.push", "RepoConfig": "ladle.config"}

_SUBMODULES: dict[str, dict[str, str]] = {
    "feast.types": {n: "ladle.types" for n in (
        "Array", "Bool", "Bytes", "Float32", "Float64", "Int32", "Int64", "Invalid", "Json", "Map", "String",
        "Struct", "UnixTimestamp", "PrimitiveFeastType", "ComplexFeastType", "FeastType",
    )},
    "feast.value_type": {"ValueType": "ladle.types"},
    "feast.field": {"Field": "ladle.definitions"},
    "feast.feature": {"Feature": "ladle.definitions"},
    "feast.entity": {"Entity": "ladle.definitions"},
    "feast.feature_view": {"FeatureView": "ladle.definitions"},
    "feast.feature_service": {"FeatureService": "ladle.definitions"},
    "feast.project": {"Project": "ladle.definitions"},
    "feast.on_demand_feature_view": {
        "on_demand_feature_view": "ladle.definitions", "OnDemandFeatureView": "ladle.definitions",
    },
    "feast.data_source": {
        "DataSource": "ladle.definitions", "PushSource": "ladle.definitions", "RequestSource": "ladle.definitions",
    },
    "feast.data_format": {"ParquetFormat": "ladle.definitions", "FileFormat": "ladle.definitions"},
    "feast.infra.offline_stores.file_source": {"FileSource": "ladle.definitions"},
    "feast.feature_store": {"FeatureStore": "ladle.store"},
    "feast.repo_config": {"RepoConfig": "ladle.config"},
    "feast.data_source.push": {"PushMode": "ladle.push"},
}


class _AliasModule(types.ModuleType):
    """A module whose attributes are looked up in ladle modules on first access."""

    def __init__(self, name: str, names: dict[str, str]) -> None:
        super().__init__(name, f"ladle's stand-in for {name}")
        self._names = names
        self.__path__: list[str] = []  # a package, so submodule imports resolve through sys.modules
        self.__ladle_alias__ = True

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        module = self._names.get(attr)
        if module is None:
            raise AttributeError(
                f"ladle's 'feast' compatibility layer has no '{attr}' in {self.__name__}; "
                f"import it from ladle instead"
            )
        return getattr(importlib.import_module(module), attr)

    def __dir__(self) -> list[str]:
        return sorted(self._names)


def install_feast_aliases() -> None:
    """Make ``import feast`` (and its common submodules) resolve to ladle, unless Feast is installed."""
    existing = sys.modules.get("feast")
    if existing is not None:
        return
    if importlib.util.find_spec("feast") is not None:
        return
    top = {n: "ladle" for n in _TOP} | _LAZY_TOP
    sys.modules["feast"] = _AliasModule("feast", top)
    for name, names in _SUBMODULES.items():
        parts = name.split(".")
        for i in range(2, len(parts)):
            parent = ".".join(parts[:i])
            sys.modules.setdefault(parent, _AliasModule(parent, {}))
        sys.modules[name] = _AliasModule(name, names)
    # `from feast.types import Float32` also needs the attribute on the parent module
    for name in _SUBMODULES:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])

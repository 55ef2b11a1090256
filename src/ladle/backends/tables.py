"""One name-to-class table per backend kind, and the entry points that let other packages extend them.

A ``type:`` in feature_store.yaml is looked up in this order:

1. a class path (``my_pkg.stores.MyStore``, Feast's plugin spelling; see :mod:`ladle.backends.plugins`);
2. a built-in name of the kind's table below (``"module:Class"`` strings, so nothing is imported until a
   repo names it: ``import ladle`` loads no backend and no driver);
3. an entry point of the kind's group, which is how a third-party package adds a backend::

       [project.entry-points."ladle.online_stores"]
       my_store = "my_pkg.online:MyOnlineStore"

Adding a built-in backend is its module plus one line here. The class found must subclass the kind's protocol
and implement every abstract method; its settings are validated by its config class (:func:`config_class`).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError, create_model

from ladle.backends.plugins import PluginConfig, check_backend, is_class_path, load_plugin
from ladle.common.backend_config import BackendConfig
from ladle.errors import InvalidConfig, did_you_mean


class RegistrySettings(Protocol):
    """The keys of ``registry:`` that choose its store (``ladle.config.RegistryConfig`` has them)."""

    registry_store_type: str | None
    registry_type: str
    path: str


__all__ = [
    "BATCH_ENGINES",
    "KINDS",
    "OFFLINE_STORES",
    "ONLINE_STORES",
    "REGISTRY_STORES",
    "BackendKind",
    "backend_class",
    "backend_names",
    "config_class",
    "import_ref",
    "registry_store_class",
    "section_config",
]


@dataclass(frozen=True)
class BackendKind:
    """One kind of backend: where the yaml names it, its protocol, its built-ins and its entry-point group."""

    #: the feature_store.yaml section (``online_store``) and the key in it naming the backend (``type``)
    section: str
    key: str
    #: the protocol every backend of the kind subclasses, as ``"module:Class"``
    protocol: str
    #: the entry-point group third-party packages register backends in
    group: str
    #: built-in name -> ``"module:Class"``
    builtins: Mapping[str, str]
    #: the model every section of the kind is an instance of (a plugin's model is made to derive from it)
    config_base: str = "ladle.common.backend_config:BackendConfig"

    @property
    def label(self) -> str:
        """The yaml key, for messages (``online_store.type``)."""
        return f"{self.section}.{self.key}"


OFFLINE_STORES = BackendKind(
    "offline_store",
    "type",
    "ladle.offline.base:OfflineStore",
    "ladle.offline_stores",
    {
        "duckdb": "ladle.offline.duckdb:DuckDBOfflineStore",
        "file": "ladle.offline.duckdb:DuckDBOfflineStore",  # Feast's name for parquet files
        "dask": "ladle.offline.duckdb:DuckDBOfflineStore",  # Feast's other parquet engine
        "postgres": "ladle.offline.postgres:PostgreSQLOfflineStore",
        "spark": "ladle.offline.spark:SparkOfflineStore",
    },
)
ONLINE_STORES = BackendKind(
    "online_store",
    "type",
    "ladle.online.base:OnlineStore",
    "ladle.online_stores",
    {
        "sqlite": "ladle.online.sqlite:SqliteOnlineStore",
        "redis": "ladle.online.redis:RedisOnlineStore",
        "postgres": "ladle.online.postgres:PostgreSQLOnlineStore",
        "dynamodb": "ladle.online.dynamodb:DynamoDBOnlineStore",
    },
    "ladle.online.base:OnlineStoreConfig",
)
REGISTRY_STORES = BackendKind(
    "registry",
    "registry_type",
    "ladle.registry.base:RegistryStore",
    "ladle.registry_stores",
    {
        "file": "ladle.registry.file:FileRegistryStore",
        "sql": "ladle.registry.sql:SqlRegistryStore",
        "s3": "ladle.registry.s3:S3RegistryStore",
    },
)
BATCH_ENGINES = BackendKind(
    "batch_engine",
    "type",
    "ladle.ingest.materialize:BatchEngine",
    "ladle.batch_engines",
    {"local": "ladle.ingest.materialize:LocalEngine", "spark": "ladle.ingest.spark_engine:SparkEngine"},
)
KINDS = (OFFLINE_STORES, ONLINE_STORES, REGISTRY_STORES, BATCH_ENGINES)


def import_ref(ref: str) -> Any:
    """The object a ``"module:Class"`` (or ``"module:Class.attr"``) string names, importing its module."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _entry_points(kind: BackendKind) -> dict[str, EntryPoint]:
    # read on every call (a few ms): a package installed or put on sys.path after start-up is seen
    return {ep.name: ep for ep in entry_points(group=kind.group)}


def backend_names(kind: BackendKind) -> list[str]:
    """Every name a ``type:`` of this kind may take: the built-ins and the installed entry points."""
    return sorted({*kind.builtins, *_entry_points(kind)})


def backend_class(kind: BackendKind, name: str, file: str, repo_path: Path, label: str | None = None) -> type:
    """The class ``name`` selects (a class path, a built-in name or an entry point), checked against the protocol.

    Raises :class:`~ladle.errors.InvalidConfig` naming the yaml key (``label``, default the kind's), the value
    and the fix.
    """
    protocol: type = import_ref(kind.protocol)
    label = label or kind.label
    if is_class_path(name):
        return load_plugin(name, protocol, label, file, repo_path)
    if name in kind.builtins:
        cls: type = import_ref(kind.builtins[name])
        return cls
    point = _entry_points(kind).get(name) if isinstance(name, str) else None
    if point is None:
        known = backend_names(kind)
        guess = did_you_mean(name, known)
        raise InvalidConfig(
            file,
            f"'{label}' is {name!r}; expected one of {', '.join(repr(n) for n in known)}"
            + (f"; did you mean '{guess}'?" if guess else ""),
            f"install the package that provides it (entry point group '{kind.group}') or name its class "
            "as module.Class",
        )
    try:
        loaded = point.load()
    except Exception as exc:
        raise InvalidConfig(
            file,
            f"'{label}' is {name!r}: its entry point {point.value!r} cannot be loaded ({exc})",
            "reinstall the package that provides it",
        ) from None
    return check_backend(loaded, protocol, label, f"{name!r} ({point.value})", file)


#: Feast's ``registry_store_type`` names of the stores ladle has
_FEAST_REGISTRY_STORES = {"FileRegistryStore": "file", "LocalRegistryStore": "file", "S3RegistryStore": "s3"}


def registry_store_class(registry: RegistrySettings, file: str, repo_path: Path) -> type:
    """The registry store class ``registry:`` selects.

    ``registry_store_type`` wins (a class path, one of Feast's store names, or a name of the table); else
    ``registry_type: sql`` or a ``postgresql://``/``sqlite:///`` path picks SQL, an ``s3://`` path S3, and
    anything else ``registry_type`` (``file`` by default).
    """
    if registry.registry_store_type:
        name = _FEAST_REGISTRY_STORES.get(registry.registry_store_type, registry.registry_store_type)
        return backend_class(REGISTRY_STORES, name, file, repo_path, "registry.registry_store_type")
    if registry.registry_type == "sql" or registry.path.startswith(("postgresql://", "postgres://", "sqlite:///")):
        return backend_class(REGISTRY_STORES, "sql", file, repo_path)
    if registry.path.startswith("s3://") and registry.registry_type == "file":
        return backend_class(REGISTRY_STORES, "s3", file, repo_path)
    return backend_class(REGISTRY_STORES, registry.registry_type, file, repo_path)


def config_class(cls: type) -> type[BaseModel]:
    """The settings model of backend class ``cls``.

    ``<Class>Config`` beside the class (Feast's convention), else the ``config_class`` it declares or inherits
    (a subclass of a built-in store takes that store's keys), else :class:`PluginConfig` (any keys, kept).
    """
    beside = getattr(sys.modules[cls.__module__], f"{cls.__name__}Config", None)
    if inspect.isclass(beside) and issubclass(beside, BaseModel):
        return beside
    declared: type[BaseModel] | None = getattr(cls, "config_class", None)  # every protocol declares it
    return declared if declared is not None else PluginConfig


def section_config(kind: BackendKind, cls: type, section: dict[str, Any], file: str) -> BackendConfig:
    """Validate a yaml section with the settings model of ``cls`` (the backend its ``type`` selected)."""
    model = config_class(cls)
    base: type[BaseModel] = import_ref(kind.config_base)
    if section.get(kind.key) not in kind.builtins or not issubclass(model, base):
        # a class path or an entry point's name is not one of the model's Literal names (a plugin may reuse a
        # built-in store's model), and a plugin's model may not derive from the kind's base (enforce_ttl, ...)
        bases = (model,) if issubclass(model, base) else (model, base)
        model = create_model(model.__name__, __base__=bases, type=(str, ...))
    try:
        config = model(**section)
    except ValidationError as exc:
        raise _describe(kind, exc, section, file) from None
    assert isinstance(config, BackendConfig)
    return config


def _describe(kind: BackendKind, error: ValidationError, section: dict[str, Any], file: str) -> InvalidConfig:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        plugin = f" for {section[kind.key]}" if is_class_path(section.get(kind.key)) else ""
        return InvalidConfig(
            file, f"unknown key '{kind.section}.{loc}'{plugin}", "remove it or check its spelling against the docs"
        )
    if first["type"] == "missing":
        return InvalidConfig(file, f"missing required key '{kind.section}.{loc}'")
    if first["type"] == "literal_error":
        return InvalidConfig(file, f"'{kind.section}.{loc}' is {first.get('input')!r}: {first['msg'].lower()}")
    return InvalidConfig(file, f"'{kind.section}.{loc}': {first['msg'].removeprefix('Value error, ')}")

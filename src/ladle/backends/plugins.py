"""Backends named by class path in feature_store.yaml, as Feast spells them.

``online_store: {type: my_pkg.stores.MyOnlineStore, ...}``, ``offline_store: {type: ...}`` and
``registry: {registry_store_type: ...}`` may name a class instead of a built-in type. The class is imported
(the repo folder is importable, so a module beside ``feature_store.yaml`` works) and must subclass ladle's
protocol (:class:`~ladle.online.base.OnlineStore`, :class:`~ladle.offline.base.OfflineStore`,
:class:`~ladle.registry.base.RegistryStore`) with every abstract method implemented; otherwise
:class:`~ladle.errors.InvalidConfig` names the yaml key, the class path and what is missing.

The other keys of the section are validated by the plugin's config class, found as Feast does: a pydantic
class named ``<Class>Config`` in the same module; else the config class of the built-in store the plugin
subclasses (a subclass of ``SqliteOnlineStore`` takes ``path``, ...); else the keys are kept as they are
(``extra`` allowed). Stores are created as the built-in ones are: ``Store(config, repo_path)``; a registry
store gets ``(registry_config, repo_path)``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ladle.errors import InvalidConfig

__all__ = ["PluginConfig", "is_class_path", "load_plugin", "plugin_config"]


class PluginConfig(BaseModel):
    """The section of a plugin without a config class of its own: ``type`` plus any keys, kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


def is_class_path(type_name: object) -> bool:
    """Whether a ``type:`` value names a class (``module.Class``) rather than a built-in store."""
    return isinstance(type_name, str) and "." in type_name


def load_plugin(class_path: str, base: type, key: str, file: str, repo_path: Path) -> type:
    """Import ``class_path`` and check it implements ``base``; ``key`` is the yaml key, for the message."""
    module_name, _, class_name = class_path.rpartition(".")
    if str(repo_path) not in sys.path:
        sys.path.insert(0, str(repo_path))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise InvalidConfig(
            file,
            f"'{key}' is {class_path!r}: module '{module_name}' cannot be imported ({exc})",
            "check the module path and that its package is installed",
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InvalidConfig(
            file,
            f"'{key}' is {class_path!r}: module '{module_name}' has no attribute '{class_name}'",
            "check the class name",
        )
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise InvalidConfig(
            file,
            f"'{key}' is {class_path!r}, which is not a subclass of ladle's {base.__name__}",
            f"subclass ladle.{base.__module__.removeprefix('ladle.')}.{base.__name__}",
        )
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise InvalidConfig(
            file,
            f"'{key}' is {class_path!r}, which does not implement {base.__name__}.{', '.join(missing)}",
            "implement the missing methods",
        )
    return cls


def plugin_config(
    cls: type, section: dict[str, Any], builtin_configs: dict[str, type[BaseModel]], key: str, file: str
) -> BaseModel:
    """Validate a plugin's section (its ``type`` is the class path) with the plugin's config class.

    ``builtin_configs`` maps a built-in store's ``module.Class`` to its config class.
    """
    module = sys.modules[cls.__module__]
    config_cls = getattr(module, f"{cls.__name__}Config", None)
    if not (inspect.isclass(config_cls) and issubclass(config_cls, BaseModel)):
        config_cls = next(
            (c for base in cls.__mro__ if (c := builtin_configs.get(f"{base.__module__}.{base.__qualname__}"))),
            PluginConfig,
        )
    if config_cls is not PluginConfig:  # the built-in model's `type` is a Literal: accept the class path
        config_cls = create_model(config_cls.__name__, __base__=config_cls, type=(str, ...))
    try:
        return config_cls(**section)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise InvalidConfig(
                file, f"unknown key '{key}.{loc}' for {section['type']}", "remove it or check its spelling"
            ) from None
        raise InvalidConfig(file, f"'{key}.{loc}': {first['msg']}") from None

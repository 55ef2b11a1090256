"""Backends named by class path in feature_store.yaml, as Feast spells them.

``online_store: {type: my_pkg.stores.MyOnlineStore, ...}``, ``offline_store: {type: ...}``,
``batch_engine: {type: ...}`` and ``registry: {registry_store_type: ...}`` may name a class instead of a
built-in type. The class is imported (the repo folder is importable, so a module beside
``feature_store.yaml`` works) and must subclass ladle's protocol (:class:`~ladle.online.base.OnlineStore`,
:class:`~ladle.offline.base.OfflineStore`, :class:`~ladle.ingest.materialize.BatchEngine`,
:class:`~ladle.registry.base.RegistryStore`) with every abstract method implemented; otherwise
:class:`~ladle.errors.InvalidConfig` names the yaml key, the class path and what is missing.

The other keys of the section are validated by the plugin's config class (see
:func:`ladle.backends.tables.config_class`). Backends are created as the built-in ones are:
``Store(config, repo_path)``; a registry store gets ``(registry_config, repo_path, project)``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import ConfigDict

from ladle.common.backend_config import BackendConfig
from ladle.errors import InvalidConfig

__all__ = ["PluginConfig", "check_backend", "is_class_path", "load_plugin"]


class PluginConfig(BackendConfig):
    """The section of a plugin without a config class of its own: ``type`` plus any keys, kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)


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
    return check_backend(cls, base, key, repr(class_path), file)


def check_backend(cls: Any, base: type, key: str, shown: str, file: str) -> type:
    """``cls`` if it is a class implementing every abstract method of ``base``; else InvalidConfig naming ``key``."""
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise InvalidConfig(
            file,
            f"'{key}' is {shown}, which is not a subclass of ladle's {base.__name__}",
            f"subclass ladle.{base.__module__.removeprefix('ladle.')}.{base.__name__}",
        )
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise InvalidConfig(
            file,
            f"'{key}' is {shown}, which does not implement {base.__name__}.{', '.join(missing)}",
            "implement the missing methods",
        )
    return cls

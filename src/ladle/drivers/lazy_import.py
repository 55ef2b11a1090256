"""Backend drivers imported on first use, so that ``import ladle`` and the CLI do not pay for boto3,
psycopg and redis (~0.35 s together) when the repo uses none of them."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

__all__ = ["lazy_attribute", "lazy_module"]


def lazy_module(name: str) -> Any:
    """The top-level package ``name``, loaded when an attribute is first read; None when not installed."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


class lazy_attribute:
    """``module.attribute`` (e.g. ``psycopg.sql``), resolved when one of its own attributes is first read."""

    def __init__(self, module: str, attribute: str) -> None:
        self._path = (module, attribute)
        self._target: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._target is None:
            module, attribute = self._path
            parent = importlib.import_module(module)
            # a submodule its package does not import itself (psycopg.sql before any connection opened)
            self._target = getattr(parent, attribute, None) or importlib.import_module(f"{module}.{attribute}")
        return getattr(self._target, name)

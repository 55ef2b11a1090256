"""The registry: definitions and bookkeeping, stored as one JSON document replaced atomically."""

from __future__ import annotations

from ladle.registry.base import RegistryStore
from ladle.registry.diff import ObjectChange, RegistryDiff
from ladle.registry.file import FileRegistryStore
from ladle.registry.registry import Registry

__all__ = ["FileRegistryStore", "ObjectChange", "Registry", "RegistryDiff", "RegistryStore"]

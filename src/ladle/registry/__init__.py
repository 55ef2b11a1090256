"""The registry: a project's definitions and bookkeeping, stored as one JSON document replaced atomically.

- :class:`Registry` — reads (Feast's names), plan/apply/delete, materialization bookkeeping
- :class:`RegistryState` — the whole content as plain data, and its JSON form
- :class:`RegistryDiff` / :class:`ObjectChange` / :class:`FieldChange` — what an apply changes
- :class:`RegistryStore` — where the bytes live (:class:`FileRegistryStore`: a local file)
"""

from __future__ import annotations

from ladle.registry.base import RegistryStore, content_token
from ladle.registry.diff import FieldChange, ObjectChange, RegistryDiff, diff_specs
from ladle.registry.file import FileRegistryStore
from ladle.registry.registry import ApplyInfra, Registry, make_registry_store
from ladle.registry.state import RegistryState

__all__ = [
    "ApplyInfra",
    "FieldChange",
    "FileRegistryStore",
    "ObjectChange",
    "Registry",
    "RegistryDiff",
    "RegistryState",
    "RegistryStore",
    "content_token",
    "diff_specs",
    "make_registry_store",
]

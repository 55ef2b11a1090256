"""Registry history for the UI: the versions applied and what each changed.

This is the one place the UI reads history from. Today it reads the ``history`` the registry document
keeps (one entry per apply: version, time, object hashes, field-by-field changes; the last
:data:`~ladle.registry.state.HISTORY_LIMIT`). When the registry gains its own history API (``ladle
registry history``, publish and rollback), :func:`versions` and :func:`version_detail` are what to point
at it; the routes and pages use only these two.
"""

from __future__ import annotations

from typing import Any

from ladle.errors import NotFound
from ladle.registry.state import RegistryState

__all__ = ["version_detail", "versions"]


def _counts(changes: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"added": 0, "changed": 0, "removed": 0}
    for change in changes:
        kind = str(change.get("change", ""))
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def versions(state: RegistryState) -> dict[str, Any]:
    """``{"current", "last_updated", "source", "versions": [{version, time, objects, added, changed, removed}]}``,
    newest first."""
    items = [
        {
            "version": e["version"],
            "time": e.get("time"),
            "objects": len(e.get("objects") or {}),
            **_counts(e["changes"]),
        }
        for e in reversed(state.history)
    ]
    return {
        "current": state.version,
        "last_updated": state.last_updated,
        "source": "registry document (applies)",
        "versions": items,
    }


def version_detail(state: RegistryState, version: int) -> dict[str, Any]:
    """One version: its time, its changes (kind, name, added/changed/removed, fields with old and new
    values) and the objects it left (``kind/name → hash``). 404 when it is not in the history."""
    for entry in state.history:
        if entry["version"] == version:
            return {
                "version": version,
                "time": entry.get("time"),
                "changes": entry.get("changes") or [],
                "objects": entry.get("objects") or {},
            }
    known = [str(e["version"]) for e in state.history]
    raise NotFound("registry version", str(version), state.project, known=known)

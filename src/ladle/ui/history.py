"""Registry history for the UI: the versions applied, who made them, and what changed, with values.

This is the one place the UI reads history from, and it reads it through the registry's history API
(:mod:`ladle.registry.history`, the data of ``ladle registry history`` and ``ladle registry diff A B``) on
the registry state the UI serves: every retained version with its time, user, host, summary and whether it
changed a feature view's contract; a version's changes against the version before it, field by field with
old and new values; and the comparison of any two retained versions. Diffs are computed once per registry
state and pair of versions (:meth:`~ladle.ui.catalog.Snapshot.cached`).
"""

from __future__ import annotations

from typing import Any

from ladle.errors import InvalidRequest, NotFound
from ladle.registry.contracts import annotate_contracts
from ladle.registry.diff import MISSING, FieldChange, ObjectChange
from ladle.registry.history import diff_versions, list_versions, specs_at
from ladle.registry.state import RegistryState
from ladle.ui.catalog import Snapshot

__all__ = ["compare", "version_detail", "versions"]


def _counts(changes: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, int]:
    counts = {"added": 0, "changed": 0, "removed": 0}
    for change in changes:
        kind = str(change.get("change", ""))
        counts[kind] = counts.get(kind, 0) + 1
    counts["contract_changes"] = sum(1 for c in changes if c.get("contract_changed"))
    return counts


def versions(state: RegistryState) -> dict[str, Any]:
    """``{"current", "last_updated", "retained", "versions": [...]}``, newest first; each version has its time,
    user, host, summary, ``rollback_of``, ``restorable``, object count, change counts and
    ``contract_changes`` (feature views whose schema hash it changed)."""
    objects = {int(e["version"]): len(e.get("objects") or {}) for e in state.history}
    items = [
        {
            "version": v.version,
            "time": v.time,
            "user": v.user,
            "host": v.host,
            "summary": v.summary,
            "rollback_of": v.rollback_of,
            "restorable": v.restorable,
            "objects": objects.get(v.version, 0),
            **_counts(v.changes),
        }
        for v in reversed(list_versions(state))
    ]
    return {
        "current": state.version,
        "last_updated": state.last_updated,
        "retained": len(items),
        "versions": items,
    }


def _plain(value: Any) -> Any:
    return None if value is MISSING else value


def _field(change: FieldChange) -> dict[str, Any]:
    """A changed field with its old and new value (``absent``: the side where the key did not exist)."""
    absent = "old" if change.old is MISSING else "new" if change.new is MISSING else None
    return {"path": change.path, "old": _plain(change.old), "new": _plain(change.new), "absent": absent}


def _object_change(change: ObjectChange) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": change.kind,
        "name": change.name,
        "change": change.change,
        "fields": [_field(f) for f in change.fields],
        "contract_changed": change.contract_changed,
    }
    if change.schema_hashes is not None:
        out["schema_hash_before"], out["schema_hash_after"] = change.schema_hashes
    return out


def _entry(state: RegistryState, version: int) -> dict[str, Any]:
    for entry in state.history:
        if int(entry["version"]) == version:
            return entry
    raise NotFound("registry version", str(version), state.project, known=[str(e["version"]) for e in state.history])


def _diff(snapshot: Snapshot, a: int, b: int) -> list[dict[str, Any]]:
    """The changes from version ``a`` to ``b`` with values and contract flags (kept per snapshot)."""

    def make() -> list[dict[str, Any]]:
        state = snapshot.state
        diff = annotate_contracts(diff_versions(state, a, b), specs_at(state, a), specs_at(state, b))
        return [_object_change(c) for c in diff.changes]

    changes: list[dict[str, Any]] = snapshot.cached(("registry-diff", a, b), make)
    return changes


def version_detail(snapshot: Snapshot, version: int) -> dict[str, Any]:
    """One retained version: its time, user, host, summary, and its changes against the version before it,
    each changed field with its old and new value. When the version before is past retention (or was written
    before the registry kept snapshots) the changes are the paths the history entry names, without values
    (``values: false`` and ``why``). 404 for a version not in the history."""
    state = snapshot.state
    entry = _entry(state, version)
    listed = next(v for v in list_versions(state) if v.version == version)
    document: dict[str, Any] = {
        "version": version,
        "previous": version - 1,
        "time": listed.time,
        "user": listed.user,
        "host": listed.host,
        "summary": listed.summary,
        "rollback_of": listed.rollback_of,
        "restorable": listed.restorable,
        "objects": entry.get("objects") or {},
    }
    try:
        changes = _diff(snapshot, version - 1, version)
    except InvalidRequest as exc:
        recorded = entry.get("changes") or []
        changes = [
            {**c, "fields": [{"path": p, "old": None, "new": None, "absent": None} for p in c.get("fields") or []]}
            for c in recorded
        ]
        return {**document, "changes": changes, "values": False, "why": str(exc), **_counts(recorded)}
    return {**document, "changes": changes, "values": True, "why": "", **_counts(changes)}


def compare(snapshot: Snapshot, a: int, b: int) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b`` (``ladle registry diff A B``): objects added, changed
    (every field with its old and new value, feature views marked contract or cosmetic) and removed. ``0``
    is the empty registry. 404 for a version that never existed; 400 for one past retention."""
    state = snapshot.state
    kept = {int(e["version"]) for e in state.history}
    for version in (a, b):
        if version != 0 and version not in kept and not 0 < version <= state.version:
            raise NotFound("registry version", str(version), state.project, known=[str(v) for v in sorted(kept)])
    changes = _diff(snapshot, a, b)
    return {"from": a, "to": b, "changes": changes, **_counts(changes)}

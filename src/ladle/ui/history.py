"""Registry history for the UI: the versions applied, who made them, and what changed, with values.

This is the one place the UI reads history from, and it reads it through the registry's history API
(:mod:`ladle.registry.history`, the data of ``ladle registry history`` and ``ladle registry diff A B``) on
the registry state the UI serves: every retained version with its time, user, host, summary and whether it
changed a feature view's contract; a version's changes against the version before it, field by field with
old and new values; and the comparison of any two retained versions. A diff is the registry's
(:class:`~ladle.registry.diff.RegistryDiff` over :func:`~ladle.registry.history.specs_at`, feature views
marked by :func:`~ladle.registry.contracts.spec_schema_hash` as ``annotate_contracts`` does) over the
objects whose content hash differs between the two versions, computed once per pair of versions and kept
across registry refreshes (a retained version never changes); the refresher prepares the newest versions'
diffs (:func:`warm`), so opening a recent version costs a lookup.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ladle.errors import InvalidRequest, LadleError, NotFound
from ladle.registry.contracts import spec_schema_hash
from ladle.registry.diff import MISSING, FieldChange, ObjectChange, RegistryDiff
from ladle.registry.history import RegistryVersion, list_versions, specs_at
from ladle.registry.state import KIND_SINGULAR, RegistryState, Specs
from ladle.ui.catalog import Snapshot

__all__ = ["compare", "version_detail", "versions", "warm"]


def _counts(changes: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, int]:
    counts = {"added": 0, "changed": 0, "removed": 0}
    for change in changes:
        kind = str(change.get("change", ""))
        counts[kind] = counts.get(kind, 0) + 1
    counts["contract_changes"] = sum(1 for c in changes if c.get("contract_changed"))
    return counts


def versions(snapshot: Snapshot) -> dict[str, Any]:
    """``{"current", "last_updated", "retained", "versions": [...]}``, newest first; each version has its time,
    user, host, summary, ``rollback_of``, ``restorable``, object count, change counts and
    ``contract_changes`` (feature views whose schema hash it changed). Built once per registry state."""
    document: dict[str, Any] = snapshot.cached(("registry-versions",), lambda: _versions(snapshot.state))
    return document


def _versions(state: RegistryState) -> dict[str, Any]:
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


def _listed(snapshot: Snapshot) -> list[RegistryVersion]:
    found: list[RegistryVersion] = snapshot.cached(("registry-listed",), lambda: list_versions(snapshot.state))
    return found


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


def _objects(state: RegistryState, version: int) -> dict[str, str]:
    """``kind/name -> content hash`` of a retained version (``0``: the empty registry)."""
    return {} if version == 0 else dict(_entry(state, version).get("objects") or {})


def _stamp(state: RegistryState, version: int) -> str:
    """What tells a retained version from another one with its number (a registry made again starts over)."""
    for entry in state.history:
        if int(entry["version"]) == version:
            return str(entry.get("time", ""))
    specs_at(state, version)  # the registry's own error: past retention, or never existed (0 is the empty registry)
    return ""


class _Memo:
    """Results that never change once computed (a retained version's content is fixed), kept across registry
    refreshes, the oldest dropped past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit, self.items, self.lock = limit, OrderedDict[Any, Any](), threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.limit:
                self.items.popitem(last=False)
        return value


#: diffs by (project, a, time of a, b, time of b); schema hashes by (view content hash, entities' hashes)
_DIFFS = _Memo(256)
_SCHEMA_HASHES = _Memo(100_000)


def _schema_hash(digest: str, entities: str, spec: dict[str, Any], entity_specs: dict[str, Any]) -> str | None:
    found: str | None = _SCHEMA_HASHES.get((digest, entities), lambda: spec_schema_hash(spec, entity_specs))
    return found


def _compute(state: RegistryState, a: int, b: int) -> list[dict[str, Any]]:
    """The registry's diff of two versions, walking only the objects whose content hash differs, each changed
    feature view marked as a contract or a cosmetic change (its schema hashes)."""
    old_specs, new_specs = specs_at(state, a), specs_at(state, b)
    old_objects, new_objects = _objects(state, a), _objects(state, b)
    differing = {r for r in old_objects.keys() | new_objects.keys() if old_objects.get(r) != new_objects.get(r)}

    def only_differing(specs: Specs) -> Specs:
        return {k: {n: s for n, s in specs[k].items() if f"{KIND_SINGULAR[k]}/{n}" in differing} for k in specs}

    def entities(objects: dict[str, str]) -> str:
        return "|".join(f"{r}={h}" for r, h in sorted(objects.items()) if r.startswith("entity/"))

    diff = RegistryDiff.compute(only_differing(old_specs), only_differing(new_specs))
    sides = [(old_objects, entities(old_objects), old_specs), (new_objects, entities(new_objects), new_specs)]
    out = []
    for change in diff.changes:
        if change.kind == "feature_view" and change.change == "changed":
            ref = f"feature_view/{change.name}"
            before, after = (
                _schema_hash(objs[ref], sig, specs["feature_views"][change.name], specs["entities"])
                for objs, sig, specs in sides
            )
            change = dataclasses.replace(change, schema_hashes=(before, after))
        out.append(_object_change(change))
    return out


def _diff(state: RegistryState, a: int, b: int) -> list[dict[str, Any]]:
    """The changes from version ``a`` to ``b`` with values and contract flags (computed once per pair)."""
    key = (state.project, a, _stamp(state, a), b, _stamp(state, b))
    changes: list[dict[str, Any]] = _DIFFS.get(key, lambda: _compute(state, a, b))
    return changes


def warm(state: RegistryState, budget_sec: float = 2.0) -> int:
    """Compute the diffs of the newest retained versions against the versions before them, newest first, until
    ``budget_sec`` is spent (the refresher's thread calls it for each new registry state; a diff computed once
    is kept). How many versions it went through."""
    started = time.monotonic()
    done = 0
    for entry in reversed(state.history):
        if time.monotonic() - started > budget_sec:
            break
        version = int(entry["version"])
        with contextlib.suppress(LadleError):  # past retention, or not restorable: the page shows recorded paths
            _diff(state, version - 1, version)
        done += 1
    return done


def version_detail(snapshot: Snapshot, version: int) -> dict[str, Any]:
    """One retained version: its time, user, host, summary, and its changes against the version before it,
    each changed field with its old and new value. When the version before is past retention (or was written
    before the registry kept snapshots) the changes are the paths the history entry names, without values
    (``values: false`` and ``why``). 404 for a version not in the history."""
    state = snapshot.state
    entry = _entry(state, version)
    listed = next(v for v in _listed(snapshot) if v.version == version)
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
        changes = _diff(state, version - 1, version)
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
    changes = _diff(state, a, b)
    return {"from": a, "to": b, "changes": changes, **_counts(changes)}

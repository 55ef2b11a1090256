"""Feast's feature view versions (v0, v1, ...) on ladle's registry history.

Each feature view gets a version number per *contract*: the first apply registers v0, and an apply that
changes the view's schema hash (:func:`ladle.definitions.contract.schema_hash`) adds the next number; a
cosmetic change (description, tags, owner, ttl) updates the current version in place, as in Feast. The
registry keeps, per view, each version's spec (in the snapshot pool), schema hash, registry version and
time, and which version is *active*.

- ``driver_stats@v1:trips`` reads version 1's definition: offline from its source and schema; online from
  the view's table when v1 is the active version (ladle keeps one online table per view; reading a
  non-active version online is refused with the fix).
- ``FeatureView(..., version="v1")`` pins the view: the apply registers v1's definition as the active one
  (the online tables follow as for any apply), and ``version="latest"`` (the default) returns to the
  definition in the repo. Changing the definition and the pin in one apply is refused (Feast's pin conflict).
"""

from __future__ import annotations

import re
from typing import Any

from ladle.definitions import FeatureView
from ladle.definitions.base import content_hash
from ladle.errors import InvalidDefinition, InvalidRequest
from ladle.registry.state import RegistryState, Specs

__all__ = ["apply_pins", "next_view_versions", "split_versioned", "version_spec", "versioned_view"]

_VERSIONED = re.compile(r"^(?P<name>.+)@v(?P<number>\d+)$")


def split_versioned(name: str) -> tuple[str, int | None]:
    """``"stats@v2"`` -> ``("stats", 2)``; ``"stats"`` -> ``("stats", None)``.

    >>> split_versioned("driver_stats@v2"), split_versioned("driver_stats")
    (('driver_stats', 2), ('driver_stats', None))
    """
    match = _VERSIONED.match(name)
    if match is None:
        return name, None
    return match["name"], int(match["number"])


def _record(state: RegistryState, view: str) -> dict[str, Any]:
    record: dict[str, Any] = state.view_versions.get(view) or {"active": None, "versions": []}
    return record


def version_spec(state: RegistryState, view: str, number: int) -> dict[str, Any]:
    """The ``to_dict()`` of version ``number`` of ``view`` (InvalidRequest naming the known versions)."""
    versions = _record(state, view)["versions"]
    for v in versions:
        if v["version"] == number:
            spec = state.snapshots.get(v["spec"])
            if spec is not None:
                return spec
    known = ", ".join(f"v{v['version']}" for v in versions) or "none"
    raise InvalidRequest(
        f"feature view '{view}' has no version v{number} in project '{state.project}' (versions: {known}); "
        f"see `ladle feature-views versions {view}`"
    )


def versioned_view(state: RegistryState, view: str, number: int) -> FeatureView:
    """Version ``number`` of ``view`` as an object (entities bound); ``online_servable`` tells whether it is
    the active version, the only one the view's online table holds."""
    entities = state.entities()
    out = FeatureView.from_dict(version_spec(state, view, number), entities)
    out.bind_entities(entities)
    active = _record(state, view)["active"]
    out.online_servable = active == number  # type: ignore[attr-defined]
    out.active_version = active  # type: ignore[attr-defined]
    return out


def _without_pin(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "version"}


def apply_pins(desired: Specs, state: RegistryState) -> Specs:
    """``desired`` with each pinned view (``version: vN``) replaced by version N's definition, keeping the pin.

    The pinned view's own definition must be the one the registry holds, or that of its newest version;
    a definition changed together with a pin is refused (Feast's ``FeatureViewPinConflict``).
    """
    out = {k: dict(v) for k, v in desired.items()}
    for name, spec in desired["feature_views"].items():
        pin = spec.get("version")
        if not pin:
            continue
        number = int(str(pin)[1:])
        target = version_spec(state, name, number)
        record = _record(state, name)
        current = state.objects["feature_views"].get(name)
        newest = record["versions"][-1]["spec"] if record["versions"] else None
        allowed = {content_hash(_without_pin(s)) for s in _known_specs(state, name, current, newest)}
        if content_hash(_without_pin(spec)) not in allowed:
            raise InvalidDefinition(
                "FeatureView",
                name,
                f"is pinned to {pin} and its definition was changed in the same apply",
                "apply the definition change and the pin separately (or remove version=...)",
            )
        out["feature_views"][name] = {**_without_pin(target), "version": pin}
    return out


def _known_specs(state: RegistryState, name: str, current: Any, newest: str | None) -> list[dict[str, Any]]:
    specs = [current.spec] if current is not None else []
    if newest is not None and newest in state.snapshots:
        specs.append(state.snapshots[newest])
    return specs


def next_view_versions(
    state: RegistryState, desired: Specs, schema_hashes: dict[str, str | None], registry_version: int, stamp: str
) -> dict[str, dict[str, Any]]:
    """The per-view version records after an apply that registers ``desired`` as registry ``registry_version``."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in sorted(desired["feature_views"].items()):
        record = _record(state, name)
        versions = [dict(v) for v in record["versions"]]
        digest = content_hash(spec)
        pin = spec.get("version")
        if pin:
            out[name] = {"active": int(str(pin)[1:]), "versions": versions}
            continue
        entry = {"spec": digest, "schema_hash": schema_hashes.get(name), "registry_version": registry_version}
        if versions and versions[-1]["schema_hash"] == schema_hashes.get(name):
            versions[-1] = {**versions[-1], **entry}  # cosmetic change: the newest version updated in place
        else:
            versions.append({"version": len(versions), **entry, "time": stamp})
        out[name] = {"active": versions[-1]["version"], "versions": versions}
    return out

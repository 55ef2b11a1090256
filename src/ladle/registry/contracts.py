"""Telling a contract change from a cosmetic one in a registry diff.

A changed feature view is a *contract change* when its schema hash
(:func:`ladle.definitions.contract.schema_hash`: join keys, features, types, event-timestamp column) differs
between the two sides, and *cosmetic* otherwise (description, tags, owner, ttl, online, source options).
``ladle plan``, ``apply``, ``registry diff`` and the history show the two apart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ladle.definitions import Entity, FeatureView
from ladle.definitions.contract import schema_hash
from ladle.registry.diff import RegistryDiff
from ladle.registry.state import Specs

__all__ = ["annotate_contracts", "spec_schema_hash", "view_schema_hashes"]


def spec_schema_hash(spec: dict[str, Any], entity_specs: dict[str, dict[str, Any]]) -> str | None:
    """The schema hash of a feature view's ``to_dict()`` (``None`` when it cannot be rebuilt)."""
    try:
        entities = {n: Entity.from_dict(s) for n, s in entity_specs.items()}
        view = FeatureView.from_dict(spec, entities)
        view.bind_entities(entities)
        return schema_hash(view)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def view_schema_hashes(specs: Specs) -> dict[str, str | None]:
    """``view name -> schema hash`` of every feature view in ``specs``."""
    return {n: spec_schema_hash(s, specs["entities"]) for n, s in sorted(specs["feature_views"].items())}


def annotate_contracts(diff: RegistryDiff, old: Specs, new: Specs) -> RegistryDiff:
    """``diff`` with each changed feature view marked as a contract change or a cosmetic one."""
    changes = []
    for change in diff.changes:
        if change.kind == "feature_view" and change.change == "changed":
            before = spec_schema_hash(old["feature_views"][change.name], old["entities"])
            after = spec_schema_hash(new["feature_views"][change.name], new["entities"])
            change = dataclasses.replace(change, schema_hashes=(before, after))
        changes.append(change)
    return dataclasses.replace(diff, changes=tuple(changes))

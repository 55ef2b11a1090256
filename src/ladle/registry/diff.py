"""What an apply would change: objects added, removed, and changed field by field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ObjectChange", "RegistryDiff", "diff_specs"]

KIND_LABELS = {
    "projects": "project",
    "entities": "entity",
    "data_sources": "data_source",
    "feature_views": "feature_view",
    "on_demand_feature_views": "on_demand_feature_view",
    "feature_services": "feature_service",
}


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _walk(old: Any, new: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append((sub, None, new[k]))
            elif k not in new:
                out.append((sub, old[k], None))
            else:
                _walk(old[k], new[k], sub, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append((path, old, new))


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Field paths where two ``to_dict()`` documents differ, with old and new values."""
    out: list[tuple[str, Any, Any]] = []
    _walk(old, new, "", out)
    return out


@dataclass
class ObjectChange:
    """One object's change: ``added``, ``removed`` or ``changed`` (with the changed fields)."""

    kind: str
    name: str
    change: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the registry history)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "fields": [p for p, _, _ in self.fields],
        }

    def describe(self) -> list[str]:
        """Human lines: ``+ feature_view x``, ``~ feature_view x: ttl_seconds: 86400 -> 3600``."""
        label = f"{KIND_LABELS.get(self.kind, self.kind)} {self.name}"
        if self.change == "added":
            return [f"+ {label}"]
        if self.change == "removed":
            return [f"- {label}"]
        return [f"~ {label}: {p}: {_fmt(a)} -> {_fmt(b)}" for p, a, b in self.fields]


@dataclass
class RegistryDiff:
    """Every change an apply makes (empty when the registry already matches)."""

    changes: list[ObjectChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def of(self, change: str) -> list[ObjectChange]:
        """The changes of one type: ``added``, ``changed`` or ``removed``."""
        return [c for c in self.changes if c.change == change]

    def describe(self) -> list[str]:
        """Human lines, one per added/removed object and one per changed field."""
        return [line for c in self.changes for line in c.describe()]

"""``Project``: the namespace every other definition lives in."""

from __future__ import annotations

from typing import Any

from ladle.definitions.base import Named, check_name, check_tags

__all__ = ["Project"]


class Project(Named):
    """A project's own metadata (its name must match ``project:`` in feature_store.yaml)."""

    def __init__(
        self, *, name: str, description: str = "", tags: dict[str, str] | None = None, owner: str = ""
    ) -> None:
        self.name = check_name("Project", name)
        self.description = description or ""
        self.tags = check_tags("Project", name, tags)
        self.owner = owner or ""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            "kind": "project",
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Project:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )

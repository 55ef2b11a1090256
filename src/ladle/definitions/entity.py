"""``Entity``: the thing features describe, and the key columns that identify it."""

from __future__ import annotations

from typing import Any

from ladle.definitions.base import Named, check_column, check_name, check_tags
from ladle.errors import InvalidDefinition
from ladle.types import ValueType

__all__ = ["Entity"]


class Entity(Named):
    """A business object (driver, customer, ...) identified by one or more join-key columns.

    >>> driver = Entity(name="driver", join_keys=["driver_id"])
    >>> driver.join_key
    'driver_id'
    """

    def __init__(
        self,
        *,
        name: str,
        join_keys: list[str] | None = None,
        value_type: ValueType | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        join_key: str | None = None,
    ) -> None:
        self.name = check_name("Entity", name)
        if join_key is not None and join_keys is not None:
            raise InvalidDefinition("Entity", name, "give join_keys or the older join_key, not both")
        keys = [join_key] if join_key is not None else (list(join_keys) if join_keys is not None else [name])
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise InvalidDefinition("Entity", name, f"join_keys must be a non-empty list of column names, got {keys!r}")
        if len(set(keys)) != len(keys):
            raise InvalidDefinition("Entity", name, f"join_keys has a repeated column: {keys!r}")
        for key in keys:
            check_column("Entity", name, key, "join key")
        self.join_keys: list[str] = keys
        if value_type is not None and not isinstance(value_type, ValueType):
            raise InvalidDefinition(
                "Entity", name, f"value_type must be a ladle.ValueType, got {value_type!r}", "e.g. ValueType.INT64"
            )
        self.value_type: ValueType = value_type or ValueType.UNKNOWN
        self.description = description or ""
        self.tags = check_tags("Entity", name, tags)
        self.owner = owner or ""

    @property
    def join_key(self) -> str:
        """The first join key (Feast's single-key attribute)."""
        return self.join_keys[0]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            "kind": "entity",
            "name": self.name,
            "join_keys": self.join_keys,
            "value_type": self.value_type.name,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            join_keys=data["join_keys"],
            value_type=ValueType[data.get("value_type", "UNKNOWN")],
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
        )

    def __repr__(self) -> str:
        return f"Entity(name={self.name!r}, join_keys={self.join_keys!r})"

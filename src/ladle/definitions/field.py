"""``Field``: a named, typed column of a feature view, request source or on-demand view."""

from __future__ import annotations

from typing import Any

from ladle.definitions.base import check_column, check_tags
from ladle.errors import InvalidDefinition
from ladle.types import FeastType, ValueType, as_feast_type, dtype_from_dict, dtype_to_dict

__all__ = ["Feature", "Field"]


class Field:
    """A named column with a ladle type.

    >>> from ladle.types import Float32
    >>> Field(name="conv_rate", dtype=Float32)
    Field(name='conv_rate', dtype=Float32)
    """

    def __init__(self, *, name: str, dtype: Any, description: str = "", tags: dict[str, str] | None = None) -> None:
        self.name = check_column("Field", None, name, "name")
        try:
            self.dtype: FeastType = as_feast_type(dtype)
        except TypeError as exc:
            raise InvalidDefinition("Field", name, str(exc)) from exc
        self.description = description or ""
        self.tags = check_tags("Field", name, tags)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        out: dict[str, Any] = {"name": self.name, "dtype": dtype_to_dict(self.dtype)}
        if self.description:
            out["description"] = self.description
        if self.tags:
            out["tags"] = self.tags
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            dtype=dtype_from_dict(data["dtype"]),
            description=data.get("description", ""),
            tags=data.get("tags"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.name, repr(self.dtype)))

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, dtype={self.dtype!r})"


def Feature(name: str, dtype: ValueType | FeastType, labels: dict[str, str] | None = None) -> Field:
    """The pre-``Field`` spelling used by older Feast tutorials: ``Feature(name=..., dtype=ValueType.INT64)``."""
    return Field(name=name, dtype=dtype, tags=labels)

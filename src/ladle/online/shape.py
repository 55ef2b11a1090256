"""What :meth:`OnlineStore.update` does to a kept view's stored rows: one rule for every online store.

A view's *shape* is its join keys and each feature's declared type. When ``update`` finds a view stored
with another shape:

* a changed entity key (other join keys) drops the view's rows: they are keyed by something else now;
* otherwise the rows stay, with the values of every feature still declared with the same type;
* a dropped feature's values are removed, and a feature whose type changed is cleared (null until the
  next write), so no value is ever read as a type it was not written as, and a feature dropped and
  declared again never brings back old values.

Stores without a schema of their own (Redis, DynamoDB, PostgreSQL comments) keep the shape they last
applied as :meth:`ViewShape.to_json`; a view stored before shapes were recorded keeps its rows as they are.

>>> old = ViewShape(("driver_id",), {"a": "Int64", "b": "Float64"})
>>> shape_change(old, ViewShape(("driver_id",), {"a": "Int64", "b": "String", "c": "Bool"}))
ShapeChange(drop_rows=False, cleared=['b'])
>>> shape_change(old, ViewShape(("driver_id", "day"), {"a": "Int64"})).drop_rows
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ladle.definitions import FeatureView

__all__ = ["ShapeChange", "ViewShape", "shape_change"]


@dataclass(frozen=True)
class ViewShape:
    """A view's join keys (in order) and its features' declared types (``repr`` of the ladle type)."""

    join_keys: tuple[str, ...]
    features: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, view: FeatureView) -> ViewShape:
        """The shape ``view`` declares."""
        return cls(tuple(view.join_keys), {f.name: repr(f.dtype) for f in view.features})

    def to_json(self) -> str:
        """The shape as compact JSON text (what stores record)."""
        return json.dumps({"join_keys": list(self.join_keys), "features": self.features}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes | None) -> ViewShape | None:
        """The recorded shape, or ``None`` when nothing (or something unreadable) was recorded."""
        if not text:
            return None
        try:
            doc = json.loads(text)
            return cls(tuple(doc["join_keys"]), dict(doc["features"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class ShapeChange:
    """What an update does to stored rows: drop them all, or clear these features' values."""

    drop_rows: bool
    cleared: list[str]

    @property
    def any(self) -> bool:
        """Whether anything stored changes."""
        return self.drop_rows or bool(self.cleared)


def shape_change(old: ViewShape | None, new: ViewShape) -> ShapeChange:
    """The change from the stored shape ``old`` (``None``: none recorded, rows kept) to ``new``."""
    if old is None:
        return ShapeChange(False, [])
    if old.join_keys != new.join_keys:
        return ShapeChange(True, list(old.features))
    return ShapeChange(False, [f for f, t in old.features.items() if new.features.get(f) != t])

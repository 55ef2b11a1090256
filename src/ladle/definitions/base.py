"""What every definition shares: name checks, tags, and JSON round-tripping helpers."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import orjson

from ladle.errors import InvalidDefinition

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-\.]*$")


def check_name(kind: str, name: Any) -> str:
    """Return ``name`` if it is a usable object name, else raise naming the problem."""
    if not isinstance(name, str) or not name:
        raise InvalidDefinition(kind, None, f"name must be a non-empty string, got {name!r}")
    if not _NAME.match(name):
        raise InvalidDefinition(
            kind, name, "name may only contain letters, digits, '_', '-' and '.', and must not start with a digit"
        )
    return name


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_column(kind: str, name: str | None, column: Any, what: str = "column name") -> str:
    """Return ``column`` if it can name a column in every store's DDL, else raise naming the problem.

    Any printable text is allowed (stores quote it); control characters are not: a newline in a join key
    once ended the SQLite table's ``-- key`` comment and added a column.
    """
    if not isinstance(column, str) or not column:
        raise InvalidDefinition(kind, name, f"{what} must be a non-empty string, got {column!r}")
    if _CONTROL.search(column):
        raise InvalidDefinition(
            kind,
            name,
            f"{what} {column!r} contains a control character (newline, tab, NUL...)",
            "remove it from the name",
        )
    return column


def check_tags(kind: str, name: str, tags: Any) -> dict[str, str]:
    """Tags are a str->str mapping; ``None`` means no tags."""
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidDefinition(kind, name, f"tags must be a dict of str to str, got {tags!r}")
    return dict(tags)


def check_ttl(kind: str, name: str, ttl: Any) -> timedelta | None:
    """A ttl is a non-negative timedelta; ``None`` or zero means 'no limit'."""
    if ttl is None:
        return None
    if isinstance(ttl, int | float) and not isinstance(ttl, bool):
        ttl = timedelta(seconds=ttl)
    if not isinstance(ttl, timedelta):
        raise InvalidDefinition(
            kind, name, f"ttl must be a datetime.timedelta, got {ttl!r}", "e.g. ttl=timedelta(days=1)"
        )
    if ttl < timedelta(0):
        raise InvalidDefinition(kind, name, f"ttl must not be negative, got {ttl}")
    return ttl


def ttl_to_seconds(ttl: timedelta | None) -> float | None:
    return None if ttl is None else ttl.total_seconds()


def ttl_from_seconds(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def canonical_json(data: Any) -> bytes:
    """Stable JSON bytes (sorted keys) so equal content hashes equally."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


class Named:
    """Shared by every named definition: equal when their ``to_dict()`` is, hashed by class and name."""

    name: str

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise TypeError(f"{type(self).__name__} must define to_dict()")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def content_hash(data: Any) -> str:
    """Short sha256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data)).hexdigest()[:16]

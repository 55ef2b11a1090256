"""What an apply changes: objects added, removed, and changed field by field.

A diff compares two sets of ``to_dict()`` documents (the registered ones and the desired ones). A
changed object lists every changed leaf as a path with its old and new value, e.g.
``schema[1].dtype: Float32 -> Float64`` or ``ttl_seconds: 86400 -> 3600``. Lists of named entries
(schemas, sources) are matched by name, so adding a feature shows one added entry, not a shifted list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from ladle.errors import InvalidRequest
from ladle.registry.state import KIND_SINGULAR, KINDS, Specs

__all__ = ["MISSING", "FieldChange", "ObjectChange", "RegistryDiff", "diff_specs"]

_CHANGES = ("added", "changed", "removed")
_MAX_VALUE_CHARS = 80


class _Missing:
    """The value on the side of a change where the key or list entry does not exist."""

    def __repr__(self) -> str:
        return "(absent)"


#: stands for "no value here" in :class:`FieldChange` (a key or list entry added or removed)
MISSING: Any = _Missing()


class FieldChange(NamedTuple):
    """One changed leaf of an object's ``to_dict()``: ``path: old -> new``."""

    path: str
    old: Any
    new: Any

    def describe(self) -> str:
        """``schema[1].dtype: Float32 -> Float64``."""
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, str):
        text = value if value and "\n" not in value else orjson.dumps(value).decode()
    elif isinstance(value, dict | list):
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    else:
        text = str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _named(items: list[Any]) -> dict[str, int] | None:
    """``name -> index`` when every item is a dict with a distinct ``name`` (else ``None``)."""
    if not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    index = {i["name"]: n for n, i in enumerate(items)}
    return index if len(index) == len(items) else None


def _walk_list(old: list[Any], new: list[Any], path: str, out: list[FieldChange]) -> None:
    old_names, new_names = _named(old), _named(new)
    if old_names is None or new_names is None or not old or not new:
        for i in range(max(len(old), len(new))):
            a = old[i] if i < len(old) else MISSING
            b = new[i] if i < len(new) else MISSING
            _walk(a, b, f"{path}[{i}]", out)
        return
    for name, i in old_names.items():
        if name not in new_names:
            out.append(FieldChange(f"{path}[{i}]", old[i], MISSING))
    for name, j in new_names.items():
        if name in old_names:
            _walk(old[old_names[name]], new[j], f"{path}[{j}]", out)
        else:
            out.append(FieldChange(f"{path}[{j}]", MISSING, new[j]))
    kept_old = [n for n in old_names if n in new_names]
    kept_new = [n for n in new_names if n in old_names]
    if kept_old != kept_new:
        out.append(FieldChange(f"{path} order", kept_old, kept_new))


def _walk(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            _walk(old.get(key, MISSING), new.get(key, MISSING), sub, out)
    elif isinstance(old, list) and isinstance(new, list):
        _walk_list(old, new, path, out)
    elif old is not new and (old != new or isinstance(old, bool) != isinstance(new, bool)):
        out.append(FieldChange(path, old, new))


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every changed leaf between two ``to_dict()`` documents, as paths with old and new values.

    >>> [c.describe() for c in diff_specs({"ttl_seconds": 86400.0}, {"ttl_seconds": 3600.0})]
    ['ttl_seconds: 86400 -> 3600']
    """
    out: list[FieldChange] = []
    _walk(old, new, "", out)
    return out


@dataclass(frozen=True)
class ObjectChange:
    """One object's change: ``added``, ``removed`` or ``changed`` (with its changed fields)."""

    #: the object's kind as in its ``to_dict()``: ``entity``, ``feature_view``, ``data_source``, ...
    kind: str
    name: str
    #: ``added``, ``changed`` or ``removed``
    change: str
    fields: tuple[FieldChange, ...] = ()
    #: a changed feature view's schema hash before and after (set by
    #: :func:`ladle.registry.contracts.annotate_contracts`); ``None``: not computed
    schema_hashes: tuple[str | None, str | None] | None = None

    @property
    def contract_changed(self) -> bool | None:
        """``True``: a feature view's contract (schema hash) changed; ``False``: cosmetic; ``None``: unknown."""
        if self.schema_hashes is None:
            return None
        return self.schema_hashes[0] != self.schema_hashes[1]

    @property
    def label(self) -> str:
        """``feature view 'driver_stats'``."""
        return f"{self.kind.replace('_', ' ').replace('on demand', 'on-demand')} '{self.name}'"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (kept in the registry history): the changed paths, not the values."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "change": self.change,
            "fields": [f.path for f in self.fields],
        }
        if self.contract_changed is not None:
            out["contract_changed"] = self.contract_changed
        return out

    def describe(self) -> list[str]:
        """``+ entity 'driver'``, ``- feature service 'old'``, or ``~ feature view 'x'`` then one line per field."""
        if self.change == "added":
            return [f"+ {self.label}"]
        if self.change == "removed":
            return [f"- {self.label}"]
        return [f"~ {self.label}"] + [f"    {f.describe()}" for f in self.fields]

    def contract_note(self) -> str | None:
        """``CONTRACT CHANGE feature view 'x': schema hash 1a2b.. -> 3c4d..`` or ``cosmetic ...``; ``None``
        when the contract was not computed (not a changed feature view)."""
        if self.schema_hashes is None:
            return None
        before, after = (h[:12] if h else "?" for h in self.schema_hashes)
        if self.contract_changed:
            return f"CONTRACT CHANGE {self.label}: schema hash {before} -> {after} (consumers must follow)"
        return f"cosmetic change {self.label}: schema hash {before} unchanged"


@dataclass(frozen=True)
class RegistryDiff:
    """Everything an apply changes (empty when the registry already matches).

    >>> diff = RegistryDiff.compute({"entities": {}}, {"entities": {"driver": {"name": "driver"}}})
    >>> diff.describe()
    ["+ entity 'driver'"]
    """

    changes: tuple[ObjectChange, ...] = ()
    #: ``(kind, name)`` of objects present on both sides with equal content
    unchanged: tuple[tuple[str, str], ...] = ()

    @classmethod
    def compute(cls, current: Specs, desired: Specs) -> RegistryDiff:
        """The changes that turn ``current`` into ``desired`` (kind key -> name -> ``to_dict()``)."""
        changes: list[ObjectChange] = []
        unchanged: list[tuple[str, str]] = []
        for key in KINDS:
            kind = KIND_SINGULAR[key]
            old, new = current.get(key, {}), desired.get(key, {})
            for name in sorted(set(old) | set(new)):
                if name not in old:
                    changes.append(ObjectChange(kind, name, "added"))
                elif name not in new:
                    changes.append(ObjectChange(kind, name, "removed"))
                else:
                    fields = diff_specs(old[name], new[name])
                    if fields:
                        changes.append(ObjectChange(kind, name, "changed", tuple(fields)))
                    else:
                        unchanged.append((kind, name))
        return cls(tuple(changes), tuple(unchanged))

    @property
    def is_empty(self) -> bool:
        """True when nothing would change."""
        return not self.changes

    def of(self, change: str) -> list[ObjectChange]:
        """The changes of one type: ``added``, ``changed`` or ``removed``."""
        if change not in _CHANGES:
            raise InvalidRequest(f"RegistryDiff.of: change must be one of {_CHANGES}, got {change!r}")
        return [c for c in self.changes if c.change == change]

    @property
    def added(self) -> list[ObjectChange]:
        """Objects that would be registered."""
        return self.of("added")

    @property
    def changed(self) -> list[ObjectChange]:
        """Objects whose definition would change."""
        return self.of("changed")

    @property
    def removed(self) -> list[ObjectChange]:
        """Objects that would be unregistered."""
        return self.of("removed")

    def describe(self) -> list[str]:
        """Human lines: one per added/removed object, a header plus one line per field for changed ones."""
        if self.is_empty:
            return ["No changes: the registry already matches the repo."]
        return [line for c in self.changes for line in c.describe()]

    def contract_lines(self) -> list[str]:
        """One line per changed feature view: a contract change (schema hash changed) or a cosmetic one."""
        return [note for c in self.changes if (note := c.contract_note()) is not None]

    @property
    def contract_changes(self) -> list[ObjectChange]:
        """Changed feature views whose contract (schema hash) changed."""
        return [c for c in self.changes if c.contract_changed]

    def summary(self) -> str:
        """``2 added, 1 changed, 0 removed, 5 unchanged`` (plus ``, 1 contract change`` when there are some)."""
        contracts = len(self.contract_changes)
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged" + (f", {contracts} contract change(s)" if contracts else "")
        )

    def to_dict(self) -> list[dict[str, Any]]:
        """The changes, JSON-ready (what the registry history keeps)."""
        return [c.to_dict() for c in self.changes]

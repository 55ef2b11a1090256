"""Registry history: the versions an apply leaves behind, what each changed, and restoring one.

Every apply appends a history entry to the registry document (version, time, user, host, a one-line
summary and the changes) naming each object's content hash; the document's ``snapshots`` keeps the spec of
every hash a retained entry names. So any retained version can be rebuilt exactly (:func:`specs_at`), two
versions compared (:func:`diff_versions`), and a rollback written as a *new* version equal to an old one
(:meth:`ladle.registry.Registry.rollback`). Retention is ``registry.history_limit`` entries (default 100):
older entries and the specs only they use are dropped on the next apply. History lives in the same
document as the definitions, so it is written atomically with them on every registry store.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from typing import Any

from ladle.errors import InvalidRequest
from ladle.registry.diff import RegistryDiff
from ladle.registry.state import KIND_SINGULAR, KINDS, RegistryState, Specs

__all__ = ["RegistryVersion", "diff_versions", "history_entry_extras", "list_versions", "specs_at", "summarize"]

_KEY_OF = {singular: key for key, singular in KIND_SINGULAR.items()}
_SUMMARY_NAMES = 4


@dataclass(frozen=True)
class RegistryVersion:
    """One retained registry version, as ``ladle registry history`` lists it."""

    version: int
    time: str
    user: str
    host: str
    summary: str
    #: the diff entries of the apply that made it (``kind``, ``name``, ``change``, ``fields``)
    changes: tuple[dict[str, Any], ...]
    #: the version this one restored (a rollback), else ``None``
    rollback_of: int | None = None
    #: whether every spec it names is still in the snapshots (entries written before ladle kept them are not)
    restorable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``ladle registry history --json``)."""
        return {
            "version": self.version,
            "time": self.time,
            "user": self.user,
            "host": self.host,
            "summary": self.summary,
            "rollback_of": self.rollback_of,
            "restorable": self.restorable,
            "changes": list(self.changes),
        }


def _user() -> str:
    explicit = os.environ.get("LADLE_USER")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def summarize(changes: list[dict[str, Any]]) -> str:
    """One line for a history entry: ``added entity 'driver'; changed feature_view 'stats' (ttl_seconds)``.

    >>> summarize([{"kind": "entity", "name": "d", "change": "added", "fields": []}])
    "added entity 'd'"
    >>> summarize([])
    'no changes'
    """
    if not changes:
        return "no changes"
    parts = []
    for c in changes[:_SUMMARY_NAMES]:
        fields = c.get("fields") or []
        detail = f" ({', '.join(fields[:3])}{', ...' if len(fields) > 3 else ''})" if fields else ""
        parts.append(f"{c['change']} {c['kind']} '{c['name']}'{detail}")
    more = len(changes) - _SUMMARY_NAMES
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def history_entry_extras(changes: list[dict[str, Any]], rollback_of: int | None = None) -> dict[str, Any]:
    """What an apply adds to its history entry besides the changes: who, from where, and a summary."""
    summary = summarize(changes)
    extras: dict[str, Any] = {"user": _user(), "host": socket.gethostname(), "summary": summary}
    if rollback_of is not None:
        extras["rollback_of"] = rollback_of
        extras["summary"] = f"rollback to version {rollback_of}: {summary}"
    return extras


def list_versions(state: RegistryState) -> list[RegistryVersion]:
    """The retained versions, oldest first."""
    return [
        RegistryVersion(
            version=int(e["version"]),
            time=str(e.get("time", "")),
            user=str(e.get("user", "unknown")),
            host=str(e.get("host", "unknown")),
            summary=str(e.get("summary") or summarize(list(e.get("changes", [])))),
            changes=tuple(e.get("changes", [])),
            rollback_of=e.get("rollback_of"),
            restorable=all(h in state.snapshots for h in e.get("objects", {}).values()),
        )
        for e in state.history
    ]


def _entry(state: RegistryState, version: int) -> dict[str, Any]:
    for entry in state.history:
        if int(entry["version"]) == version:
            return entry
    kept = [int(e["version"]) for e in state.history]
    span = f"versions {kept[0]}..{kept[-1]}" if kept else "no versions"
    if 0 < version <= state.version:
        raise InvalidRequest(
            f"registry version {version} of project '{state.project}' is past retention: the registry keeps "
            f"{span} (raise `registry.history_limit` in feature_store.yaml to keep more)"
        )
    raise InvalidRequest(
        f"registry version {version} does not exist: project '{state.project}' is at version {state.version} "
        f"and keeps {span} (see `ladle registry history`)"
    )


def specs_at(state: RegistryState, version: int) -> Specs:
    """Every object's ``to_dict()`` as registry ``version`` held them (``0``: the empty registry).

    Raises :class:`~ladle.errors.InvalidRequest` for a version that never existed, is past retention
    (``registry.history_limit``) or whose specs were not archived.
    """
    if version == 0:
        return {k: {} for k in KINDS}
    entry = _entry(state, version)
    specs: Specs = {k: {} for k in KINDS}
    missing = []
    for ref, digest in entry.get("objects", {}).items():
        singular, _, name = ref.partition("/")
        spec = state.snapshots.get(digest)
        if spec is None:
            missing.append(ref)
            continue
        specs[_KEY_OF[singular]][name] = spec
    if missing:
        raise InvalidRequest(
            f"registry version {version} of project '{state.project}' cannot be rebuilt: it was written before "
            f"ladle kept registry snapshots, and the definitions of {', '.join(missing[:3])} are gone "
            "(roll back to a later version, or re-apply the repo as it was)"
        )
    return specs


def diff_versions(state: RegistryState, a: int, b: int) -> RegistryDiff:
    """What changed from registry version ``a`` to version ``b``, object by object and field by field."""
    return RegistryDiff.compute(specs_at(state, a), specs_at(state, b))

"""``RegistryState``: the registry's whole content as plain data, and its JSON form.

A state is one project's definitions (each object's ``to_dict()`` with a content hash and timestamps),
the materialization bookkeeping per feature view, a version counter and the history of applies. It is
treated as immutable: every change builds a new state (:meth:`RegistryState.applied`,
:meth:`RegistryState.with_materialization`), so a half-changed state never exists.

Definition objects are rebuilt from the stored dicts on first use and cached per state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from ladle.definitions import (
    DataSource,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    Project,
    source_from_dict,
)
from ladle.definitions.base import content_hash
from ladle.definitions.kinds import KIND_SINGULAR, KINDS
from ladle.errors import InvalidConfig, LadleError

__all__ = [
    "FORMAT",
    "HISTORY_LIMIT",
    "KINDS",
    "KIND_SINGULAR",
    "Materialization",
    "PendingInfra",
    "RegistryState",
    "Specs",
    "StoredObject",
    "utc_iso",
]

#: the ``format`` marker written into every registry document
FORMAT = "ladle-registry/1"
#: applies remembered in ``history`` by default (``registry.history_limit``; older entries and the archived
#: specs only they use are dropped so the document stays small)
HISTORY_LIMIT = 100

#: kind key -> object name -> the object's ``to_dict()``
Specs = dict[str, dict[str, dict[str, Any]]]

_T = TypeVar("_T")


def utc_iso(when: datetime) -> str:
    """``when`` as an ISO-8601 string in UTC (naive datetimes are taken as UTC)."""
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.isoformat()


@dataclass(frozen=True)
class StoredObject:
    """One registered object: its ``to_dict()`` plus bookkeeping."""

    spec: dict[str, Any]
    #: :func:`ladle.definitions.base.content_hash` of ``spec``
    hash: str
    created_timestamp: str
    last_updated_timestamp: str

    @classmethod
    def new(cls, spec: dict[str, Any], now: str, previous: StoredObject | None = None) -> StoredObject:
        """``spec`` stored at ``now``; an unchanged ``previous`` is kept as it is."""
        digest = content_hash(spec)
        if previous is not None and previous.hash == digest:
            return previous
        created = previous.created_timestamp if previous is not None else now
        return cls(spec, digest, created, now)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "spec": self.spec,
            "hash": self.hash,
            "created_timestamp": self.created_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredObject:
        """Inverse of :meth:`to_dict`."""
        return cls(data["spec"], data["hash"], data["created_timestamp"], data["last_updated_timestamp"])


@dataclass(frozen=True)
class Materialization:
    """What has been materialized for one feature view: merged ``[start, end]`` intervals (ISO, UTC)."""

    intervals: tuple[tuple[str, str], ...] = ()
    #: the latest end of any run (where ``materialize_incremental`` starts next time)
    materialized_until: str | None = None
    #: what the last incremental run had seen of the source (:mod:`ladle.ingest.late_data`), else ``None``
    ingested: dict[str, Any] | None = None

    def add(self, start: datetime, end: datetime) -> Materialization:
        """This record with ``[start, end]`` added (overlapping or touching intervals are merged)."""
        spans = sorted(
            [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in self.intervals]
            + [(_utc(start), _utc(end))]
        )
        merged: list[tuple[datetime, datetime]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        until = _utc(end)
        if self.materialized_until is not None:
            until = max(until, datetime.fromisoformat(self.materialized_until))
        intervals = tuple((s.isoformat(), e.isoformat()) for s, e in merged)
        return Materialization(intervals, until.isoformat(), self.ingested)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "intervals": [list(i) for i in self.intervals],
            "materialized_until": self.materialized_until,
        }
        if self.ingested is not None:
            out["ingested"] = self.ingested
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Materialization:
        """Inverse of :meth:`to_dict`."""
        intervals = tuple((s, e) for s, e in data.get("intervals", []))
        return cls(intervals, data.get("materialized_until"), data.get("ingested"))


_TOP_LEVEL_KEYS = {
    "format",
    "project",
    "version",
    "last_updated",
    "objects",
    "materialization",
    "history",
    "snapshots",
    "saved_datasets",
    "view_versions",
    "pending_infra",
    "signature",
}


def _refuse_unknown(data: dict[str, Any], known: set[str], what: str, where: str) -> None:
    # a misspelt key would otherwise read as "nothing there": an empty registry that the next apply overwrites
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidConfig(
            where,
            f"is a damaged ladle registry: unknown {what} {unknown[0]!r} (known: {', '.join(sorted(known))})",
            "restore the registry from a backup, or fix the key by hand",
        )


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class PendingInfra:
    """Online-store work an apply committed to the registry before doing it (so a crash cannot lose it).

    ``drop`` holds the specs of the feature views whose online storage must go (removed, or no longer
    ``online``) and ``entities`` the entity specs they need to be rebuilt. Creating and reshaping the
    storage of the registered online views is implied: whoever finds a pending record makes the online
    store match the registry, then clears the record. Doing it twice is harmless.
    """

    drop: dict[str, dict[str, Any]] = field(default_factory=dict)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def dropping(cls, old: RegistryState, objects: dict[str, dict[str, StoredObject]]) -> PendingInfra:
        """The record for going from ``old`` to ``objects``, merged with what ``old`` still had pending."""
        before = old.pending_infra or cls()
        drop = dict(before.drop)
        entities = dict(before.entities)
        drop.update({n: o.spec for n, o in old.objects["feature_views"].items() if o.spec.get("online", True)})
        entities.update({n: o.spec for n, o in old.objects["entities"].items()})
        kept = {n for n, o in objects["feature_views"].items() if o.spec.get("online", True)}
        drop = {n: s for n, s in sorted(drop.items()) if n not in kept}
        used = {e for s in drop.values() for e in s.get("entities", [])}
        return cls(drop, {n: s for n, s in sorted(entities.items()) if n in used})

    def dropped_views(self, registered: Iterable[str]) -> list[FeatureView]:
        """The views to drop, rebuilt, except those ``registered`` again (their data is never destroyed)."""
        entities = {n: Entity.from_dict(s) for n, s in self.entities.items()}
        out = []
        for name, spec in self.drop.items():
            if name in set(registered):
                continue
            fv = FeatureView.from_dict(spec, entities)
            fv.bind_entities(entities)
            out.append(fv)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"drop": self.drop, "entities": self.entities}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingInfra:
        """Inverse of :meth:`to_dict`."""
        return cls(dict(data.get("drop") or {}), dict(data.get("entities") or {}))


@dataclass(eq=False)
class RegistryState:
    """The whole registry of one project. Build new states with the methods below; never mutate one.

    >>> state = RegistryState.empty("demo")
    >>> state.version, state.specs()["entities"]
    (0, {})
    >>> RegistryState.from_json(state.to_json()).project
    'demo'
    """

    project: str
    version: int = 0
    last_updated: str | None = None
    objects: dict[str, dict[str, StoredObject]] = field(default_factory=lambda: {k: {} for k in KINDS})
    materialization: dict[str, Materialization] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    #: content hash -> ``to_dict()`` of every object some retained ``history`` version holds (what makes an
    #: earlier version restorable, see :mod:`ladle.registry.history`)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: name -> saved dataset record (:mod:`ladle.retrieval.saved_datasets`); kept across applies, like Feast's
    saved_datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: view name -> ``{"active": N, "versions": [...]}`` (Feast's view versions, :mod:`ladle.registry.view_versions`)
    view_versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: online-store work committed but maybe not done yet (see :class:`PendingInfra`); ``None``: none
    pending_infra: PendingInfra | None = None
    _built: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # --- construction and serialization ------------------------------------------------------------
    @classmethod
    def empty(cls, project: str) -> RegistryState:
        """A registry with nothing applied yet."""
        return cls(project=project)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready document (what ``ladle registry-dump`` prints)."""
        return {
            "format": FORMAT,
            "project": self.project,
            "version": self.version,
            "last_updated": self.last_updated,
            "objects": {k: {n: o.to_dict() for n, o in self.objects[k].items()} for k in KINDS},
            "materialization": {v: m.to_dict() for v, m in self.materialization.items()},
            "history": self.history,
            **({"snapshots": self.snapshots} if self.snapshots else {}),
            **({"saved_datasets": self.saved_datasets} if self.saved_datasets else {}),
            **({"view_versions": self.view_versions} if self.view_versions else {}),
            **({"pending_infra": self.pending_infra.to_dict()} if self.pending_infra is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "registry") -> RegistryState:
        """Inverse of :meth:`to_dict`; ``where`` names the source in errors."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InvalidConfig(
                where,
                f"is not a ladle registry (format {found!r}, expected {FORMAT!r})",
                "point `registry:` in feature_store.yaml at a new file and run `ladle apply`",
            )
        _refuse_unknown(data, _TOP_LEVEL_KEYS, "top-level key", where)
        if isinstance(data.get("objects"), dict):
            _refuse_unknown(data["objects"], set(KINDS), "object kind", where)
        try:
            objects = {
                k: {n: StoredObject.from_dict(o) for n, o in (data["objects"].get(k) or {}).items()} for k in KINDS
            }
            return cls(
                project=data["project"],
                version=int(data["version"]),
                last_updated=data.get("last_updated"),
                objects=objects,
                materialization={v: Materialization.from_dict(m) for v, m in data.get("materialization", {}).items()},
                history=list(data.get("history", [])),
                snapshots=dict(data.get("snapshots") or {}),
                saved_datasets=dict(data.get("saved_datasets") or {}),
                view_versions=dict(data.get("view_versions") or {}),
                pending_infra=PendingInfra.from_dict(data["pending_infra"]) if data.get("pending_infra") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidConfig(where, f"is a damaged ladle registry ({type(exc).__name__}: {exc})") from exc

    def to_json(self) -> bytes:
        """The stored bytes: indented JSON with sorted keys (stable, diffable)."""
        return orjson.dumps(
            self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
        )

    @classmethod
    def from_json(cls, data: bytes, where: str = "registry") -> RegistryState:
        """Parse stored bytes (``where`` names the file in errors)."""
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidConfig(
                where,
                f"is not a ladle registry: not JSON ({exc}); a Feast protobuf registry cannot be read",
                "point `registry:` in feature_store.yaml at a new file and run `ladle apply`",
            ) from exc
        return cls.from_dict(parsed, where)

    # --- plain-data views ----------------------------------------------------------------------------
    def specs(self) -> Specs:
        """Every object's ``to_dict()`` by kind and name (fresh dicts; the specs themselves are shared)."""
        return {k: {n: o.spec for n, o in self.objects[k].items()} for k in KINDS}

    def hashes(self) -> dict[str, str]:
        """``"kind/name" -> content hash`` of every object."""
        return {f"{KIND_SINGULAR[k]}/{n}": o.hash for k in KINDS for n, o in sorted(self.objects[k].items())}

    def materialized_until(self, view_name: str) -> datetime | None:
        """Where the view's latest materialization ended, or ``None`` if it never ran."""
        record = self.materialization.get(view_name)
        if record is None or record.materialized_until is None:
            return None
        return datetime.fromisoformat(record.materialized_until)

    def materialization_intervals(self, view_name: str) -> list[tuple[datetime, datetime]]:
        """The view's materialized intervals, merged and in time order."""
        record = self.materialization.get(view_name) or Materialization()
        return [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in record.intervals]

    # --- new states ----------------------------------------------------------------------------------
    def applied(
        self,
        specs: Specs,
        changes: list[dict[str, Any]],
        now: datetime,
        forget_materialization: Iterable[str] = (),
        *,
        about: dict[str, Any] | None = None,
        keep: int = HISTORY_LIMIT,
        view_versions: dict[str, dict[str, Any]] | None = None,
    ) -> RegistryState:
        """The state after an apply that makes the objects equal to ``specs``.

        ``changes`` (the diff's ``to_dict()`` entries) goes into the history with ``about`` (who, where, a
        summary: see :func:`ladle.registry.history.history_entry_extras`); the version goes up by one;
        the last ``keep`` history entries are kept, and the snapshots hold exactly the specs they name, so
        each of them can be restored; unchanged objects keep their timestamps; views in
        ``forget_materialization`` (and views no longer registered) lose their materialization record. The new
        state carries a :class:`PendingInfra` (merged with one still pending here) naming the views whose
        online storage goes: the online store is changed only after this state is committed.
        """
        stamp = utc_iso(now)
        objects = {
            k: {
                n: StoredObject.new(spec, stamp, self.objects[k].get(n)) for n, spec in sorted(specs.get(k, {}).items())
            }
            for k in KINDS
        }
        forget = set(forget_materialization)
        materialization = {
            v: m for v, m in self.materialization.items() if v in objects["feature_views"] and v not in forget
        }
        pending = PendingInfra.dropping(self, objects) if changes else self.pending_infra
        new = RegistryState(
            project=self.project,
            version=self.version + 1,
            last_updated=stamp,
            objects=objects,
            materialization=materialization,
            saved_datasets=dict(self.saved_datasets),
            view_versions=dict(self.view_versions if view_versions is None else view_versions),
            pending_infra=pending,
        )
        entry = {"version": new.version, "time": stamp, "objects": new.hashes(), "changes": changes, **(about or {})}
        new.history = [*self.history, entry][-max(1, keep) :]
        pool = {**self.snapshots, **{o.hash: o.spec for k in KINDS for o in objects[k].values()}}
        used = {h for e in new.history for h in e.get("objects", {}).values()}
        used |= {v["spec"] for r in new.view_versions.values() for v in r.get("versions", [])}
        new.snapshots = {h: pool[h] for h in sorted(used) if h in pool}
        return new

    def with_materialization(self, view_name: str, start: datetime, end: datetime, now: datetime) -> RegistryState:
        """The state after ``[start, end]`` was materialized for ``view_name`` (version unchanged)."""
        record = self.materialization.get(view_name, Materialization()).add(start, end)
        return self._same_objects(
            last_updated=utc_iso(now), materialization={**self.materialization, view_name: record}
        )

    def with_ingest_markers(self, markers: dict[str, dict[str, Any]], now: datetime) -> RegistryState:
        """The state with each registered view's late-data marker replaced (version unchanged)."""
        materialization = dict(self.materialization)
        for view, marker in markers.items():
            if view in self.objects["feature_views"]:
                materialization[view] = replace(materialization.get(view, Materialization()), ingested=marker)
        return self._same_objects(last_updated=utc_iso(now), materialization=materialization)

    def with_saved_dataset(self, name: str, record: dict[str, Any] | None, now: datetime) -> RegistryState:
        """The state with saved dataset ``name`` set to ``record`` (removed for ``None``; version unchanged)."""
        saved = {k: v for k, v in self.saved_datasets.items() if k != name}
        if record is not None:
            saved[name] = record
        return self._same_objects(last_updated=utc_iso(now), saved_datasets=dict(sorted(saved.items())))

    def infra_done(self) -> RegistryState:
        """This state with its pending online-store work marked as done."""
        return self._same_objects(pending_infra=None)

    def _same_objects(self, **changes: Any) -> RegistryState:
        new = replace(self, **changes)
        with self._lock:
            new._built = dict(self._built)  # same definitions: keep the rebuilt objects
        return new

    # --- definition objects (rebuilt once per state) -------------------------------------------------
    def _build(self, kind: str, make: Callable[[], dict[str, _T]]) -> dict[str, _T]:
        with self._lock:
            built = self._built.get(kind)
        if built is None:
            try:
                built = make()
            except LadleError:
                raise
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # a spec that to_dict() never writes: the stored document was edited or damaged
                raise InvalidConfig(
                    "registry",
                    f"holds damaged {kind.replace('_', ' ')} ({type(exc).__name__}: {exc})",
                    "re-apply the repo with `ladle apply`, or restore the registry from a backup",
                ) from exc
            with self._lock:
                built = self._built.setdefault(kind, built)
        return built

    def entities(self) -> dict[str, Entity]:
        """Registered entities by name."""
        return self._build(
            "entities", lambda: {n: Entity.from_dict(o.spec) for n, o in self.objects["entities"].items()}
        )

    def data_sources(self) -> dict[str, DataSource]:
        """Registered data sources by name."""
        return self._build(
            "data_sources", lambda: {n: source_from_dict(o.spec) for n, o in self.objects["data_sources"].items()}
        )

    def feature_views(self) -> dict[str, FeatureView]:
        """Registered feature views by name, with their entities bound."""

        def make() -> dict[str, FeatureView]:
            entities = self.entities()
            views = {}
            for n, o in self.objects["feature_views"].items():
                fv = FeatureView.from_dict(o.spec, entities)
                fv.bind_entities(entities)
                views[n] = fv
            return views

        return self._build("feature_views", make)

    def on_demand_feature_views(self) -> dict[str, OnDemandFeatureView]:
        """Registered on-demand feature views by name (their functions rebuilt from the stored source)."""
        return self._build(
            "on_demand_feature_views",
            lambda: {
                n: OnDemandFeatureView.from_dict(o.spec, self.feature_views())
                for n, o in self.objects["on_demand_feature_views"].items()
            },
        )

    def feature_services(self) -> dict[str, FeatureService]:
        """Registered feature services by name."""
        return self._build(
            "feature_services",
            lambda: {n: FeatureService.from_dict(o.spec) for n, o in self.objects["feature_services"].items()},
        )

    def projects(self) -> dict[str, Project]:
        """Registered Project objects by name (at most one: the configured project)."""
        return self._build(
            "projects", lambda: {n: Project.from_dict(o.spec) for n, o in self.objects["projects"].items()}
        )

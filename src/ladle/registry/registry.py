"""``Registry``: the project's definitions and bookkeeping, read with a cache and changed atomically.

The stored document is JSON::

    {"format": "ladle-registry/1", "project": ..., "version": N, "last_updated": ISO,
     "objects": {kind: {name: {"spec": to_dict(), "hash": ..., "created": ISO, "updated": ISO}}},
     "materialization": {view: {"intervals": [[start, end], ...], "materialized_until": ISO}},
     "history": [{"version", "time", "objects": {"kind/name": hash}, "changes": [...]}]}

Every change builds the whole new document in memory and replaces the stored one in one write, guarded
by the content token read before (so two concurrent applies cannot silently overwrite each other).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson

from ladle.config import RepoConfig
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
from ladle.errors import InvalidDefinition, NotFound, RegistryConflict
from ladle.registry.base import RegistryStore, content_token
from ladle.registry.diff import KIND_LABELS, ObjectChange, RegistryDiff, diff_specs
from ladle.registry.file import FileRegistryStore
from ladle.repo import RepoContents

__all__ = ["Registry"]

FORMAT = "ladle-registry/1"
KINDS = list(KIND_LABELS)
HISTORY_LIMIT = 500
_CLASS_KINDS = {
    "Entity": "entities", "FeatureView": "feature_views", "OnDemandFeatureView": "on_demand_feature_views",
    "FeatureService": "feature_services", "Project": "projects", "FileSource": "data_sources",
    "PushSource": "data_sources", "DataSource": "data_sources",
}

BeforeCommit = Callable[[RegistryDiff, dict[str, Any]], None]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _empty(project: str) -> dict[str, Any]:
    return {
        "format": FORMAT, "project": project, "version": 0, "last_updated": None,
        "objects": {k: {} for k in KINDS}, "materialization": {}, "history": [],
    }


class _Objects:
    """Definition objects rebuilt from one state document (cached per document)."""

    def __init__(self, state: dict[str, Any]) -> None:
        objs = state["objects"]
        self.entities = {n: Entity.from_dict(o["spec"]) for n, o in objs["entities"].items()}
        self.data_sources = {n: source_from_dict(o["spec"]) for n, o in objs["data_sources"].items()}
        self.feature_views: dict[str, FeatureView] = {}
        for n, o in objs["feature_views"].items():
            fv = FeatureView.from_dict(o["spec"], self.entities)
            fv.bind_entities(self.entities)
            self.feature_views[n] = fv
        self.on_demand = {
            n: OnDemandFeatureView.from_dict(o["spec"], self.feature_views)
            for n, o in objs["on_demand_feature_views"].items()
        }
        self.services = {n: FeatureService.from_dict(o["spec"]) for n, o in objs["feature_services"].items()}
        self.projects = {n: Project.from_dict(o["spec"]) for n, o in objs["projects"].items()}


class Registry:
    """The registry of one project (Feast's read API, plus plan/apply and bookkeeping)."""

    def __init__(self, config: RepoConfig, store: RegistryStore | None = None) -> None:
        self.config = config
        self.project = config.project
        self.store = store if store is not None else FileRegistryStore(config.resolve(config.registry.path))
        self._state: dict[str, Any] | None = None
        self._token: str | None = None
        self._loaded_at = 0.0
        self._objects: _Objects | None = None

    # --- loading -----------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        ttl = self.config.registry.cache_ttl_seconds
        # Feast's meaning: 0 (or less) caches forever; >0 re-reads after that many seconds.
        fresh = self._state is not None and (ttl <= 0 or time.monotonic() - self._loaded_at < ttl)
        if not fresh:
            self.refresh()
        assert self._state is not None
        return self._state

    def refresh(self) -> None:
        """Re-read the stored registry now."""
        data = self.store.read()
        token = content_token(data)
        if self._state is None or token != self._token:
            self._state = self._parse(data) if data is not None else _empty(self.project)
            self._token = token
            self._objects = None
        self._loaded_at = time.monotonic()

    def _parse(self, data: bytes) -> dict[str, Any]:
        try:
            state: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RegistryConflict(
                f"registry {self.store.describe()} is not valid JSON ({exc}); restore it or run `ladle apply` "
                "after deleting it"
            ) from exc
        if state.get("format") != FORMAT:
            raise RegistryConflict(f"registry {self.store.describe()} is not a ladle registry (format {state.get('format')!r})")
        if state.get("project") != self.project:
            raise RegistryConflict(
                f"registry {self.store.describe()} belongs to project '{state.get('project')}', not '{self.project}'; "
                "point `registry:` at another file"
            )
        return state

    def state_marker(self) -> str | None:
        """Changes whenever the stored registry changes (used to invalidate derived caches)."""
        self._load()
        return self._token

    def _objs(self) -> _Objects:
        state = self._load()
        if self._objects is None:
            self._objects = _Objects(state)
        return self._objects

    # --- reads -------------------------------------------------------------------------------------
    def _get(self, table: dict[str, Any], kind: str, name: str) -> Any:
        if name not in table:
            raise NotFound(kind, name, self.project, list(table))
        return table[name]

    def list_entities(self) -> list[Entity]:
        """Registered entities."""
        return list(self._objs().entities.values())

    def get_entity(self, name: str) -> Entity:
        """One entity (NotFound when absent)."""
        result: Entity = self._get(self._objs().entities, "entity", name)
        return result

    def list_data_sources(self) -> list[DataSource]:
        """Registered data sources."""
        return list(self._objs().data_sources.values())

    def get_data_source(self, name: str) -> DataSource:
        """One data source (NotFound when absent)."""
        result: DataSource = self._get(self._objs().data_sources, "data source", name)
        return result

    def list_feature_views(self) -> list[FeatureView]:
        """Registered feature views."""
        return list(self._objs().feature_views.values())

    def get_feature_view(self, name: str) -> FeatureView:
        """One feature view (NotFound when absent)."""
        result: FeatureView = self._get(self._objs().feature_views, "feature view", name)
        return result

    def list_on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        """Registered on-demand feature views."""
        return list(self._objs().on_demand.values())

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        """One on-demand feature view (NotFound when absent)."""
        result: OnDemandFeatureView = self._get(self._objs().on_demand, "on-demand feature view", name)
        return result

    def list_feature_services(self) -> list[FeatureService]:
        """Registered feature services."""
        return list(self._objs().services.values())

    def get_feature_service(self, name: str) -> FeatureService:
        """One feature service (NotFound when absent)."""
        result: FeatureService = self._get(self._objs().services, "feature service", name)
        return result

    def get_project(self) -> Project | None:
        """The Project object, if the repo defines one."""
        return self._objs().projects.get(self.project)

    @property
    def version(self) -> int:
        """Applies so far (0 for an empty registry)."""
        return int(self._load()["version"])

    def to_dict(self) -> dict[str, Any]:
        """The whole stored document (for ``ladle registry-dump``)."""
        return copy.deepcopy(self._load())

    # --- planning and applying ------------------------------------------------------------------------
    def _desired(self, contents: RepoContents, partial: bool, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        desired: dict[str, dict[str, Any]] = {}
        for kind, objs in contents.by_kind().items():
            specs = {o.name: o.to_dict() for o in objs}
            if partial:
                specs = {n: o["spec"] for n, o in state["objects"][kind].items()} | specs
            desired[kind] = specs
        self._validate(desired)
        return desired

    def _validate(self, desired: dict[str, dict[str, Any]]) -> None:
        for name in desired["projects"]:
            if name != self.project:
                raise InvalidDefinition(
                    "Project", name, f"does not match 'project: {self.project}' in feature_store.yaml",
                    "use the same name in both places",
                )
        for name, spec in desired["feature_views"].items():
            for e in spec["entities"]:
                if e not in desired["entities"]:
                    raise InvalidDefinition(
                        "FeatureView", name, f"uses entity '{e}', which is not defined",
                        f"define Entity(name='{e}', ...) in the repo",
                    )
            if name in desired["on_demand_feature_views"]:
                raise InvalidDefinition(
                    "FeatureView", name, "an on-demand feature view has the same name", "rename one of them"
                )
        for name, spec in desired["on_demand_feature_views"].items():
            for src in spec["sources"]:
                if "feature_view" in src and src["feature_view"] not in desired["feature_views"]:
                    raise InvalidDefinition(
                        "OnDemandFeatureView", name, f"reads feature view '{src['feature_view']}', which is not defined"
                    )
        for name, spec in desired["feature_services"].items():
            for proj in spec["features"]:
                self._validate_projection(name, proj, desired)

    def _validate_projection(self, service: str, proj: dict[str, Any], desired: dict[str, dict[str, Any]]) -> None:
        view = desired["feature_views"].get(proj["name"]) or desired["on_demand_feature_views"].get(proj["name"])
        if view is None:
            raise InvalidDefinition(
                "FeatureService", service, f"includes feature view '{proj['name']}', which is not defined"
            )
        known = {f["name"] for f in view["schema"]}
        for feat in proj["features"] or []:
            if feat not in known:
                raise InvalidDefinition(
                    "FeatureService", service, f"includes feature '{proj['name']}:{feat}', which the view does not have"
                )

    def _diff(self, state: dict[str, Any], desired: dict[str, dict[str, Any]]) -> RegistryDiff:
        changes: list[ObjectChange] = []
        for kind in KINDS:
            current = state["objects"][kind]
            wanted = desired[kind]
            for name in sorted(set(current) | set(wanted)):
                if name not in current:
                    changes.append(ObjectChange(kind, name, "added"))
                elif name not in wanted:
                    changes.append(ObjectChange(kind, name, "removed"))
                else:
                    fields = diff_specs(current[name]["spec"], wanted[name])
                    if fields:
                        changes.append(ObjectChange(kind, name, "changed", fields))
        return RegistryDiff(changes)

    def plan(self, contents: RepoContents, partial: bool = False) -> RegistryDiff:
        """What :meth:`apply` would change; writes nothing."""
        self.refresh()
        state = self._load()
        return self._diff(state, self._desired(contents, partial, state))

    def apply(
        self, contents: RepoContents, *, partial: bool = False, before_commit: BeforeCommit | None = None
    ) -> RegistryDiff:
        """Make the registry hold ``contents`` (``partial``: add/update only), all or nothing.

        ``before_commit(diff, new_state)`` runs after validation and before the write (the store creates
        online tables there); if it raises, nothing is written.
        """
        self.refresh()
        state = self._load()
        desired = self._desired(contents, partial, state)
        diff = self._diff(state, desired)
        if diff.is_empty:
            if before_commit is not None:
                before_commit(diff, state)
            return diff
        new = self._next_state(state, desired, diff)
        if before_commit is not None:
            before_commit(diff, new)
        self._write(new)
        return diff

    def _next_state(self, state: dict[str, Any], desired: dict[str, dict[str, Any]], diff: RegistryDiff) -> dict[str, Any]:
        now = _now()
        new = copy.deepcopy(state)
        for kind in KINDS:
            table: dict[str, Any] = {}
            for name, spec in desired[kind].items():
                old = state["objects"][kind].get(name)
                h = content_hash(spec)
                if old is not None and old["hash"] == h:
                    table[name] = old
                else:
                    created = old["created"] if old else now
                    table[name] = {"spec": spec, "hash": h, "created": created, "updated": now}
            new["objects"][kind] = table
        for c in diff.changes:
            # a removed view, or one whose rows changed shape, must be materialized again from scratch
            reshaped = any(p.startswith(("schema", "source", "entities")) for p, _, _ in c.fields)
            if c.kind == "feature_views" and (c.change == "removed" or reshaped):
                new["materialization"].pop(c.name, None)
        new["version"] = state["version"] + 1
        new["last_updated"] = now
        new["history"] = [*state["history"], {
            "version": new["version"],
            "time": now,
            "objects": {f"{k}/{n}": o["hash"] for k in KINDS for n, o in new["objects"][k].items()},
            "changes": [c.to_dict() for c in diff.changes],
        }][-HISTORY_LIMIT:]
        return new

    def _write(self, new: dict[str, Any]) -> None:
        data = orjson.dumps(new, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        self._token = self.store.write(data, self._token)
        self._state = new
        self._objects = None
        self._loaded_at = time.monotonic()

    def delete_objects(self, objects: list[tuple[str, str]]) -> RegistryDiff:
        """Remove ``(class name or kind, name)`` pairs, atomically."""
        self.refresh()
        state = self._load()
        desired = {k: {n: o["spec"] for n, o in state["objects"][k].items()} for k in KINDS}
        for cls_or_kind, name in objects:
            kind = _CLASS_KINDS.get(cls_or_kind, cls_or_kind)
            if kind not in desired or name not in desired[kind]:
                raise NotFound(KIND_LABELS.get(kind, kind).replace("_", " "), name, self.project, list(desired.get(kind, {})))
            del desired[kind][name]
        self._validate(desired)
        diff = self._diff(state, desired)
        if not diff.is_empty:
            self._write(self._next_state(state, desired, diff))
        return diff

    # --- materialization bookkeeping -------------------------------------------------------------------
    def materialized_until(self, view_name: str) -> datetime | None:
        """The end of the view's latest materialization, or None."""
        entry = self._load()["materialization"].get(view_name)
        return datetime.fromisoformat(entry["materialized_until"]) if entry else None

    def materialization_intervals(self, view_name: str) -> list[tuple[datetime, datetime]]:
        """Every interval materialized for the view, oldest first."""
        entry = self._load()["materialization"].get(view_name) or {"intervals": []}
        return [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in entry["intervals"]]

    def record_materialization(self, view_name: str, start: datetime, end: datetime) -> None:
        """Remember that ``[start, end]`` was materialized for the view (retried on a concurrent write)."""
        for attempt in range(5):
            self.refresh()
            state = copy.deepcopy(self._load())
            if view_name not in state["objects"]["feature_views"]:
                raise NotFound("feature view", view_name, self.project, list(state["objects"]["feature_views"]))
            entry = state["materialization"].setdefault(view_name, {"intervals": [], "materialized_until": None})
            entry["intervals"] = [*entry["intervals"], [start.isoformat(), end.isoformat()]][-HISTORY_LIMIT:]
            until = entry["materialized_until"]
            if until is None or datetime.fromisoformat(until) < end:
                entry["materialized_until"] = end.isoformat()
            state["last_updated"] = _now()
            try:
                self._write(state)
                return
            except RegistryConflict:
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def teardown(self) -> None:
        """Delete the stored registry."""
        self.store.delete()
        self._state = None
        self._token = None
        self._objects = None

"""``Registry``: one project's definitions and bookkeeping, read through a cache and changed atomically.

Reads use Feast's names (``list_feature_views``, ``get_entity``, ...) and return definition objects
rebuilt from the stored :class:`~ladle.registry.state.RegistryState`. Every change (``apply``,
``delete_objects``, ``record_materialization``) reads the stored content and its token, builds the
whole new state in memory, validates it, and writes it in one atomic store write guarded by that
token, so the registry is never half-changed and a concurrent writer is never silently overwritten.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ladle.backends.tables import registry_store_class
from ladle.config import CONFIG_FILE, RepoConfig
from ladle.definitions import DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView, Project
from ladle.definitions.contents import RepoContents
from ladle.definitions.kinds import KIND_CLASS_NAMES
from ladle.errors import (
    ConflictingViewNames,
    InvalidConfig,
    InvalidDefinition,
    InvalidRequest,
    NotFound,
    RegistryConflict,
)
from ladle.registry.base import RegistryStore
from ladle.registry.contracts import annotate_contracts, view_schema_hashes
from ladle.registry.diff import RegistryDiff
from ladle.registry.history import RegistryVersion, diff_versions, history_entry_extras, list_versions, specs_at
from ladle.registry.signing import sign, verify
from ladle.registry.state import KIND_SINGULAR, KINDS, RegistryState, Specs
from ladle.registry.view_versions import apply_pins, next_view_versions, split_versioned, versioned_view
from ladle.types import ValueType, dtype_from_dict

__all__ = ["ApplyInfra", "MaterializationBookkeeping", "Registry", "make_registry_store"]

#: ``apply_infra(state, dropped)``: make the online store hold storage for ``state``'s online views and none
#: for ``dropped``; idempotent (see :meth:`Registry.settle_infra`)
ApplyInfra = Callable[[RegistryState, list[FeatureView]], None]

_T = TypeVar("_T")
_MATERIALIZATION_ATTEMPTS = 5
#: a feature view change under these paths invalidates what was materialized (rows of another shape/source)
_RESHAPING_PATHS = ("schema", "source", "entities", "online", "aggregations", "timestamp_field")
_KIND_ALIASES = {
    "Entity": "entities",
    "DataSource": "data_sources",
    "FileSource": "data_sources",
    "PushSource": "data_sources",
    "RequestSource": "data_sources",
    "FeatureView": "feature_views",
    "BatchFeatureView": "feature_views",
    "StreamFeatureView": "feature_views",
    "KafkaSource": "data_sources",
    "KinesisSource": "data_sources",
    "RedisStreamSource": "data_sources",
    "OnDemandFeatureView": "on_demand_feature_views",
    "FeatureService": "feature_services",
    "Project": "projects",
}
_LABELS = {
    "projects": "project",
    "data_sources": "data source",
    "entities": "entity",
    "feature_views": "feature view",
    "on_demand_feature_views": "on-demand feature view",
    "feature_services": "feature service",
}


def make_registry_store(config: RepoConfig) -> RegistryStore:
    """The registry store ``config.registry`` describes (see :func:`ladle.backends.tables.registry_store_class`):
    a local file, a SQL database, S3, an installed store or a class path, created as
    ``Store(registry_config, repo_path, project)``."""
    cls = registry_store_class(config.registry, CONFIG_FILE, config.repo_path)
    store: RegistryStore = cls(config.registry, config.repo_path, config.project)
    return store


class Registry:
    """The registry of one project: Feast's read API, plan/apply, and materialization bookkeeping.

    State is cached in memory for ``registry.cache_ttl_seconds`` (Feast's meaning: ``0`` loads once and
    never expires); :meth:`refresh` re-reads now. Writes always start from a fresh read.

    >>> # registry = Registry(load_repo_config("feature_repo"))
    >>> # registry.apply(load_repo(Path("feature_repo"))).describe()
    """

    def __init__(self, config: RepoConfig, store: RegistryStore | None = None) -> None:
        self.config = config
        self.project = config.project
        self.store = store if store is not None else make_registry_store(config)
        self._lock = threading.Lock()
        self._state: RegistryState | None = None
        self._token: str | None = None
        self._loaded_at = 0.0

    # --- reading the store ---------------------------------------------------------------------------
    def _read(self) -> tuple[RegistryState, str | None]:
        """The stored state and its token, read now (the parsed state is reused when the bytes are unchanged)."""
        data = self.store.read()
        token = self.store.token(data)
        with self._lock:
            if self._state is not None and token == self._token:
                self._loaded_at = time.monotonic()
                return self._state, token
        # a 0-byte file (e.g. created by `touch` or a tool that reserves the path) is a new, empty registry
        state = RegistryState.empty(self.project) if not data else self._parse(data)
        self._remember(state, token)
        return state, token

    def _write(self, state: RegistryState, token: str | None) -> str:
        """Write ``state`` guarded by ``token`` (signed when ``registry.signing_key`` is set); the new token."""
        data = state.to_json()
        key = self.config.registry.signing_key
        return self.store.write(sign(data, key) if key else data, token)

    def _parse(self, data: bytes) -> RegistryState:
        key = self.config.registry.signing_key
        if key:  # before anything in the document is used (on-demand views carry code)
            verify(data, key, self.store.describe())
        state = RegistryState.from_json(data, self.store.describe())
        if state.project != self.project:
            raise InvalidConfig(
                self.store.describe(),
                f"holds the registry of project '{state.project}', but feature_store.yaml says project "
                f"'{self.project}'",
                "point `registry:` at another file, or change `project:` back",
            )
        return state

    def _remember(self, state: RegistryState, token: str | None) -> None:
        with self._lock:
            self._state, self._token, self._loaded_at = state, token, time.monotonic()

    def _current(self) -> RegistryState:
        ttl = self.config.registry.cache_ttl_seconds
        with self._lock:
            state, loaded_at = self._state, self._loaded_at
        if state is not None and (ttl <= 0 or time.monotonic() - loaded_at < ttl):
            return state
        return self._read()[0]

    def refresh(self) -> None:
        """Re-read the stored registry now instead of waiting for the cache to expire."""
        self._read()

    def state(self) -> RegistryState:
        """The current state (from the cache while it is fresh). Treat it as read-only."""
        return self._current()

    def state_marker(self) -> str | None:
        """A value that changes whenever the registry content changes (for caches derived from it)."""
        self._current()
        with self._lock:
            return self._token

    @property
    def version(self) -> int:
        """Applies so far (0 for an empty registry)."""
        return self._current().version

    def to_dict(self) -> dict[str, Any]:
        """The whole registry document (what ``ladle registry-dump`` prints), each feature view with its
        ``schema_hash`` (:func:`ladle.definitions.contract.schema_hash`) beside its content ``hash``."""
        state = self._current()
        document = copy.deepcopy(state.to_dict())
        for name, digest in view_schema_hashes(state.specs()).items():
            document["objects"]["feature_views"][name]["schema_hash"] = digest
        return document

    # --- Feast's read API ------------------------------------------------------------------------------
    # Objects returned are shared by every caller until the registry changes: treat them as read-only.
    def _get(self, table: dict[str, _T], kind: str, name: str) -> _T:
        if not isinstance(name, str):
            raise InvalidRequest(f"a {kind} name must be a string, got {type(name).__name__}")
        if name not in table:
            raise NotFound(kind, name, self.project, list(table))
        return table[name]

    def list_entities(self) -> list[Entity]:
        """Registered entities, by name."""
        return _by_name(self._current().entities())

    def get_entity(self, name: str) -> Entity:
        """One entity (:class:`~ladle.errors.NotFound` when absent)."""
        return self._get(self._current().entities(), "entity", name)

    def list_data_sources(self) -> list[DataSource]:
        """Registered data sources, by name."""
        return _by_name(self._current().data_sources())

    def get_data_source(self, name: str) -> DataSource:
        """One data source (:class:`~ladle.errors.NotFound` when absent)."""
        return self._get(self._current().data_sources(), "data source", name)

    def list_feature_views(self) -> list[FeatureView]:
        """Registered feature views (entities bound), by name."""
        return _by_name(self._current().feature_views())

    def get_feature_view(self, name: str) -> FeatureView:
        """One feature view (:class:`~ladle.errors.NotFound` when absent); ``"name@vN"`` is version N of it
        (see :mod:`ladle.registry.view_versions`)."""
        base, number = split_versioned(name) if isinstance(name, str) else (name, None)
        state = self._current()
        view = self._get(state.feature_views(), "feature view", base)
        if number is None:
            return view
        return versioned_view(state, base, number)

    def feature_view_versions(self, name: str) -> dict[str, Any]:
        """``{"active": N, "versions": [{version, schema_hash, registry_version, time, spec}]}`` of a view."""
        state = self._read()[0]
        self._get(state.feature_views(), "feature view", name)
        return copy.deepcopy(state.view_versions.get(name) or {"active": None, "versions": []})

    def list_on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        """Registered on-demand feature views, by name."""
        return _by_name(self._current().on_demand_feature_views())

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        """One on-demand feature view (:class:`~ladle.errors.NotFound` when absent)."""
        return self._get(self._current().on_demand_feature_views(), "on-demand feature view", name)

    def list_feature_services(self) -> list[FeatureService]:
        """Registered feature services, by name."""
        return _by_name(self._current().feature_services())

    def get_feature_service(self, name: str) -> FeatureService:
        """One feature service (:class:`~ladle.errors.NotFound` when absent)."""
        return self._get(self._current().feature_services(), "feature service", name)

    def get_project(self) -> Project:
        """The registered :class:`Project` object, or a plain one named after ``project:`` if none was applied."""
        return self._current().projects().get(self.project) or Project(name=self.project)

    # --- planning and applying -------------------------------------------------------------------------
    def plan(self, contents: RepoContents, partial: bool = False) -> RegistryDiff:
        """What :meth:`apply` would change (validated like an apply); writes nothing."""
        state, _ = self._read()
        current, desired = state.specs(), self._desired(state, contents, partial)
        return annotate_contracts(RegistryDiff.compute(current, desired), current, desired)

    def apply(
        self,
        contents: RepoContents,
        *,
        partial: bool = False,
        delete: Iterable[tuple[str, str]] = (),
        apply_infra: ApplyInfra | None = None,
    ) -> RegistryDiff:
        """Register ``contents``, all or nothing, then bring the online store in line; return what changed.

        ``partial=False`` makes the registry equal to ``contents`` (objects not in it are removed, like
        ``feast apply`` of a repo); ``partial=True`` adds or updates the given objects and keeps the others
        (like Feast's ``store.apply([...])``) and removes the ``delete`` pairs ``(kind, name)`` in the same
        write (names not registered are skipped; an object also given in ``contents`` is kept). The new
        state is validated (:class:`~ladle.errors.InvalidDefinition`) and written in one atomic write
        guarded by the token of the state it was computed from: if someone else wrote the registry in between,
        :class:`~ladle.errors.RegistryConflict` is raised and nothing was written *or touched*. The
        written state records the online-store work still to do (its ``pending_infra``) with the
        materialization bookkeeping of dropped or reshaped views already forgotten; ``apply_infra`` then
        does that work (see :meth:`settle_infra`). A crash after the write leaves the work pending for the
        next apply, materialization or write. An apply that changes nothing does not write or bump the
        version (``apply_infra`` still runs, so missing online tables are recreated).
        """
        state, token = self._read()
        return self._commit(state, token, self._desired(state, contents, partial, delete), apply_infra)

    def delete_objects(
        self, objects: Iterable[tuple[str, str]], *, apply_infra: ApplyInfra | None = None
    ) -> RegistryDiff:
        """Unregister ``(kind, name)`` pairs atomically; ``kind`` is a class name (``"FeatureView"``) or a kind key.

        Raises :class:`~ladle.errors.NotFound` for an unknown name and
        :class:`~ladle.errors.InvalidDefinition` when a remaining object still uses a deleted one.
        """
        state, token = self._read()
        desired = state.specs()
        for kind, name in objects:
            key = _kind_key(kind)
            if name not in desired[key]:
                raise NotFound(_LABELS[key], name, self.project, list(desired[key]))
            del desired[key][name]
        _validate(desired, self.project)
        return self._commit(state, token, desired, apply_infra)

    def _desired(
        self, state: RegistryState, contents: RepoContents, partial: bool, delete: Iterable[tuple[str, str]] = ()
    ) -> Specs:
        given = _contents_specs(contents)
        if partial:
            desired = state.specs()
            for kind, name in delete:
                desired[_kind_key(kind)].pop(name, None)
            for key in KINDS:
                desired[key].update(given[key])
        else:
            desired = given
        _validate(desired, self.project)
        return apply_pins(desired, state)

    def _commit(
        self,
        state: RegistryState,
        token: str | None,
        desired: Specs,
        apply_infra: ApplyInfra | None,
        rollback_of: int | None = None,
    ) -> RegistryDiff:
        current = state.specs()
        diff = annotate_contracts(RegistryDiff.compute(current, desired), current, desired)
        if not diff.is_empty:
            changes, now = diff.to_dict(), datetime.now(UTC)
            versions = next_view_versions(
                state, desired, view_schema_hashes(desired), state.version + 1, now.isoformat()
            )
            new = state.applied(
                desired,
                changes,
                now,
                _views_to_rematerialize(state, diff),
                about=history_entry_extras(changes, rollback_of),
                keep=self.config.registry.history_limit,
                view_versions=versions,
            )
            _check_readable(new)
            self._remember(new, self._write(new, token))
        if apply_infra is not None:
            self.settle_infra(apply_infra, always=True)
        return diff

    def settle_infra(self, apply_infra: ApplyInfra, *, always: bool = False) -> bool:
        """Do the online-store work the registry has pending, then mark it done; ``True`` if it ran.

        Runs under the store's infra lock, against the registry as it is *now* (never an older state):
        ``apply_infra(state, dropped)`` must make the online storage of ``state``'s online views match
        them and remove the storage of ``dropped`` (views no longer registered online), idempotently.
        ``always`` runs it even when nothing is pending (``apply`` re-creates missing tables that way).
        """
        if not always and self._current().pending_infra is None:
            return False
        with self.store.infra_lock():
            for attempt in range(_MATERIALIZATION_ATTEMPTS):
                state, token = self._read()
                if state.pending_infra is None and not always:
                    return False
                pending = state.pending_infra
                dropped = pending.dropped_views(state.objects["feature_views"]) if pending is not None else []
                apply_infra(state, dropped)
                if pending is None:
                    return True
                done = state.infra_done()
                try:
                    self._remember(done, self._write(done, token))
                    return True
                except RegistryConflict:  # bookkeeping was written meanwhile: redo (harmless) and clear again
                    if attempt == _MATERIALIZATION_ATTEMPTS - 1:
                        raise
        return True

    # --- history ----------------------------------------------------------------------------------------
    def history(self) -> list[RegistryVersion]:
        """The retained registry versions, oldest first (read fresh; see :mod:`ladle.registry.history`)."""
        return list_versions(self._read()[0])

    def specs_at(self, version: int) -> Specs:
        """Every object's ``to_dict()`` as registry ``version`` held them."""
        return specs_at(self._read()[0], version)

    def diff_versions(self, a: int, b: int) -> RegistryDiff:
        """What changed from registry version ``a`` to ``b`` (``InvalidRequest`` for an unknown version)."""
        state = self._read()[0]
        return annotate_contracts(diff_versions(state, a, b), specs_at(state, a), specs_at(state, b))

    def rollback(self, version: int, *, apply_infra: ApplyInfra | None = None) -> RegistryDiff:
        """Make the registry equal to ``version`` again by writing a *new* version (history is never rewritten).

        Atomic and conflict-checked like :meth:`apply` (the same commit path: pending online work recorded
        first, then ``apply_infra``); materialization bookkeeping of views the rollback reshapes is
        forgotten, so they are materialized again. Rolling back to the current content changes nothing.
        """
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidRequest(
                f"cannot roll back to registry version {version!r}: versions start at 1 (to remove everything, "
                "use `ladle teardown`)"
            )
        state, token = self._read()
        desired = apply_pins(specs_at(state, version), state)
        _validate(desired, self.project)
        return self._commit(state, token, desired, apply_infra, rollback_of=version)

    # --- materialization bookkeeping -----------------------------------------------------------------
    def materialized_until(self, view_name: str) -> datetime | None:
        """Where the view's latest materialization ended (read fresh), or ``None`` if it never ran."""
        return self._read()[0].materialized_until(view_name)

    def materialization_intervals(self, view_name: str) -> list[tuple[datetime, datetime]]:
        """The view's materialized intervals (merged, in time order)."""
        return self._current().materialization_intervals(view_name)

    def record_materialization(
        self, view_name: str, start: datetime, end: datetime, view_hash: str | None = None
    ) -> bool:
        """Remember that ``[start, end]`` was materialized for the view, in one atomic write.

        Bookkeeping merges with whatever else was written, so a concurrent write is retried rather than
        reported. Raises :class:`~ladle.errors.NotFound` for an unregistered view. With ``view_hash`` (the
        view's content hash when the run started), nothing is recorded and ``False`` is returned if the
        view was changed meanwhile: its rows may have gone with a reshaped table, so the interval stays due.
        """
        if end < start:
            raise InvalidRequest(f"materialization of '{view_name}' ends ({end}) before it starts ({start})")
        for attempt in range(_MATERIALIZATION_ATTEMPTS):
            state, token = self._read()
            stored = state.objects["feature_views"].get(view_name)
            if stored is None:
                raise NotFound("feature view", view_name, self.project, list(state.objects["feature_views"]))
            if view_hash is not None and stored.hash != view_hash:
                return False
            new = state.with_materialization(view_name, start, end, datetime.now(UTC))
            try:
                self._remember(new, self._write(new, token))
                return True
            except RegistryConflict:
                if attempt == _MATERIALIZATION_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))
        return False

    def ingest_markers(self) -> dict[str, dict[str, Any]]:
        """Per view, what its last incremental run had seen of its source (:mod:`ladle.ingest.late_data`), read fresh."""
        state = self._read()[0]
        return {v: m.ingested for v, m in state.materialization.items() if m.ingested is not None}

    def record_ingest_markers(self, markers: dict[str, dict[str, Any]]) -> None:
        """Remember per view what an incremental run has seen of its source, in one atomic write (retried
        on a concurrent write, like the materialization bookkeeping)."""
        for attempt in range(_MATERIALIZATION_ATTEMPTS):
            state, token = self._read()
            new = state.with_ingest_markers(markers, datetime.now(UTC))
            try:
                self._remember(new, self._write(new, token))
                return
            except RegistryConflict:
                if attempt == _MATERIALIZATION_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))

    # --- saved datasets ---------------------------------------------------------------------------------
    def list_saved_datasets(self) -> list[dict[str, Any]]:
        """Every saved dataset's record, by name (read fresh)."""
        saved = self._read()[0].saved_datasets
        return [saved[n] for n in sorted(saved)]

    def get_saved_dataset(self, name: str) -> dict[str, Any]:
        """One saved dataset's record (:class:`~ladle.errors.NotFound` naming the known ones)."""
        saved = self._read()[0].saved_datasets
        if name not in saved:
            raise NotFound("saved dataset", name, self.project, list(saved))
        return saved[name]

    def save_dataset(self, name: str, record: dict[str, Any], allow_overwrite: bool = False) -> None:
        """Register a saved dataset in one atomic write (retried on a concurrent write); an existing name is an
        :class:`~ladle.errors.InvalidRequest` unless ``allow_overwrite``."""
        for attempt in range(_MATERIALIZATION_ATTEMPTS):
            state, token = self._read()
            if name in state.saved_datasets and not allow_overwrite:
                raise InvalidRequest(
                    f"saved dataset '{name}' already exists in project '{self.project}'; pass allow_overwrite=True "
                    "or choose another name"
                )
            new = state.with_saved_dataset(name, record, datetime.now(UTC))
            try:
                self._remember(new, self._write(new, token))
                return
            except RegistryConflict:
                if attempt == _MATERIALIZATION_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def teardown(self) -> None:
        """Delete the stored registry."""
        self.store.delete()
        with self._lock:
            self._state, self._token, self._loaded_at = None, None, 0.0


class MaterializationBookkeeping:
    """Records materialized intervals for the views as they were when a run started (see ``view_hash``)."""

    def __init__(self, registry: Registry, hashes: dict[str, str]) -> None:
        self._registry, self._hashes = registry, hashes

    @classmethod
    def of(cls, registry: Registry, state: RegistryState) -> MaterializationBookkeeping:
        """Bookkeeping for the views as ``state`` has them."""
        return cls(registry, {n: o.hash for n, o in state.objects["feature_views"].items()})

    def record_materialization(self, view_name: str, start: datetime, end: datetime) -> None:
        """Record ``[start, end]`` unless the view changed since the run started."""
        self._registry.record_materialization(view_name, start, end, self._hashes.get(view_name))


# --- helpers -----------------------------------------------------------------------------------------------
def _by_name(table: dict[str, _T]) -> list[_T]:
    return [table[n] for n in sorted(table)]


def _kind_key(kind: str) -> str:
    """``"FeatureView"``, ``"feature_view"``, ``"feature view"`` or ``"feature_views"`` -> ``"feature_views"``."""
    names = {**_KIND_ALIASES, **{k: k for k in KINDS}, **{v: k for k, v in KIND_SINGULAR.items()}}
    key = names.get(kind) or names.get(kind.replace(" ", "_").replace("-", "_"))
    if key is None:
        raise InvalidRequest(f"unknown kind of object {kind!r}; expected one of {', '.join(_KIND_ALIASES)}")
    return key


def _views_to_rematerialize(state: RegistryState, diff: RegistryDiff) -> list[str]:
    """Views whose online rows may be dropped by this change: removed or reshaped, or keyed by a changed entity."""
    entities = {c.name for c in diff.changes if c.kind == "entity" and c.change == "changed"}
    return [
        c.name
        for c in diff.changes
        if c.kind == "feature_view"
        and (c.change == "removed" or any(f.path.startswith(_RESHAPING_PATHS) for f in c.fields))
    ] + [name for name, o in state.objects["feature_views"].items() if entities & set(o.spec.get("entities", []))]


def _used_objects(contents: RepoContents) -> dict[str, list[Any]]:
    """What the given objects use and must be registered with them (as the repo loader collects them)."""
    used: dict[str, list[Any]] = {"data_sources": [], "entities": []}
    for fv in contents.feature_views:
        used["data_sources"] += [fv.source, fv.source.batch]
        used["entities"] += fv.entity_objects
    for odfv in contents.on_demand_feature_views:
        used["data_sources"] += odfv.request_sources
    return used


def _contents_specs(contents: RepoContents) -> Specs:
    """The ``to_dict()`` of every object in ``contents`` (plus what they use), one per kind and name."""
    used = _used_objects(contents)
    specs: Specs = {k: {} for k in KINDS}
    for key in KINDS:
        for obj in [*getattr(contents, key), *used.get(key, [])]:
            spec = obj.to_dict()
            other = specs[key].setdefault(obj.name, spec)
            if other != spec:
                raise InvalidDefinition(
                    KIND_CLASS_NAMES[key],
                    obj.name,
                    f"two different {key.replace('_', ' ').replace('on demand', 'on-demand')} have this name",
                    "give each a distinct name",
                )
    return specs


def _validate(desired: Specs, project: str) -> None:
    """Check that the objects about to be registered refer only to each other, raising InvalidDefinition."""
    for name in desired["projects"]:
        if name != project:
            raise InvalidDefinition(
                "Project",
                name,
                f"does not match the project '{project}' of feature_store.yaml",
                "use the same name in both places",
            )
    _validate_feature_views(desired)
    _validate_on_demand_views(desired)
    for name, spec in desired["feature_services"].items():
        for projection in spec["features"]:
            _validate_projection(name, projection, desired)


def _validate_feature_views(desired: Specs) -> None:
    entities, sources = desired["entities"], desired["data_sources"]
    for name, spec in desired["feature_views"].items():
        for entity in spec["entities"]:
            if entity not in entities:
                raise InvalidDefinition(
                    "FeatureView",
                    name,
                    f"uses entity '{entity}', which is not defined",
                    f"define Entity(name='{entity}', ...) in the repo; defined entities: {sorted(entities) or 'none'}",
                )
        _validate_join_keys(name, spec, entities)
        if name in desired["on_demand_feature_views"]:
            raise ConflictingViewNames("FeatureView", name, "an on-demand feature view has the same name", "rename one")
        embedded = [spec["source"], spec["source"].get("batch_source")]
        for source in (s for s in embedded if s is not None):
            if source["name"] in sources and sources[source["name"]] != source:
                raise InvalidDefinition(
                    "FeatureView",
                    name,
                    f"was defined with a different version of data source '{source['name']}' than the one registered",
                    "apply the feature view together with its data source",
                )


def _check_readable(state: RegistryState) -> None:
    """Rebuild the new state's definitions before it is written, so a registry every later read (and apply)
    fails on is never stored. On-demand views are left out: rebuilding them runs their stored code."""
    state.entities()
    state.data_sources()
    state.feature_views()
    state.feature_services()


def _validate_join_keys(name: str, spec: dict[str, Any], entities: dict[str, dict[str, Any]]) -> None:
    """A view's entities have distinct join keys, each of a type its entity's ``value_type`` allows."""
    owner: dict[str, str] = {}
    fields = {f["name"]: f["dtype"] for f in spec["schema"]}
    for entity_name in spec["entities"]:
        entity = entities[entity_name]
        for key in entity["join_keys"]:
            if key in owner:
                raise InvalidDefinition(
                    "FeatureView",
                    name,
                    f"entities '{owner[key]}' and '{entity_name}' both have join key '{key}'",
                    "key the view by one of them, or give one entity another join key",
                )
            owner[key] = entity_name
            declared = ValueType[entity.get("value_type", "UNKNOWN")]
            if key in fields and not _value_type_allows(declared, fields[key]):
                raise InvalidDefinition(
                    "FeatureView",
                    name,
                    f"entity '{entity_name}' has value_type {declared.name}, but the view's join key '{key}' is "
                    f"{dtype_from_dict(fields[key])!r}",
                    f"make Entity '{entity_name}''s value_type and the '{key}' column agree",
                )


def _value_type_allows(declared: ValueType, dtype: Any) -> bool:
    """Whether a join-key field of ``dtype`` (registry form) fits an entity's ``value_type``; widths may differ."""
    if declared is ValueType.UNKNOWN:
        return True
    try:
        actual = dtype_from_dict(dtype).to_value_type()
    except (TypeError, KeyError):
        return True
    family = {ValueType.INT32: "int", ValueType.INT64: "int", ValueType.FLOAT: "float", ValueType.DOUBLE: "float"}
    return actual is ValueType.UNKNOWN or family.get(actual, actual.name) == family.get(declared, declared.name)


def _validate_on_demand_views(desired: Specs) -> None:
    views = desired["feature_views"]
    for name, spec in desired["on_demand_feature_views"].items():
        for source in spec["sources"]:
            view = source.get("feature_view")
            if view is not None and view not in views:
                raise InvalidDefinition(
                    "OnDemandFeatureView",
                    name,
                    f"reads feature view '{view}', which is not defined",
                    f"define or apply it too; defined feature views: {sorted(views) or 'none'}",
                )


def _feature_names(view: dict[str, Any], desired: Specs) -> list[str]:
    """The feature names of a view spec: an on-demand view's schema, a view's schema minus its join keys."""
    if view["kind"] == "on_demand_feature_view":
        return [f["name"] for f in view["schema"]]
    keys = set(view["entities"])
    for entity in view["entities"]:
        keys.update(desired["entities"].get(entity, {}).get("join_keys", []))
    return [f["name"] for f in view["schema"] if f["name"] not in keys]


def _validate_projection(service: str, projection: dict[str, Any], desired: Specs) -> None:
    name = projection["name"]
    view = desired["feature_views"].get(name) or desired["on_demand_feature_views"].get(name)
    if view is None:
        known = sorted([*desired["feature_views"], *desired["on_demand_feature_views"]])
        raise InvalidDefinition(
            "FeatureService",
            service,
            f"includes feature view '{name}', which is not defined",
            f"define or apply it too; defined feature views: {known or 'none'}",
        )
    features = _feature_names(view, desired)
    unknown = [f for f in projection["features"] or [] if f not in features]
    if unknown:
        raise InvalidDefinition(
            "FeatureService",
            service,
            f"includes feature(s) {', '.join(repr(f) for f in unknown)} of '{name}', which it does not have",
            f"its features are: {', '.join(features)}",
        )

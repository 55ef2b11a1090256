"""``FeatureStore``: the one object users hold. A thin facade over the registry, the stores and the
retrieval/materialization modules; it translates arguments and delegates."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ladle.backends.catalog import make_batch_engine, make_offline_store, make_online_store
from ladle.config import RepoConfig, load_repo_config
from ladle.definitions import (
    DataSource,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    Project,
    PushSource,
)
from ladle.definitions.kinds import kind_of
from ladle.definitions.stream_sources import StreamSource
from ladle.errors import DataSourceNotFound, InvalidRequest, NotFound
from ladle.ingest.materialize import MaterializeResult, Progress, check_end, incremental_start, utc
from ladle.ingest.push import PushMode, as_arrow, check_offline_rows, online_rows
from ladle.ingest.windowed import drop_views, is_windowed, materialize_windowed, write_windowed
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore
from ladle.registry import Registry, RegistryDiff, RegistryState
from ladle.registry.registry import MaterializationBookkeeping
from ladle.repo.inference import check_feature_view, infer_source
from ladle.repo.loader import RepoContents, load_repo
from ladle.retrieval.feature_refs import ResolvedFeatures, check_features_arg, resolve_features
from ladle.retrieval.historical import historical_job
from ladle.retrieval.job import RetrievalJob
from ladle.retrieval.on_demand_check import dry_run_on_demand
from ladle.retrieval.online_read import OnlineResponse, read_online
from ladle.types import to_arrow

__all__ = ["FeatureStore"]

Definition = Entity | DataSource | FeatureView | OnDemandFeatureView | FeatureService | Project


class FeatureStore:
    """A feature repo's registry, offline store and online store behind Feast's API.

    >>> # store = FeatureStore(repo_path=".")
    >>> # store.get_historical_features(entity_df, ["driver_hourly_stats:conv_rate"]).to_df()
    """

    def __init__(
        self,
        repo_path: str | Path | None = None,
        config: RepoConfig | None = None,
        fs_yaml_file: str | Path | None = None,
        feast_compatible_dtypes: bool | None = None,
    ) -> None:
        path = Path(repo_path) if repo_path is not None else Path.cwd()
        self.config = config if config is not None else load_repo_config(path, fs_yaml_file)
        #: ``to_df()`` results with Feast's dtypes instead of the declared ones (see docs/feast-differences.md)
        self.feast_compatible_dtypes = (
            self.config.feast_compatible_dtypes if feast_compatible_dtypes is None else feast_compatible_dtypes
        )
        self.repo_path = self.config.repo_path.resolve()
        self.registry = Registry(self.config)
        self._offline: OfflineStore | None = None
        self._online: OnlineStore | None = None
        self._lock = threading.Lock()
        self._resolved: dict[tuple[Any, ...], ResolvedFeatures] = {}
        self._resolved_for: object = None

    # --- components ----------------------------------------------------------------------------------
    @property
    def project(self) -> str:
        """The project name from feature_store.yaml."""
        return self.config.project

    @property
    def offline_store(self) -> OfflineStore:
        """The configured offline store (created on first use)."""
        with self._lock:
            if self._offline is None:
                self._offline = make_offline_store(self.config)
            return self._offline

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store (created on first use)."""
        with self._lock:
            if self._online is None:
                self._online = make_online_store(self.config)
            return self._online

    def _require_online(self, call: str) -> None:
        """Refuse an online call in a repo configured without an online store."""
        if self.config.online_store is None:
            raise InvalidRequest(
                f"{call} needs an online store, but feature_store.yaml sets `online_store: null` (offline only); "
                "configure one there, e.g. `online_store: {type: sqlite, path: data/online_store.db}`"
            )

    def close(self) -> None:
        """Release the stores' connections."""
        for s in (self._offline, self._online):
            if s is not None:
                s.close()

    def refresh_registry(self) -> None:
        """Re-read the registry now instead of waiting for its cache to expire."""
        self.registry.refresh()

    # --- registry reads (Feast names) ------------------------------------------------------------------
    def list_entities(self, allow_cache: bool = True, tags: dict[str, str] | None = None) -> list[Entity]:
        """Registered entities."""
        return _tagged(self.registry.list_entities(), tags)

    def list_feature_views(self, allow_cache: bool = True, tags: dict[str, str] | None = None) -> list[FeatureView]:
        """Registered feature views."""
        return _tagged(self.registry.list_feature_views(), tags)

    def list_batch_feature_views(
        self, allow_cache: bool = True, tags: dict[str, str] | None = None
    ) -> list[FeatureView]:
        """Registered feature views (ladle has no separate batch kind)."""
        return self.list_feature_views(allow_cache, tags)

    def list_on_demand_feature_views(
        self, allow_cache: bool = True, tags: dict[str, str] | None = None
    ) -> list[OnDemandFeatureView]:
        """Registered on-demand feature views."""
        return _tagged(self.registry.list_on_demand_feature_views(), tags)

    def list_feature_services(self, tags: dict[str, str] | None = None) -> list[FeatureService]:
        """Registered feature services."""
        return _tagged(self.registry.list_feature_services(), tags)

    def list_data_sources(self, allow_cache: bool = True, tags: dict[str, str] | None = None) -> list[DataSource]:
        """Registered data sources."""
        return _tagged(self.registry.list_data_sources(), tags)

    def get_entity(self, name: str, allow_registry_cache: bool = True) -> Entity:
        """One entity by name (NotFound if absent)."""
        return self.registry.get_entity(name)

    def get_feature_view(self, name: str, allow_registry_cache: bool = True) -> FeatureView:
        """One feature view by name (NotFound if absent)."""
        return self.registry.get_feature_view(name)

    def get_on_demand_feature_view(self, name: str, allow_registry_cache: bool = True) -> OnDemandFeatureView:
        """One on-demand feature view by name (NotFound if absent)."""
        return self.registry.get_on_demand_feature_view(name)

    def get_feature_service(self, name: str, allow_cache: bool = True) -> FeatureService:
        """One feature service by name (NotFound if absent)."""
        return self.registry.get_feature_service(name)

    def get_data_source(self, name: str) -> DataSource:
        """One data source by name (NotFound if absent)."""
        return self.registry.get_data_source(name)

    # --- applying definitions ----------------------------------------------------------------------
    def _infer(
        self, contents: RepoContents, skip_source_validation: bool = False, missing_data_ok: bool = True
    ) -> RepoContents:
        """Fill in and check the definitions against their sources (see :func:`ladle.repo.inference.check_feature_view`)."""
        schema_of = self.offline_store.source_schema
        for src in contents.data_sources:
            if src.source_type != "request":
                infer_source(src, schema_of)
        entities = {e.name: e for e in contents.entities}
        for fv in contents.feature_views:
            fv.bind_entities(entities)
            check_feature_view(fv, schema_of, skip_source_validation, missing_data_ok)
        for odfv in contents.on_demand_feature_views:
            dry_run_on_demand(odfv)
        return contents

    def _apply_infra(self, state: RegistryState, dropped: list[FeatureView]) -> None:
        """Make the online store match the committed ``state`` (see :meth:`Registry.settle_infra`)."""
        if self.config.online_store is None:  # an offline-only repo has no tables to create
            return
        keep = [v for v in state.feature_views().values() if v.online]
        self.online_store.update(self.project, keep, dropped)
        drop_views(self.online_store, self.project, dropped)

    def _settle_infra(self) -> None:
        """Finish online-store work a crashed or interrupted apply left pending in the registry."""
        self.registry.settle_infra(self._apply_infra)

    def finish_pending_apply(self) -> bool:
        """Finish the online-store work an interrupted ``apply`` left pending; ``True`` if there was some.

        The next apply, materialization, push or online write does it anyway; ``ladle serve`` calls this at
        start so a server never runs beside half-applied online storage (docs/reliability.md).
        """
        if self.config.online_store is None:
            return False
        return self.registry.settle_infra(self._apply_infra)

    def validate_repo(self) -> RepoContents:
        """Check what ``apply_repo`` checks, writing nothing: the definitions against their sources (offline
        store; all must be readable), the registry (read) and the online store (connection and credentials)."""
        contents = self._infer(load_repo(self.repo_path), missing_data_ok=False)
        self.registry.plan(contents)
        if self.config.online_store is not None:
            self.online_store.check()
        return contents

    def plan_repo(self, skip_source_validation: bool = False) -> RegistryDiff:
        """What ``apply_repo`` would change (added, changed field by field, removed); writes nothing."""
        return self.registry.plan(self._infer(load_repo(self.repo_path), skip_source_validation))

    def apply_repo(self, skip_source_validation: bool = False) -> RegistryDiff:
        """Make the registry equal to the repo's definitions, atomically, with the online tables.

        A fully declared view (timestamp field, features and join-key types given) whose source cannot be
        read yet is registered with a :class:`~ladle.errors.LadleWarning`; ``skip_source_validation`` does
        not read such sources at all (views that need their source for inference still read it).
        """
        contents = self._infer(load_repo(self.repo_path), skip_source_validation)
        return self._apply(contents)

    def _apply(self, contents: RepoContents) -> RegistryDiff:
        """Make the registry hold exactly ``contents``; online tables follow in the same all-or-nothing step."""
        if self.config.online_store is not None:
            # an unreachable online store stops apply before the registry commit, so nothing is half-applied
            self.online_store.check()
        diff = self.registry.apply(contents, partial=False, apply_infra=self._apply_infra)
        self._resolved.clear()
        return diff

    def apply(
        self,
        objects: Definition | list[Definition],
        objects_to_delete: list[Definition] | None = None,
        partial: bool = True,
    ) -> RegistryDiff:
        """Register ``objects`` (added or updated; the rest is kept), like Feast's ``store.apply``.

        ``objects_to_delete`` are removed in the same atomic write (with the online tables they own);
        ``partial=False`` makes the registry hold exactly ``objects``.
        """
        objs = objects if isinstance(objects, list) else [objects]
        given = RepoContents.from_objects(objs)
        if not partial:
            return self._apply(self._infer(given))
        state = self.registry.state()
        current: dict[str, dict[str, Any]] = {
            "projects": state.projects(),
            "data_sources": state.data_sources(),
            "entities": state.entities(),
            "feature_views": state.feature_views(),
            "on_demand_feature_views": state.on_demand_feature_views(),
            "feature_services": state.feature_services(),
        }
        doomed = {(kind_of(o), o.name) for o in objects_to_delete or []}
        merged = RepoContents()
        for kind, new_objs in given.by_kind().items():
            names = {o.name for o in new_objs}
            kept = [o for n, o in current[kind].items() if n not in names and (kind, n) not in doomed]
            merged.by_kind()[kind].extend([*kept, *new_objs])
        return self._apply(self._infer(merged))

    def teardown(self) -> None:
        """Remove the online tables and the registry."""
        if self.config.online_store is not None:
            self.online_store.teardown(self.project, self.registry.list_feature_views())
            drop_views(self.online_store, self.project, self.registry.list_feature_views())
        self.registry.teardown()

    # --- retrieval -----------------------------------------------------------------------------------
    def _resolve(self, features: Any, full_feature_names: bool) -> ResolvedFeatures:
        check_features_arg(features, full_feature_names)
        marker = self.registry.state_marker()
        if marker != self._resolved_for:
            self._resolved.clear()
            self._resolved_for = marker
        key_features = (
            features.name
            if isinstance(features, FeatureService)
            else (tuple(features) if isinstance(features, list | tuple) else features)
        )
        # the marker is part of the key: a resolution computed while another thread swaps the registry in
        # is never served under the new registry
        key = (marker, key_features, full_feature_names, isinstance(features, FeatureService))
        hit = self._resolved.get(key)
        if hit is None:
            hit = resolve_features(self.registry, features, full_feature_names)
            _check_enabled(hit)
            self._resolved[key] = hit
        return hit

    def get_historical_features(
        self,
        entity_df: Any,
        features: list[str] | FeatureService,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        """A point-in-time-correct training set: one row per entity row, features as of its timestamp."""
        resolved = self._resolve(features, full_feature_names)
        job = historical_job(self.offline_store, resolved, entity_df, filter_by_created_timestamp, _key_types(resolved))
        job.feast_compatible_dtypes = self.feast_compatible_dtypes
        return job

    def get_online_features(
        self,
        features: list[str] | FeatureService,
        entity_rows: list[dict[str, Any]] | dict[str, list[Any]],
        full_feature_names: bool = False,
        request_context: dict[str, list[Any]] | None = None,
    ) -> OnlineResponse:
        """The latest values for ``entity_rows`` (list of dicts, or dict of lists), with statuses."""
        self._require_online("get_online_features")
        online = self.config.online_store
        assert online is not None
        resolved = self._resolve(features, full_feature_names)
        response = read_online(
            self.online_store,
            self.project,
            resolved,
            entity_rows,
            request_context,
            online.enforce_ttl,
            key_types=_key_types(resolved),
        )
        response.feast_compatible_dtypes = self.feast_compatible_dtypes
        return response

    async def get_online_features_async(
        self,
        features: list[str] | FeatureService,
        entity_rows: list[dict[str, Any]] | dict[str, list[Any]],
        full_feature_names: bool = False,
        request_context: dict[str, list[Any]] | None = None,
    ) -> OnlineResponse:
        """:meth:`get_online_features` for asyncio code: the read runs in a worker thread, so the event
        loop keeps serving other requests meanwhile."""
        return await asyncio.to_thread(
            self.get_online_features, features, entity_rows, full_feature_names, request_context
        )

    # --- materialization -----------------------------------------------------------------------------
    def _online_views(self, names: list[str] | None) -> tuple[list[FeatureView], MaterializationBookkeeping]:
        """The views to materialize, and bookkeeping that records them only while they stay as they are now."""
        self._settle_infra()
        state = self.registry.state()
        bookkeeping = MaterializationBookkeeping.of(self.registry, state)
        views = [state.feature_views()[n] for n in sorted(state.feature_views())]
        if not views:
            raise InvalidRequest(f"project '{self.project}' has no feature views registered; run `ladle apply` first")
        if names is None:
            # disabled views and views fed only by an online push source have nothing to materialize
            return [v for v in views if v.online and v.enabled and v.batch_source.has_history], bookkeeping
        if isinstance(names, str) or not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise InvalidRequest("feature_views must be a list of feature view names (or None for every view)")
        by_name = {v.name: v for v in views}
        out = []
        for n in names:
            if n not in by_name:
                raise NotFound("feature view", n, self.project, list(by_name))
            if not by_name[n].online:
                raise InvalidRequest(f"feature view '{n}' has online=False; it cannot be materialized")
            if not by_name[n].enabled:
                raise InvalidRequest(f"feature view '{n}' is disabled (enabled=False); enable it to materialize it")
            out.append(by_name[n])
        return out, bookkeeping

    def materialize(
        self,
        start_date: datetime,
        end_date: datetime,
        feature_views: list[str] | None = None,
        progress: Progress | None = None,
        disable_event_timestamp: bool = False,
    ) -> list[MaterializeResult]:
        """Load the latest value per key with ``start <= ts <= end`` into the online store.

        ``disable_event_timestamp=True`` (Feast's flag, for sources whose timestamps do not mean event time)
        writes those values with the current time as their event timestamp, so they replace what is stored.
        """
        self._require_online("materialize")
        start, end = utc(start_date), check_end(end_date)
        views, bookkeeping = self._online_views(feature_views)
        return self._materialize(
            [(v, start, end) for v in views],
            bookkeeping,
            progress,
            datetime.now(UTC) if disable_event_timestamp else None,
        )

    def materialize_incremental(
        self, end_date: datetime, feature_views: list[str] | None = None, progress: Progress | None = None
    ) -> list[MaterializeResult]:
        """Materialize each view from where its last run ended (first run: ``end - ttl``) up to ``end``."""
        self._require_online("materialize_incremental")
        end = check_end(end_date)
        views, bookkeeping = self._online_views(feature_views)
        intervals = [(v, incremental_start(v, self.registry.materialized_until(v.name), end), end) for v in views]
        return self._materialize(intervals, bookkeeping, progress)

    def _materialize(
        self,
        intervals: list[tuple[FeatureView, datetime, datetime]],
        bookkeeping: MaterializationBookkeeping,
        progress: Progress | None,
        event_timestamp: datetime | None = None,
    ) -> list[MaterializeResult]:
        """Run ``intervals`` on the configured batch engine (``local``, ``spark``, or a class path); windowed
        views load their window state in this process (:mod:`ladle.ingest.windowed`)."""
        windowed = [i for i in intervals if is_windowed(i[0])]
        plain = [i for i in intervals if not is_windowed(i[0])]
        done = materialize_windowed(
            self.offline_store, self.online_store, bookkeeping, self.project, windowed, progress
        )
        if plain:
            done += make_batch_engine(self.config).materialize(
                self.offline_store, self.online_store, bookkeeping, self.project, plain, progress, event_timestamp
            )
        order = {v.name: i for i, (v, _, _) in enumerate(intervals)}
        return sorted(done, key=lambda r: order[r.view])

    # --- writes from the application -----------------------------------------------------------------
    def write_to_online_store(
        self,
        feature_view_name: str,
        df: Any = None,
        allow_registry_cache: bool = True,
        inputs: Any = None,
        *,
        write_all_null_rows: bool = False,
    ) -> int:
        """Write rows (join keys, timestamp, features) to one view's online table, newer-wins.

        The rows are ``df`` or, as Feast also names them, ``inputs``: a pandas/Polars frame, an Arrow
        table or a dict of lists. Returns the number of rows handed to the online store: no rows is a no-op
        (0), and a row whose features are all null is skipped (it would erase the stored values) unless
        ``write_all_null_rows``.
        """
        what = f"write_to_online_store('{feature_view_name}')"
        if (df is None) == (inputs is None):
            raise InvalidRequest(f"{what}: pass the rows as df= or inputs= (exactly one of them)")
        self._require_online("write_to_online_store")
        self._settle_infra()
        view = self.registry.get_feature_view(feature_view_name)
        table = as_arrow(df if inputs is None else inputs)
        if table.num_rows == 0:
            return 0
        if is_windowed(view):
            return write_windowed(self.online_store, self.offline_store, self.project, [view], table, what)
        rows = online_rows(view, table, what, write_all_null_rows)
        return self.online_store.write(self.project, view, rows) if rows.num_rows else 0

    async def write_to_online_store_async(
        self,
        feature_view_name: str,
        df: Any = None,
        allow_registry_cache: bool = True,
        inputs: Any = None,
        *,
        write_all_null_rows: bool = False,
    ) -> int:
        """:meth:`write_to_online_store` for asyncio code (the write runs in a worker thread)."""
        return await asyncio.to_thread(
            self.write_to_online_store,
            feature_view_name,
            df,
            allow_registry_cache,
            inputs,
            write_all_null_rows=write_all_null_rows,
        )

    async def push_async(
        self,
        push_source_name: str,
        df: Any,
        allow_registry_cache: bool = True,
        to: PushMode | str = PushMode.ONLINE,
        *,
        write_all_null_rows: bool = False,
    ) -> None:
        """:meth:`push` for asyncio code (the writes run in a worker thread)."""
        await asyncio.to_thread(
            self.push, push_source_name, df, allow_registry_cache, to, write_all_null_rows=write_all_null_rows
        )

    def push(
        self,
        push_source_name: str,
        df: Any,
        allow_registry_cache: bool = True,
        to: PushMode | str = PushMode.ONLINE,
        *,
        write_all_null_rows: bool = False,
    ) -> None:
        """Send rows to every view fed by the push source: online, offline (appended to its data), or both.

        Online, a row whose features are all null is skipped unless ``write_all_null_rows`` (see
        :meth:`write_to_online_store`); offline, every row is appended.
        """
        mode = PushMode.parse(to)
        if mode is not PushMode.OFFLINE:
            self._require_online(f"push(to={mode.name})")
        self._settle_infra()
        try:
            source = self.registry.get_data_source(push_source_name)
        except DataSourceNotFound:
            pushes = [s.name for s in self.registry.list_data_sources() if isinstance(s, PushSource)]
            raise NotFound("push source", push_source_name, self.project, pushes) from None
        if not isinstance(source, PushSource | StreamSource):  # stream sources: what `ladle stream` writes
            raise InvalidRequest(f"data source '{push_source_name}' is a {type(source).__name__}, not a PushSource")
        views = [v for v in self.registry.list_feature_views() if v.source.name == push_source_name]
        if not views:
            raise InvalidRequest(
                f"push source '{push_source_name}' is not the source of any feature view, so the rows would go "
                "nowhere (use it as a FeatureView's source and run `ladle apply`, or push to another source)"
            )
        if mode is PushMode.ONLINE and not any(v.online for v in views):
            raise InvalidRequest(
                f"push source '{push_source_name}' feeds only views with online=False "
                f"({', '.join(v.name for v in views)}), so an online push writes nothing (push with to='offline')"
            )
        table = as_arrow(df)
        if table.num_rows == 0:
            return
        what = f"push to '{push_source_name}'"
        online_views = [v for v in views if v.online] if mode != PushMode.OFFLINE else []
        prepared = [(v, online_rows(v, table, what, write_all_null_rows)) for v in online_views if not is_windowed(v)]
        if mode == PushMode.ONLINE_AND_OFFLINE:  # everything is checked before anything is written
            batch = source.batch
            check_offline_rows(batch, self.offline_store.source_schema(batch), table, what)
        if mode in (PushMode.ONLINE, PushMode.ONLINE_AND_OFFLINE):
            windowed = [v for v in online_views if is_windowed(v)]
            write_windowed(self.online_store, self.offline_store, self.project, windowed, table, what)
            for v, rows in prepared:
                if rows.num_rows:
                    self.online_store.write(self.project, v, rows)
        if mode in (PushMode.OFFLINE, PushMode.ONLINE_AND_OFFLINE):
            self.offline_store.append(source.batch, table)


def _check_enabled(resolved: ResolvedFeatures) -> None:
    disabled = sorted({req.view.name for req in resolved.views if not req.view.enabled})
    if disabled:
        raise InvalidRequest(
            f"feature view(s) {disabled} are disabled (enabled=False) and serve no features; "
            "set enabled=True and apply, or drop their features from the request"
        )


def _tagged(objs: list[Any], tags: dict[str, str] | None) -> list[Any]:
    if not tags:
        return objs
    if not isinstance(tags, dict):
        raise InvalidRequest(f"tags must be a dict of tag name to value, got {type(tags).__name__}")
    return [o for o in objs if all(o.tags.get(k) == v for k, v in tags.items())]


def _key_types(resolved: ResolvedFeatures) -> dict[str, pa.DataType]:
    """The Arrow type of every entity column, from the views' declared join-key fields (cached)."""
    cached = resolved.key_types
    if cached is None:
        cached = {}
        for req in resolved.views:
            for f in req.view.entity_columns:
                try:
                    cached.setdefault(req.join_key_map.get(f.name, f.name), to_arrow(f.dtype))
                except TypeError:
                    continue
        resolved.key_types = cached
    return cached

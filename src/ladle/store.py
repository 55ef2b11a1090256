"""``FeatureStore``: the one object users hold. A thin facade over the registry, the stores and the
retrieval/materialization modules; it translates arguments and delegates."""

from __future__ import annotations

import asyncio
import threading
import warnings
from dataclasses import replace
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from ladle import __version__
from ladle.backends.catalog import make_batch_engine, make_offline_store, make_online_store
from ladle.check import CheckReport, run_checks
from ladle.config import RepoConfig, load_repo_config
from ladle.definitions import DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView
from ladle.definitions.contents import Definition, RepoContents
from ladle.definitions.kinds import kind_of
from ladle.errors import InvalidRequest, LadleWarning, WrongArgumentType
from ladle.ingest.late_data import incremental_with_late_data
from ladle.ingest.materialize import MaterializeResult, Progress, check_end, incremental_start, select_views, utc
from ladle.ingest.push import PushMode, push_rows, push_targets, write_view_rows
from ladle.ingest.windowed import drop_views, is_windowed, materialize_windowed
from ladle.offline.base import OfflineStore
from ladle.offline.filesystem import ObjectStoreOptions
from ladle.online.base import OnlineStore
from ladle.registry import Registry, RegistryDiff, RegistryState
from ladle.registry.history import RegistryVersion
from ladle.registry.registry import MaterializationBookkeeping
from ladle.repo.inference import fill_given, infer_contents
from ladle.repo.loader import load_repo
from ladle.retrieval.date_range import range_entity_rows
from ladle.retrieval.feature_refs import CachedResolver, ResolvedFeatures
from ladle.retrieval.historical import historical_job
from ladle.retrieval.job import RetrievalJob
from ladle.retrieval.online_read import OnlineResponse, read_online, read_online_async
from ladle.retrieval.reproduce import ReproduceReport, reproduce
from ladle.retrieval.saved_datasets import SavedDataset, dataset_record, write_dataset
from ladle.versions import FeatureSetRoot, PublishResult, RollbackResult, VersionInfo, publish, rollback
from ladle.versions.sources import pinned, source_versions

__all__ = ["FeatureStore"]


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
        if repo_path is not None and not isinstance(repo_path, str | PathLike):
            raise WrongArgumentType(
                f"FeatureStore(repo_path=...) must be a folder path, got {type(repo_path).__name__}"
            )
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
        self._resolver = CachedResolver(self.registry)

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
        self,
        contents: RepoContents,
        skip_source_validation: bool = False,
        missing_data_ok: bool = True,
        registered: RegistryState | None = None,
        doomed: frozenset[tuple[str, str]] = frozenset(),
    ) -> RepoContents:
        """Copies of the definitions, filled in and checked against their sources
        (:func:`ladle.repo.inference.infer_contents`); ``registered``: the state a partial apply adds to."""
        return infer_contents(
            contents,
            self.offline_store.source_schema,
            skip_source_validation=skip_source_validation,
            missing_data_ok=missing_data_ok,
            registered_entities=registered.entities() if registered else None,
            registered_views=[
                v
                for n, v in (registered.feature_views() if registered else {}).items()
                if ("feature_views", n) not in doomed
            ],
        )

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

    def _apply(
        self, contents: RepoContents, partial: bool = False, delete: frozenset[tuple[str, str]] = frozenset()
    ) -> RegistryDiff:
        """Register ``contents`` (see :meth:`Registry.apply`); online tables follow in the same all-or-nothing step."""
        if self.config.online_store is not None:
            # an unreachable online store stops apply before the registry commit, so nothing is half-applied
            self.online_store.check()
        diff = self.registry.apply(contents, partial=partial, delete=delete, apply_infra=self._apply_infra)
        self._resolver.clear()
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
            contents = self._infer(given)
            diff = self._apply(contents)
        else:
            doomed = _doomed(objects_to_delete)
            contents = self._infer(given, registered=self.registry.state(), doomed=doomed)
            diff = self._apply(contents, partial=True, delete=doomed)
        fill_given(objs, contents)
        return diff

    def teardown(self) -> None:
        """Remove the online tables and the registry."""
        if self.config.online_store is not None:
            self.online_store.teardown(self.project, self.registry.list_feature_views())
            drop_views(self.online_store, self.project, self.registry.list_feature_views())
        self.registry.teardown()

    # --- registry history (docs/registry-history.md) ---------------------------------------------------
    def registry_history(self) -> list[RegistryVersion]:
        """The retained registry versions, oldest first: time, user, host, summary and changes of each."""
        return self.registry.history()

    def diff_registry_versions(self, a: int, b: int) -> RegistryDiff:
        """What changed from registry version ``a`` to ``b``, object by object and field by field."""
        return self.registry.diff_versions(a, b)

    def rollback_registry(self, version: int) -> RegistryDiff:
        """Write a new registry version equal to ``version``, with the online tables adjusted as ``apply`` does."""
        if self.config.online_store is not None:
            self.online_store.check()
        diff = self.registry.rollback(version, apply_infra=self._apply_infra)
        self._resolver.clear()
        return diff

    def list_feature_view_versions(self, name: str) -> list[dict[str, Any]]:
        """Feast's view versions of ``name`` (v0, v1, ... one per contract change), each with ``active``."""
        record = self.registry.feature_view_versions(name)
        return [{**v, "active": v["version"] == record["active"]} for v in record["versions"]]

    # --- saved datasets (docs/saved-datasets.md) --------------------------------------------------------
    def create_saved_dataset(
        self,
        from_: RetrievalJob,
        name: str,
        storage: Any,
        tags: dict[str, str] | None = None,
        feature_service: FeatureService | None = None,
        allow_overwrite: bool = False,
    ) -> SavedDataset:
        """Store ``from_``'s training set at ``storage`` and register it with its reproducibility metadata."""
        if not isinstance(from_, RetrievalJob):
            raise WrongArgumentType(f"create_saved_dataset(from_=...) takes a RetrievalJob, got {type(from_).__name__}")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("create_saved_dataset needs a name")
        known = {d["name"] for d in self.registry.list_saved_datasets()}
        if name in known and not allow_overwrite:
            raise InvalidRequest(f"saved dataset '{name}' already exists; pass allow_overwrite=True or another name")
        state = self.registry.state()
        service = feature_service.name if feature_service is not None else None
        record, entity = dataset_record(
            from_,
            name,
            storage,
            tags,
            state,
            self.offline_store,
            self.repo_path,
            service,
        )
        write_dataset(from_, storage, entity, self.offline_store, allow_overwrite)
        self.registry.save_dataset(name, record, allow_overwrite)
        return SavedDataset.from_record(record, self.offline_store, self.repo_path)

    def get_saved_dataset(self, name: str) -> SavedDataset:
        """A registered saved dataset (``.to_df()`` reads its rows)."""
        return SavedDataset.from_record(self.registry.get_saved_dataset(name), self.offline_store, self.repo_path)

    def list_saved_datasets(self, tags: dict[str, str] | None = None) -> list[SavedDataset]:
        """The registered saved datasets, by name."""
        found = [
            SavedDataset.from_record(r, self.offline_store, self.repo_path) for r in self.registry.list_saved_datasets()
        ]
        return _tagged(found, tags)

    def reproduce_saved_dataset(self, name: str) -> ReproduceReport:
        """Rebuild a saved dataset with the definitions of the registry version it recorded (the data as it is
        now), compare it with the stored rows and name what changed since (docs/saved-datasets.md)."""
        dataset = self.get_saved_dataset(name)
        return reproduce(dataset, self.registry.state(), self.offline_store, self.repo_path, self._object_store())

    # --- retrieval -----------------------------------------------------------------------------------
    def _resolve(self, features: Any, full_feature_names: bool) -> ResolvedFeatures:
        return self._resolver.resolve(features, full_feature_names)

    def get_historical_features(
        self,
        entity_df: Any = None,
        features: list[str] | FeatureService | None = None,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """A point-in-time-correct training set: one row per entity row, features as of its timestamp.

        Without ``entity_df``, the rows are every ``(key, event time)`` of the views' data between
        ``start_date`` and ``end_date`` (Feast's entity-less retrieval; see :mod:`ladle.retrieval.date_range`).
        """
        if features is None:
            raise InvalidRequest("get_historical_features needs features=[...] or a FeatureService")
        resolved = self._resolve(features, full_feature_names)
        versions = source_versions([r.view for r in resolved.views], self.repo_path, self._object_store())
        if versions:  # read what is recorded, even if `latest` moves before the job runs
            requests = [
                replace(r, view=pinned(r.view, versions[r.view.name])) if r.view.name in versions else r
                for r in resolved.views
            ]
            resolved = replace(resolved, views=requests)
        if entity_df is None:
            entity_df = range_entity_rows(self.offline_store, resolved, start_date, end_date)
        elif start_date is not None or end_date is not None:
            raise InvalidRequest("pass either entity_df or start_date/end_date to get_historical_features, not both")
        job = historical_job(
            self.offline_store, resolved, entity_df, filter_by_created_timestamp, resolved.key_arrow_types()
        )
        job.feast_compatible_dtypes = self.feast_compatible_dtypes
        job.metadata["source_versions"] = versions
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
        resolved = self._resolve(features, full_feature_names)
        response = read_online(
            self.online_store,
            self.project,
            resolved,
            entity_rows,
            request_context,
            self.online_store.config.enforce_ttl,
            key_types=resolved.key_arrow_types(),
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
        """:meth:`get_online_features` for asyncio code: the event loop keeps serving other work meanwhile.

        A small batch from an online store that reads asynchronously (Redis) is computed on the loop with
        the store's round trip awaited; anything else runs in a worker thread
        (:func:`~ladle.retrieval.online_read.read_online_async`). The features are resolved on the loop
        (from memory; once the registry cache's ttl has passed, that includes re-reading the registry).
        """
        self._require_online("get_online_features_async")
        resolved = self._resolve(features, full_feature_names)
        response = await read_online_async(
            self.online_store,
            self.project,
            resolved,
            entity_rows,
            request_context,
            self.online_store.config.enforce_ttl,
            key_types=resolved.key_arrow_types(),
        )
        response.feast_compatible_dtypes = self.feast_compatible_dtypes
        return response

    # --- materialization -----------------------------------------------------------------------------
    def _online_views(self, names: list[str] | None) -> tuple[list[FeatureView], MaterializationBookkeeping]:
        """The views to materialize, and bookkeeping that records them only while they stay as they are now."""
        self._settle_infra()
        state = self.registry.state()
        views = select_views(state.feature_views(), self.project, names)
        return views, MaterializationBookkeeping.of(self.registry, state)

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
        _check_progress(progress)
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
        _check_progress(progress)
        end = check_end(end_date)
        views, bookkeeping = self._online_views(feature_views)
        intervals = [(v, incremental_start(v, self.registry.materialized_until(v.name), end), end) for v in views]
        return incremental_with_late_data(  # late data: older events that arrived since the last run
            self.offline_store,
            self.online_store,
            self.registry,
            self.project,
            [v for v in views if not is_windowed(v)],
            end,
            lambda: self._materialize(intervals, bookkeeping, progress),
        )

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
        rows = df if inputs is None else inputs
        return write_view_rows(
            self.online_store, self.offline_store, self.project, view, rows, what, write_all_null_rows
        )

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
        targets = push_targets(self.registry, push_source_name, mode)
        online = self.online_store if mode is not PushMode.OFFLINE else None
        push_rows(self.offline_store, online, self.project, targets, df, mode, write_all_null_rows)

    # --- feature-set versions (docs/operating.md) ------------------------------------------------------
    def _object_store(self) -> ObjectStoreOptions:
        options = getattr(self.offline_store, "object_store", None)
        return options if isinstance(options, ObjectStoreOptions) else ObjectStoreOptions()

    def feature_set_root(self, root: str | None = None) -> FeatureSetRoot:
        """Where versions are published: ``root``, else ``feature_sets.root`` of feature_store.yaml."""
        configured = self.config.feature_sets
        where = root or (configured.root if configured else None)
        if not where:
            raise InvalidRequest(
                "no feature-set root: add `feature_sets: {root: data/feature_sets}` (or s3://bucket/prefix) to "
                "feature_store.yaml, or pass --root"
            )
        options = self._object_store()
        if configured is not None and configured.s3_endpoint and not root:
            options = replace(options, endpoint=configured.s3_endpoint)
        return FeatureSetRoot(where, self.repo_path, options)

    def _contract_view(self, view: str | FeatureView) -> FeatureView:
        """The view whose contract data is checked against, by name: the repo's definition (publishing may come
        before ``apply``), else the registered one, else (a view object given) that object."""
        name = view.name if isinstance(view, FeatureView) else view
        with warnings.catch_warnings():  # a source not written yet is expected before the first publish
            warnings.simplefilter("ignore", LadleWarning)
            contents = self._infer(load_repo(self.repo_path), skip_source_validation=True)
        found = [v for v in contents.feature_views if v.name == name]
        if found:
            return found[0]
        if isinstance(view, FeatureView) and name not in self.registry.state().feature_views():
            return view
        return self.registry.get_feature_view(name)

    def publish(
        self, view: str | FeatureView, df: Any, version: str | None = None, root: str | None = None
    ) -> PublishResult:
        """Check ``df`` (a frame, or a parquet/csv path or folder) against the view's contract and publish it as
        a new version (default: a UTC timestamp), then move ``latest`` to it; refused data leaves ``latest``."""
        target = self._contract_view(view)
        extra = {"ladle_version": __version__, "registry_version": self.registry.version}
        return publish(self.feature_set_root(root), target, df, version, extra)

    def list_versions(self, view: str, root: str | None = None) -> list[VersionInfo]:
        """The published versions of ``view`` (oldest first), the one ``latest`` points at marked."""
        return self.feature_set_root(root).versions(view)

    def rollback(self, view: str, version: str, root: str | None = None, online: bool = True) -> RollbackResult:
        """Move ``latest`` of ``view`` back to ``version`` and make the online store serve that version's values
        for every key of the current and the target version (all-or-nothing; docs/operating.md)."""
        target = self.registry.get_feature_view(view) if online else self._contract_view(view)
        use_online = online and self.config.online_store is not None and target.online
        if use_online:
            self._settle_infra()
        store = self.online_store if use_online else None
        return rollback(self.feature_set_root(root), target, version, store, self.project)

    def check(self, sample: int = 10) -> CheckReport:
        """The operating checklist (``ladle check``): registry, sources, freshness, online reads, skew."""
        return run_checks(self, sample)


def _tagged(objs: list[Any], tags: dict[str, str] | None) -> list[Any]:
    if not tags:
        return objs
    if not isinstance(tags, dict):
        raise InvalidRequest(f"tags must be a dict of tag name to value, got {type(tags).__name__}")
    return [o for o in objs if all(o.tags.get(k) == v for k, v in tags.items())]


def _doomed(objects_to_delete: Any) -> frozenset[tuple[str, str]]:
    """``objects_to_delete`` of ``apply`` as ``(kind, name)`` pairs, refusing anything that is not a definition."""
    if objects_to_delete is None:
        return frozenset()
    if not isinstance(objects_to_delete, list | tuple):
        raise WrongArgumentType(
            f"apply(objects_to_delete=...) must be a list of definitions, got {type(objects_to_delete).__name__}"
        )
    pairs = []
    for obj in objects_to_delete:
        kind = kind_of(obj)
        if kind is None:
            raise WrongArgumentType(
                f"apply(objects_to_delete=...) holds {str(obj)[:80]!r}, which is not a definition (pass the "
                "Entity, FeatureView, ... objects themselves)"
            )
        pairs.append((kind, obj.name))
    return frozenset(pairs)


def _check_progress(progress: Any) -> None:
    if progress is not None and not callable(progress):
        raise WrongArgumentType(
            f"progress must be a function (view name, rows written, total rows), got {type(progress).__name__}"
        )

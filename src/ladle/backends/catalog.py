"""Creating the offline store, online store and batch engine a repo's configuration selects."""

from __future__ import annotations

from ladle.backends.tables import BATCH_ENGINES, OFFLINE_STORES, ONLINE_STORES, BackendKind, backend_class
from ladle.common.backend_config import BackendConfig
from ladle.config import CONFIG_FILE, RepoConfig
from ladle.errors import InvalidRequest
from ladle.ingest.materialize import BatchEngine
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore

__all__ = ["make_batch_engine", "make_offline_store", "make_online_store"]


def _create(kind: BackendKind, settings: BackendConfig, config: RepoConfig) -> object:
    return backend_class(kind, settings.type, CONFIG_FILE, config.repo_path)(settings, config.repo_path)


def make_offline_store(config: RepoConfig) -> OfflineStore:
    """The offline store ``config.offline_store`` selects (its module, and driver, load only then)."""
    store = _create(OFFLINE_STORES, config.offline_store, config)
    assert isinstance(store, OfflineStore)
    return store


def make_online_store(config: RepoConfig) -> OnlineStore:
    """The online store ``config.online_store`` selects (its module, and driver, load only then)."""
    if config.online_store is None:
        raise InvalidRequest(
            "this repo has no online store (`online_store: null` in feature_store.yaml); "
            "configure one, e.g. `online_store: {type: sqlite}`"
        )
    store = _create(ONLINE_STORES, config.online_store, config)
    assert isinstance(store, OnlineStore)
    return store


def make_batch_engine(config: RepoConfig) -> BatchEngine:
    """The batch engine ``config.batch_engine`` selects (``local``, ``spark``, an installed one or a class path)."""
    engine = _create(BATCH_ENGINES, config.batch_engine, config)
    assert isinstance(engine, BatchEngine)
    return engine

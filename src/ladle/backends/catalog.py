"""Choosing the offline and online store classes from feature_store.yaml's ``type:``."""

from __future__ import annotations

from ladle.backends.plugins import is_class_path
from ladle.config import RepoConfig
from ladle.errors import InvalidRequest
from ladle.ingest.materialize import BatchEngine, LocalEngine
from ladle.offline.base import OfflineStore
from ladle.online.base import OnlineStore

__all__ = ["make_batch_engine", "make_offline_store", "make_online_store"]


def _plugin(class_path: str, base: type, key: str, config: RepoConfig) -> type:
    from ladle.backends.plugins import load_plugin
    from ladle.config import CONFIG_FILE

    return load_plugin(class_path, base, key, CONFIG_FILE, config.repo_path)


def make_offline_store(config: RepoConfig) -> OfflineStore:
    """The offline store ``config.offline_store`` describes (a built-in ``type``, or a class path)."""
    settings = config.offline_store
    if is_class_path(settings.type):
        store: OfflineStore = _plugin(settings.type, OfflineStore, "offline_store.type", config)(
            settings, config.repo_path
        )
        return store
    if settings.type == "postgres":
        from ladle.offline.postgres import PostgreSQLOfflineStore

        return PostgreSQLOfflineStore(settings, config.repo_path)
    if settings.type == "spark":
        from ladle.offline.spark import SparkOfflineStore

        return SparkOfflineStore(settings, config.repo_path)
    from ladle.offline.duckdb import DuckDBOfflineStore

    return DuckDBOfflineStore(settings, config.repo_path)


def make_online_store(config: RepoConfig) -> OnlineStore:
    """The online store ``config.online_store`` describes (its module, and driver, load only then; or a class path)."""
    settings = config.online_store
    if settings is None:
        raise InvalidRequest(
            "this repo has no online store (`online_store: null` in feature_store.yaml); "
            "configure one, e.g. `online_store: {type: sqlite}`"
        )
    if is_class_path(settings.type):
        store: OnlineStore = _plugin(settings.type, OnlineStore, "online_store.type", config)(
            settings, config.repo_path
        )
        return store
    if settings.type == "dynamodb":
        from ladle.online.dynamodb import DynamoDBOnlineStore

        return DynamoDBOnlineStore(settings, config.repo_path)
    if settings.type == "postgres":
        from ladle.online.postgres import PostgreSQLOnlineStore

        return PostgreSQLOnlineStore(settings, config.repo_path)
    if settings.type == "redis":
        from ladle.online.redis import RedisOnlineStore

        return RedisOnlineStore(settings, config.repo_path)
    from ladle.online.sqlite import SqliteOnlineStore

    return SqliteOnlineStore(settings, config.repo_path)


def make_batch_engine(config: RepoConfig) -> BatchEngine:
    """The batch engine ``config.batch_engine`` describes (``local``, ``spark`` or a class path)."""
    settings = config.batch_engine
    if is_class_path(settings.type):
        engine: BatchEngine = _plugin(settings.type, BatchEngine, "batch_engine.type", config)(
            settings, config.repo_path
        )
        return engine
    if settings.type == "spark":
        from ladle.ingest.spark_engine import SparkEngine

        return SparkEngine(settings, config.repo_path)
    return LocalEngine(settings, config.repo_path)

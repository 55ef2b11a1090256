"""``feature_store.yaml``: parsing, ``${ENV}`` expansion and validation into :class:`RepoConfig`.

Each backend's settings are a pydantic model with a ``type`` literal, living beside the backend; this
module only knows the built-in defaults and how to pick a model by ``type``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ladle.errors import InvalidConfig
from ladle.offline.postgres import PostgreSQLOfflineStoreConfig
from ladle.offline.spark import SparkOfflineStoreConfig
from ladle.online.base import OnlineStoreConfig
from ladle.online.dynamodb import DynamoDBOnlineStoreConfig
from ladle.online.postgres import PostgreSQLOnlineStoreConfig
from ladle.online.redis import RedisOnlineStoreConfig

__all__ = [
    "ApiKeyConfig",
    "DuckDBOfflineStoreConfig",
    "FeatureServerConfig",
    "OnlineStoreConfig",
    "RegistryConfig",
    "RepoConfig",
    "SqliteOnlineStoreConfig",
    "load_repo_config",
]

CONFIG_FILE = "feature_store.yaml"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryConfig(_Strict):
    """Where definitions are kept. ``path`` is relative to the repo unless absolute."""

    path: str = "data/registry.db"
    #: ``file`` (a local JSON file) or ``sql`` (``path: postgresql://...`` or ``sqlite:///...``)
    registry_type: Literal["file", "sql"] = "file"
    cache_ttl_seconds: float = 60.0
    registry_store_type: str | None = None
    #: for ``path: s3://...`` on an S3-compatible server other than AWS
    s3_endpoint_url: str | None = None


class DuckDBOfflineStoreConfig(_Strict):
    """The embedded offline store: DuckDB over parquet files (``type: duckdb`` or ``type: file``)."""

    type: Literal["duckdb", "file", "dask"] = "duckdb"
    #: DuckDB memory limit, e.g. "4GB"; None lets DuckDB choose
    memory_limit: str | None = None
    #: worker threads; None means one per core
    threads: int | None = None


class SqliteOnlineStoreConfig(OnlineStoreConfig):
    """The embedded online store: one SQLite file (``type: sqlite``)."""

    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online_store.db"


class MaterializationConfig(_Strict):
    """How materialization runs (``batch_engine``)."""

    #: ``local`` (in this process) or ``spark`` (latest-per-key in Spark, written by the executors)
    type: Literal["local", "spark"] = "local"
    #: rows per write batch
    batch_size: int = 1_000_000
    #: spark engine: partitions (parallel writers) of the latest rows; None keeps Spark's shuffle partitions
    partitions: int | None = Field(default=None, gt=0)


class ApiKeyConfig(_Strict):
    """One scoped key of ``feature_server.api_keys``: ``{key, scope, projects?}``."""

    key: str = Field(min_length=1)
    #: ``read`` (online reads, metrics, docs) < ``write`` (+ push, write-to-online-store) < ``admin`` (+ materialize)
    scope: Literal["read", "write", "admin"] = "admin"
    #: the projects the key is valid for (None: every project)
    projects: list[str] | None = None


class FeatureServerConfig(_Strict):
    """``ladle serve`` settings (``feature_server:``); command-line options and ``LADLE_API_KEY`` add to them."""

    type: Literal["local"] = "local"
    #: keys accepted in ``Authorization: Bearer <key>`` or ``X-API-Key``: a plain string is an admin key,
    #: ``{key, scope, projects}`` a scoped one. No key anywhere means no authentication
    api_keys: list[ApiKeyConfig] = []
    #: a file of keys, one a line: ``[scope] key [project,...]`` (keeps keys out of the yaml and of ``ps``)
    api_keys_file: str | None = None
    #: seconds between background re-reads of the registry (0: read once at start)
    registry_ttl_sec: float = Field(default=5.0, ge=0)
    #: the largest request body accepted (bigger ones get 413)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    #: the most entity rows one read (or rows one push/write) may hold (more get 413)
    max_entities_per_request: int = Field(default=10_000, gt=0)
    #: ``Host`` names accepted (None: localhost, 127.0.0.1, [::1] and the bind host; ``["*"]``: any)
    allowed_hosts: list[str] | None = None
    #: origins a browser may call the server from (CORS); none by default
    cors_origins: list[str] = []
    #: event timestamps further than this in the future are refused (None: no limit)
    max_future_event_sec: float | None = Field(default=300.0, ge=0)
    #: an online read not answered within this is a 503 (and counts as a store failure)
    online_timeout_sec: float = Field(default=1.0, gt=0)
    #: consecutive store failures that open the circuit breaker (requests then get 503 at once)
    breaker_failures: int = Field(default=3, gt=0)
    #: seconds the breaker stays open before one request probes the store again
    breaker_open_sec: float = Field(default=1.0, gt=0)
    #: seconds a client has to send a request's headers, and then its whole body
    header_timeout_sec: float = Field(default=10.0, gt=0)
    body_timeout_sec: float = Field(default=30.0, gt=0)
    #: open connections per worker; more are closed at once
    max_connections: int = Field(default=512, gt=0)


    @field_validator("api_keys", mode="before")
    @classmethod
    def _plain_keys_are_admin(cls, v: Any) -> Any:
        return [{"key": k} if isinstance(k, str) else k for k in v] if isinstance(v, list) else v


class RepoConfig(_Strict):
    """The whole of feature_store.yaml, validated."""

    project: str
    registry: RegistryConfig = RegistryConfig()
    provider: Literal["local"] = "local"
    offline_store: Annotated[
        DuckDBOfflineStoreConfig | PostgreSQLOfflineStoreConfig | SparkOfflineStoreConfig, Field(discriminator="type")
    ] = DuckDBOfflineStoreConfig()
    online_store: Annotated[
        SqliteOnlineStoreConfig | RedisOnlineStoreConfig | PostgreSQLOnlineStoreConfig | DynamoDBOnlineStoreConfig,
        Field(discriminator="type"),
    ] = SqliteOnlineStoreConfig()
    batch_engine: MaterializationConfig = MaterializationConfig()
    feature_server: FeatureServerConfig = FeatureServerConfig()
    entity_key_serialization_version: int = 3
    coerce_tz_aware: bool = True
    flags: dict[str, Any] | None = None
    repo_path: Path = Path(".")

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9_]+$", v):
            raise ValueError("project must contain only letters, digits and underscores")
        return v

    @field_validator("registry", mode="before")
    @classmethod
    def _registry_path(cls, v: Any) -> Any:
        return {"path": v} if isinstance(v, str) else v

    @field_validator("offline_store", mode="before")
    @classmethod
    def _offline(cls, v: Any) -> Any:
        return {"type": v} if isinstance(v, str) else v

    @field_validator("online_store", mode="before")
    @classmethod
    def _online(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"type": v}
        return {"type": "sqlite", **v} if isinstance(v, dict) and "type" not in v else v

    @field_validator("entity_key_serialization_version")
    @classmethod
    def _eksv(cls, v: int) -> int:
        if v not in (1, 2, 3):
            raise ValueError("must be 1, 2 or 3 (ladle uses its own key encoding; the value is accepted)")
        return v

    def resolve(self, path: str) -> Path:
        """A path from the yaml, relative to the repo folder unless absolute."""
        p = Path(path)
        return p if p.is_absolute() else (self.repo_path / p)


def _expand_env(value: Any, where: str, file: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise InvalidConfig(file, f"{where} uses ${{{name}}}, which is not set", f"export {name}=... or write ${{{name}:-default}}")

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}" if where else str(k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    return value


def _describe(error: ValidationError, file: str) -> InvalidConfig:
    first = error.errors()[0]
    parts = [str(p) for p in first["loc"] if not str(p).startswith("function-")]
    if len(parts) > 2 and parts[0].endswith("_store"):
        del parts[1]  # the union member's tag (online_store.redis.x -> online_store.x)
    loc = ".".join(parts)
    if first["type"] == "extra_forbidden":
        return InvalidConfig(file, f"unknown key '{loc}'", "remove it or check its spelling against the docs")
    if first["type"] == "missing":
        return InvalidConfig(file, f"missing required key '{loc}'")
    if first["type"] == "union_tag_invalid":
        ctx = first.get("ctx", {})
        return InvalidConfig(
            file, f"'{loc}.type' is {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        )
    if first["type"] == "literal_error":
        return InvalidConfig(file, f"'{loc}' is {first.get('input')!r}: {first['msg'].lower()}")
    return InvalidConfig(file, f"'{loc}': {first['msg']}")


def parse_repo_config(data: Any, repo_path: Path, file: str = CONFIG_FILE) -> RepoConfig:
    """Validate an already-parsed yaml mapping."""
    if not isinstance(data, dict):
        raise InvalidConfig(file, "must be a YAML mapping with at least 'project:'")
    data = _expand_env(data, "", file)
    try:
        return RepoConfig(**{**data, "repo_path": repo_path})
    except ValidationError as exc:
        raise _describe(exc, file) from None


def load_repo_config(repo_path: str | Path, config_file: str | Path | None = None) -> RepoConfig:
    """Read and validate ``feature_store.yaml`` of the repo at ``repo_path``."""
    repo = Path(repo_path).resolve()
    path = Path(config_file) if config_file else repo / CONFIG_FILE
    if not path.is_absolute():
        path = repo / path
    if not path.exists():
        raise InvalidConfig(str(path), "not found", "run `ladle init` or pass the repo folder with -c/--chdir")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidConfig(str(path), f"is not valid YAML: {exc}") from None
    return parse_repo_config(data, repo, str(path))

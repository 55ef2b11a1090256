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
    "masked",
]

CONFIG_FILE = "feature_store.yaml"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|[KMGT]i?B|bytes|%)\s*$", re.IGNORECASE)
#: environment variables naming the configuration file, first set wins (Feast reads the second)
YAML_PATH_ENV_VARS = ("LADLE_FS_YAML_FILE_PATH", "FEAST_FS_YAML_FILE_PATH")
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
    #: HMAC key (write ``${ENV_VAR}``): sign the registry on write, refuse a registry without a valid
    #: signature on read (see docs/reliability.md, "Trust model")
    signing_key: str | None = None


class DuckDBOfflineStoreConfig(_Strict):
    """The embedded offline store: DuckDB over parquet files (``type: duckdb`` or ``type: file``)."""

    type: Literal["duckdb", "file", "dask"] = "duckdb"
    #: DuckDB memory limit, e.g. "4GB"; None lets DuckDB choose
    memory_limit: str | None = None
    #: worker threads; None means one per core
    threads: int | None = Field(default=None, gt=0)
    #: S3-compatible server for ``s3://`` sources (``host:port`` or a URL); a source's s3_endpoint_override wins
    s3_endpoint: str | None = None
    #: AWS region; default AWS_REGION / AWS_DEFAULT_REGION, else the bucket's own region
    s3_region: str | None = None
    #: ``path`` or ``vhost`` addressing (default: path with an endpoint, vhost on AWS)
    s3_url_style: Literal["path", "vhost"] | None = None
    #: https for an s3_endpoint without a scheme unless false
    s3_use_ssl: bool | None = None
    #: credentials; default the AWS environment variables, profile or instance role
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, v: str | None) -> str | None:
        if v is not None and not _MEMORY.match(v):
            raise ValueError(f"{v!r} is not a size; write a number and a unit, e.g. 4GB, 512MB or 2GiB")
        return v


class SqliteOnlineStoreConfig(OnlineStoreConfig):
    """The embedded online store: one SQLite file (``type: sqlite``)."""

    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online_store.db"


class MaterializationConfig(_Strict):
    """How materialization runs (``batch_engine``)."""

    #: ``local`` (in this process), ``spark`` (latest-per-key in Spark, written by the executors), or the
    #: class path of a :class:`ladle.ingest.materialize.BatchEngine` subclass (see ladle/plugins.py)
    type: Literal["local", "spark"] = "local"
    #: rows per write batch
    batch_size: int = Field(default=1_000_000, gt=0)
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
    #: ``online_store: null`` means no online store: an offline-only repo (online calls are refused)
    online_store: (
        Annotated[
            SqliteOnlineStoreConfig | RedisOnlineStoreConfig | PostgreSQLOnlineStoreConfig | DynamoDBOnlineStoreConfig,
            Field(discriminator="type"),
        ]
        | None
    ) = SqliteOnlineStoreConfig()
    batch_engine: MaterializationConfig = MaterializationConfig()
    feature_server: FeatureServerConfig = FeatureServerConfig()
    entity_key_serialization_version: int = 3
    coerce_tz_aware: bool = True
    #: ladle-only: ``to_df()`` gives Feast's dtypes (float64 for Float32, NaN for missing ints, lists online)
    feast_compatible_dtypes: bool = False
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


MASK = "********"
_SECRET_KEY = re.compile(
    r"password|secret|token|api_keys?$|^key$|access_key|private_key|signing_key|credential", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_PASSWORD_PARAM = re.compile(r"((?:^|[\s,;&?])password\s*=\s*)[^\s,;&]+", re.IGNORECASE)


def masked(config: RepoConfig) -> dict[str, Any]:
    """The resolved configuration as plain data with secrets hidden (what ``ladle configuration`` prints).

    Values of keys naming a secret (password, token, api_keys, ...) become ``********``, and so do passwords
    inside URLs (``postgresql://user:********@host``) and ``password=`` parameters of connection strings.
    """
    data = config.model_dump(mode="json", exclude={"repo_path"})
    return {"repo_path": str(config.repo_path), **_mask(data)}


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_KEY.search(key):
            return MASK
        return _PASSWORD_PARAM.sub(
            lambda m: m.group(1) + MASK, _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", value)
        )
    return value


def _expand_env(value: Any, where: str, file: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise InvalidConfig(
                file, f"{where} uses ${{{name}}}, which is not set", f"export {name}=... or write ${{{name}:-default}}"
            )

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
        return InvalidConfig(file, f"'{loc}.type' is {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}")
    if first["type"] == "literal_error":
        return InvalidConfig(file, f"'{loc}' is {first.get('input')!r}: {first['msg'].lower()}")
    return InvalidConfig(file, f"'{loc}': {first['msg'].removeprefix('Value error, ')}")


#: built-in store classes (``module.Class``) and their config classes, for plugins that subclass them
_BUILTIN_CONFIGS: dict[str, type[BaseModel]] = {
    "ladle.online.sqlite.SqliteOnlineStore": SqliteOnlineStoreConfig,
    "ladle.online.redis.RedisOnlineStore": RedisOnlineStoreConfig,
    "ladle.online.postgres.PostgreSQLOnlineStore": PostgreSQLOnlineStoreConfig,
    "ladle.online.dynamodb.DynamoDBOnlineStore": DynamoDBOnlineStoreConfig,
    "ladle.offline.duckdb.DuckDBOfflineStore": DuckDBOfflineStoreConfig,
    "ladle.offline.postgres.PostgreSQLOfflineStore": PostgreSQLOfflineStoreConfig,
    "ladle.offline.spark.SparkOfflineStore": SparkOfflineStoreConfig,
    "ladle.ingest.materialize.LocalEngine": MaterializationConfig,
    "ladle.ingest.spark_engine.SparkEngine": MaterializationConfig,
}


def _plugin_sections(data: dict[str, Any], repo_path: Path, file: str) -> dict[str, BaseModel]:
    """Take the store sections whose ``type`` is a class path out of ``data``; return their validated configs."""
    from ladle.backends.plugins import is_class_path, load_plugin, plugin_config
    from ladle.offline.base import OfflineStore
    from ladle.online.base import OnlineStore
    from ladle.registry.base import RegistryStore

    plugins: dict[str, BaseModel] = {}
    for key, base in (("online_store", OnlineStore), ("offline_store", OfflineStore)):
        section = data.get(key)
        if isinstance(section, str):
            section = {"type": section}
        if isinstance(section, dict) and is_class_path(section.get("type")):
            cls = load_plugin(section["type"], base, f"{key}.type", file, repo_path)
            plugins[key] = plugin_config(cls, section, _BUILTIN_CONFIGS, key, file)
            del data[key]
    engine = data.get("batch_engine")
    if isinstance(engine, str):
        engine = {"type": engine}
    if isinstance(engine, dict) and is_class_path(engine.get("type")):
        from ladle.ingest.materialize import BatchEngine

        cls = load_plugin(engine["type"], BatchEngine, "batch_engine.type", file, repo_path)
        plugins["batch_engine"] = plugin_config(cls, engine, _BUILTIN_CONFIGS, "batch_engine", file)
        del data["batch_engine"]
    registry = data.get("registry")
    if isinstance(registry, dict) and is_class_path(registry.get("registry_store_type")):
        load_plugin(registry["registry_store_type"], RegistryStore, "registry.registry_store_type", file, repo_path)
    return plugins


def parse_repo_config(data: Any, repo_path: Path, file: str = CONFIG_FILE) -> RepoConfig:
    """Validate an already-parsed yaml mapping (store ``type``s may be class paths: see :mod:`ladle.backends.plugins`)."""
    if not isinstance(data, dict):
        raise InvalidConfig(file, "must be a YAML mapping with at least 'project:'")
    data = _expand_env(data, "", file)
    plugins = _plugin_sections(data, repo_path, file)
    try:
        config = RepoConfig(**{**data, "repo_path": repo_path})
    except ValidationError as exc:
        raise _describe(exc, file) from None
    return config.model_copy(update=plugins) if plugins else config


def config_file_from_env() -> Path | None:
    """``LADLE_FS_YAML_FILE_PATH`` or Feast's ``FEAST_FS_YAML_FILE_PATH`` (relative to the current folder)."""
    for name in YAML_PATH_ENV_VARS:
        if os.environ.get(name):
            return Path(os.environ[name]).absolute()
    return None


def load_repo_config(repo_path: str | Path, config_file: str | Path | None = None) -> RepoConfig:
    """Read and validate ``feature_store.yaml`` of the repo at ``repo_path``.

    Without ``config_file``, the file named by ``LADLE_FS_YAML_FILE_PATH`` (or ``FEAST_FS_YAML_FILE_PATH``) is
    read when set, else ``feature_store.yaml`` in the repo.
    """
    repo = Path(repo_path).resolve()
    config_file = config_file or config_file_from_env()
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

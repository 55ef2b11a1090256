"""``feature_store.yaml``: parsing, ``${ENV}`` expansion and validation into :class:`RepoConfig`.

Each backend's settings are a pydantic model with a ``type`` literal, living beside the backend. This module
imports no backend: it looks a section's ``type`` up in :mod:`ladle.backends.tables` (built-in names, entry
points, class paths), which loads that one backend's module to validate the section with its model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from ladle.backends.tables import (
    BATCH_ENGINES,
    OFFLINE_STORES,
    ONLINE_STORES,
    BackendKind,
    backend_class,
    registry_store_class,
    section_config,
)
from ladle.common.backend_config import BackendConfig
from ladle.errors import InvalidConfig

__all__ = [
    "ApiKeyConfig",
    "BackendConfig",
    "FeatureServerConfig",
    "RegistryConfig",
    "RepoConfig",
    "load_repo_config",
    "masked",
]

CONFIG_FILE = "feature_store.yaml"
#: environment variables naming the configuration file, first set wins (Feast reads the second)
YAML_PATH_ENV_VARS = ("LADLE_FS_YAML_FILE_PATH", "FEAST_FS_YAML_FILE_PATH")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryConfig(_Strict):
    """Where definitions are kept. ``path`` is relative to the repo unless absolute."""

    path: str = "data/registry.db"
    #: ``file`` (a local JSON file, or S3 for ``path: s3://...``), ``sql`` (``path: postgresql://...`` or
    #: ``sqlite:///...``), ``s3``, or the name of an installed registry store (``ladle.registry_stores``)
    registry_type: str = "file"
    cache_ttl_seconds: float = 60.0
    #: Feast's spelling: a class path (``my_pkg.MyRegistryStore``), ``FileRegistryStore``/``S3RegistryStore``,
    #: or a ``registry_type`` name; wins over ``registry_type``
    registry_store_type: str | None = None
    #: for ``path: s3://...`` on an S3-compatible server other than AWS
    s3_endpoint_url: str | None = None
    #: HMAC key (write ``${ENV_VAR}``): sign the registry on write, refuse a registry without a valid
    #: signature on read (see docs/reliability.md, "Trust model")
    signing_key: str | None = None
    #: registry versions kept restorable (``ladle registry history|diff|rollback``; docs/registry-history.md)
    history_limit: int = Field(default=100, ge=1, le=100_000)


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


class FeatureSetsConfig(_Strict):
    """Where ``ladle publish`` writes feature-set versions (``feature_sets:``, docs/operating.md)."""

    #: ``<root>/<view>/<version>/`` and ``<root>/<view>/latest``: a local folder (relative to the repo) or
    #: ``s3://bucket/prefix`` (any URI pyarrow knows)
    root: str = Field(min_length=1)
    #: an S3-compatible server for an ``s3://`` root (``host:port`` or a URL); default: the offline store's
    #: ``s3_endpoint``, then AWS
    s3_endpoint: str | None = None


class RepoConfig(_Strict):
    """The whole of feature_store.yaml, validated."""

    project: str
    registry: RegistryConfig = RegistryConfig()
    provider: Literal["local"] = "local"
    #: each backend section is validated by its backend's own model (see :func:`_backend_sections`)
    offline_store: SerializeAsAny[BackendConfig]
    #: ``online_store: null`` means no online store: an offline-only repo (online calls are refused)
    online_store: SerializeAsAny[BackendConfig] | None
    batch_engine: SerializeAsAny[BackendConfig]
    feature_server: FeatureServerConfig = FeatureServerConfig()
    #: ladle-only: where published feature-set versions live (``ladle publish``; None: pass ``--root``)
    feature_sets: FeatureSetsConfig | None = None
    entity_key_serialization_version: int = 3
    #: Feast's switch for reading naive entity timestamps as UTC; ladle always does, so only ``true`` is accepted
    coerce_tz_aware: bool = True
    #: ladle-only: ``to_df()`` gives Feast's dtypes (float64 for Float32, NaN for missing ints, lists online)
    feast_compatible_dtypes: bool = False
    #: Feast's feature flags (``alpha_features``, ``on_demand_transforms``, ...): every ladle feature is on, so
    #: a flag may be ``true`` (accepted, no effect) but not ``false``
    flags: dict[str, bool] | None = None
    repo_path: Path = Path(".")

    @model_validator(mode="before")
    @classmethod
    def _backends(cls, data: Any) -> Any:
        # RepoConfig(...) built in code: sections as mappings (or missing) get their backend's model here;
        # parse_repo_config has done this already, naming the yaml file in its errors
        if isinstance(data, dict):
            return _backend_sections(data, Path(data.get("repo_path", ".")), CONFIG_FILE)
        return data

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

    @field_validator("coerce_tz_aware")
    @classmethod
    def _tz_aware(cls, v: bool) -> bool:
        if not v:
            raise ValueError(
                "ladle always reads naive entity_df timestamps as UTC and cannot turn that off; remove the key "
                "or set it to true, and give entity_df timezone-aware timestamps for another zone"
            )
        return v

    @field_validator("flags")
    @classmethod
    def _flags(cls, v: dict[str, bool] | None) -> dict[str, bool] | None:
        off = sorted(k for k, on in (v or {}).items() if not on)
        if off:
            raise ValueError(
                f"{', '.join(off)} set to false, but ladle has no feature flags (every feature is on); "
                "remove the flag(s) or the whole flags: mapping"
            )
        return v

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
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    if first["type"] == "extra_forbidden":
        return InvalidConfig(file, f"unknown key '{loc}'", "remove it or check its spelling against the docs")
    if first["type"] == "missing":
        return InvalidConfig(file, f"missing required key '{loc}'")
    if first["type"] == "literal_error":
        return InvalidConfig(file, f"'{loc}' is {first.get('input')!r}: {first['msg'].lower()}")
    return InvalidConfig(file, f"'{loc}': {first['msg'].removeprefix('Value error, ')}")


#: each backend section, and the ``type`` it has when the yaml leaves it out
_SECTIONS: tuple[tuple[BackendKind, str], ...] = (
    (OFFLINE_STORES, "duckdb"),
    (ONLINE_STORES, "sqlite"),
    (BATCH_ENGINES, "local"),
)


def _backend_sections(data: dict[str, Any], repo_path: Path, file: str) -> dict[str, Any]:
    """``data`` with each backend section (``offline_store``, ``online_store``, ``batch_engine``) validated by the
    model of the backend its ``type`` selects. A section may be its type alone (``online_store: redis``)."""
    out = dict(data)
    for kind, default in _SECTIONS:
        section = data.get(kind.section, {})
        if isinstance(section, BackendConfig) or (section is None and kind is ONLINE_STORES):
            continue
        if isinstance(section, str):
            section = {"type": section}
        if not isinstance(section, dict):
            raise InvalidConfig(file, f"'{kind.section}' must be a mapping, e.g. {{type: {default}}}")
        section = {"type": default, **section}
        if not isinstance(section["type"], str):
            raise InvalidConfig(file, f"'{kind.label}' must be a name such as {default!r}")
        cls = backend_class(kind, section["type"], file, repo_path)
        out[kind.section] = section_config(kind, cls, section, file)
    return out


def parse_repo_config(data: Any, repo_path: Path, file: str = CONFIG_FILE) -> RepoConfig:
    """Validate an already-parsed yaml mapping (store ``type``s may be class paths: see :mod:`ladle.backends.plugins`)."""
    if not isinstance(data, dict):
        raise InvalidConfig(file, "must be a YAML mapping with at least 'project:'")
    data = _backend_sections(_expand_env(data, "", file), repo_path, file)
    try:
        config = RepoConfig(**{**data, "repo_path": repo_path})
    except ValidationError as exc:
        raise _describe(exc, file) from None
    registry_store_class(config.registry, file, repo_path)  # an unknown or broken registry store fails here
    return config


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

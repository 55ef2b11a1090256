"""What ``ladle serve`` was asked for, and how it combines with ``feature_server:`` in feature_store.yaml.

Settings travel to uvicorn worker processes in the ``LADLE_SERVER_SETTINGS`` environment variable
(JSON), because each worker builds its own app (and so its own FeatureStore and connection pools).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ladle.config import FeatureServerConfig, RepoConfig
from ladle.server.auth import ApiKey, read_key_file, scoped_keys

__all__ = ["ENV_VAR", "ResolvedSettings", "ServerSettings"]

ENV_VAR = "LADLE_SERVER_SETTINGS"


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings the app runs with (command line over feature_store.yaml)."""

    api_keys: tuple[ApiKey, ...]
    registry_ttl_sec: float
    max_body_bytes: int
    #: the rest of ``feature_server:`` (limits, timeouts, the breaker, hosts)
    section: FeatureServerConfig = field(default_factory=FeatureServerConfig)


@dataclass(frozen=True)
class ServerSettings:
    """The repo to serve and the command-line overrides (``None``: take feature_store.yaml's value)."""

    repo_path: str
    fs_yaml_file: str | None = None
    #: keys from ``--api-key``/``LADLE_API_KEY`` (admin); added to ``feature_server.api_keys``
    api_keys: tuple[str, ...] = field(default_factory=tuple)
    #: a key file from ``--api-key-file``/``LADLE_API_KEY_FILE``; added too
    api_keys_file: str | None = None
    registry_ttl_sec: float | None = None
    max_body_bytes: int | None = None
    #: the interface ``ladle serve`` listens on (an allowed ``Host`` by default)
    bind_host: str | None = None
    #: run the stream workers in the server process (``ladle serve --stream``)
    stream: bool = False

    def resolve(self, config: RepoConfig) -> ResolvedSettings:
        """Combine with the repo's ``feature_server:`` section."""
        fs = config.feature_server
        return ResolvedSettings(
            api_keys=scoped_keys(
                config.project,
                self.api_keys,
                fs.api_keys,
                *(read_key_file(config.resolve(path)) for path in (fs.api_keys_file, self.api_keys_file) if path),
            ),
            registry_ttl_sec=fs.registry_ttl_sec if self.registry_ttl_sec is None else self.registry_ttl_sec,
            max_body_bytes=fs.max_body_bytes if self.max_body_bytes is None else self.max_body_bytes,
            section=fs,
        )

    def to_env(self) -> str:
        """JSON for :data:`ENV_VAR`."""
        data = asdict(self)
        data["repo_path"] = str(Path(self.repo_path).absolute())
        return json.dumps(data)

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The settings ``ladle serve`` put in :data:`ENV_VAR` (else: the current folder, no overrides)."""
        raw = os.environ.get(ENV_VAR)
        if not raw:
            return cls(repo_path=str(Path.cwd()))
        data = json.loads(raw)
        data["api_keys"] = tuple(data.get("api_keys") or ())
        return cls(**data)

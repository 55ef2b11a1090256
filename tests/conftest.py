"""Shared fixtures and hooks: small feature repos on disk; the backends, services marker and gap markers of
tests/backends.py applied at collection; hypothesis profiles (``HYPOTHESIS_PROFILE``: ``dev`` by default,
``ci`` in CI)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["backends"]  # its fixtures (moto_endpoint, pg_schema, redis_client) and marker hooks

# Hypothesis: ``ci`` runs more examples, derandomized so a CI failure reproduces from the log; ``dev`` fewer,
# for a quick loop. A test's own ``@settings`` may lower its count where one example is costly (Spark).
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DEFAULT_YAML = """\
project: test_project
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: duckdb
"""

RepoFactory = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> RepoFactory:
    """``make_repo({"features.py": "..."}, yaml=...)`` writes a repo folder and returns its path."""

    def make(files: dict[str, str], yaml: str = DEFAULT_YAML, name: str = "repo") -> Path:
        repo = tmp_path / name
        (repo / "data").mkdir(parents=True, exist_ok=True)
        (repo / "feature_store.yaml").write_text(yaml)
        for rel, text in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return repo

    return make

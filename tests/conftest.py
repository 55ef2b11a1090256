"""Shared fixtures and hooks: small feature repos on disk; the backends, services marker and gap markers of
tests/backends.py applied at collection; hypothesis profiles (``HYPOTHESIS_PROFILE``: ``dev`` by default,
``ci`` in CI)."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["backends"]  # its fixtures (moto_endpoint, pg_schema, redis_client) and marker hooks

# Hypothesis profiles, picked by HYPOTHESIS_PROFILE: ``ci`` (what .ci/run sets) runs each property test's full
# count, derandomized so a CI failure reproduces from its log; ``dev`` (the default) a fifth of it, for a quick loop.
CI_EXAMPLES = 200
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=CI_EXAMPLES // 5, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The DuckDB store's per-file answers (offline/fingerprints.py) go to $XDG_CACHE_HOME/ladle: keep the tests'
# in a folder of the run's own, not in the user's home (subprocesses inherit it).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ladle_tests_cache_")


def examples(ci: int) -> int:
    """A property test's example count: ``ci`` under the ``ci`` profile, proportionally fewer under ``dev``."""
    return max(10, ci * settings.default.max_examples // CI_EXAMPLES)


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

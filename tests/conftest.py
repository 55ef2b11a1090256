"""Shared fixtures: building small feature repos on disk."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

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


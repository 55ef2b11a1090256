"""feature_store.yaml: defaults, Feast's spellings, env expansion and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ladle.config import load_repo_config
from ladle.errors import InvalidConfig


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "feature_store.yaml").write_text(text)
    return tmp_path


def test_feast_style_yaml(tmp_path: Path) -> None:
    cfg = load_repo_config(
        write(
            tmp_path,
            """
project: feature_repo
registry: data/registry.db
provider: local
online_store:
    type: sqlite
    path: data/online_store.db
offline_store:
    type: file
entity_key_serialization_version: 2
""",
        )
    )
    assert cfg.project == "feature_repo"
    assert cfg.registry.path == "data/registry.db"
    assert cfg.offline_store.type == "file"
    assert cfg.online_store.path == "data/online_store.db"
    assert cfg.online_store.enforce_ttl is True
    assert cfg.resolve("data/x") == tmp_path.resolve() / "data/x"


def test_defaults_and_registry_mapping(tmp_path: Path) -> None:
    cfg = load_repo_config(write(tmp_path, "project: p\nregistry:\n  path: r.json\n  cache_ttl_seconds: 0\n"))
    assert cfg.registry.path == "r.json" and cfg.registry.cache_ttl_seconds == 0
    assert cfg.offline_store.type == "duckdb"
    assert cfg.online_store.type == "sqlite"


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADLE_TEST_DB", "online.db")
    cfg = load_repo_config(
        write(
            tmp_path, "project: p\nonline_store:\n  path: ${LADLE_TEST_DB}\nregistry: ${LADLE_UNSET_VAR:-fallback.db}\n"
        )
    )
    assert cfg.online_store.path == "online.db"
    assert cfg.registry.path == "fallback.db"
    with pytest.raises(InvalidConfig, match=r"online_store.path uses \$\{LADLE_NOPE\}, which is not set"):
        load_repo_config(write(tmp_path, "project: p\nonline_store:\n  path: ${LADLE_NOPE}\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: p\nonline_stor:\n  type: sqlite\n", "unknown key 'online_stor'"),
        ("project: p\nonline_store:\n  type: sqlite\n  pth: x\n", "unknown key 'online_store.pth'"),
        ("registry: r.db\n", "missing required key 'project'"),
        ("project: my-project\n", "project must contain only letters, digits and underscores"),
        ("project: p\noffline_store:\n  type: bigquery\n", "'offline_store.type' is 'bigquery'"),
        ("project: p\nprovider: gcp\n", "'provider' is 'gcp'"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("project: [unclosed\n", "is not valid YAML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        load_repo_config(write(tmp_path, text))
    assert message in str(info.value)
    assert "feature_store.yaml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match=r"not found.*ladle init"):
        load_repo_config(tmp_path)

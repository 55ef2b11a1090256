"""Shared fixtures: building small feature repos on disk; a real moto server for the AWS-backed stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
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


def start_moto_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a moto server (with extra environment ``env``) on a free loopback port; returns it and its URL."""
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        if os.environ.get("LADLE_REQUIRE_SERVICES") == "1":
            pytest.fail("moto_server is required (LADLE_REQUIRE_SERVICES=1): pip install 'moto[server]'")
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start within 30 s")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (DynamoDB and S3 over HTTP) on a free loopback port, for the whole session."""
    proc, endpoint = start_moto_server()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    yield endpoint
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(timeout=10)

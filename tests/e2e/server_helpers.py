"""Running ``ladle serve`` as a user does — a real process on a free loopback port — for the e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ladle import FeatureStore
from ladle.repo.init_template import init_repo

LADLE = Path(sys.executable).parent / "ladle"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_repo(parent: Path, name: str = "demo", yaml_extra: str = "", online: str | None = None) -> Path:
    """``ladle init NAME`` + apply + materialize up to now (in-process: the server is what is under test).

    ``yaml_extra`` is appended to feature_store.yaml; ``online`` replaces its ``online_store:`` block.
    """
    repo = init_repo(parent / name).path
    yaml_path = repo / "feature_store.yaml"
    text = yaml_path.read_text()
    if online is not None:
        start = text.index("online_store:")
        end = text.index("offline_store:")
        text = text[:start] + online.rstrip() + "\n" + text[end:]
    yaml_path.write_text(text + yaml_extra)
    store = FeatureStore(repo_path=repo)
    store.apply_repo()
    store.materialize_incremental(datetime.now(UTC))
    store.close()
    return repo


class Server:
    """A ``ladle serve`` process; ``url``, ``http`` (an httpx client), ``log()``; stop with :meth:`stop`."""

    def __init__(self, repo: Path, args: list[str], env: dict[str, str] | None, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {k: v for k, v in os.environ.items() if k != "LADLE_API_KEY"}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [str(LADLE), "serve", "-h", "127.0.0.1", "-p", str(self.port), *args],
            cwd=repo,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, status: int = 200) -> dict[str, Any]:
        """Poll ``/health`` until it answers ``status`` (bounded); return its document."""
        deadline = time.monotonic() + START_TIMEOUT_S
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"ladle serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                response = self.http.get("/health", timeout=5)
                last = response.status_code
                if response.status_code == status:
                    return dict(response.json())
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"ladle serve was not ready within {START_TIMEOUT_S} s (last: {last}):\n{self.log()}")

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """POST a JSON body (or ``content=`` bytes, sent as ``application/json`` unless ``headers`` say else)."""
        if body is not None:
            kwargs["json"] = body
        elif "content-type" not in {k.lower() for k in kwargs.get("headers", {})}:
            kwargs["headers"] = {**kwargs.get("headers", {}), "content-type": "application/json"}
        return self.http.post(path, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the process and wait for it (killed if it does not stop in time); the exit code."""
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


@contextmanager
def serving(repo: Path, *args: str, env: dict[str, str] | None = None, ready: int | None = 200) -> Iterator[Server]:
    """``ladle serve ARGS`` in ``repo`` for the duration of the block (waits for ``/health`` == ``ready``)."""
    server = Server(repo, ["--no-access-log", *args], env, repo.parent / f"server-{free_port()}.log")
    try:
        if ready is not None:
            server.wait_ready(ready)
        yield server
    finally:
        server.stop()


def ladle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``ladle`` command (another process than the server)."""
    return subprocess.run([str(LADLE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def result(document: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """A get-online-features answer as ``{column: {"values", "statuses", "event_timestamps"}}``."""
    names = document["metadata"]["feature_names"]
    return dict(zip(names, document["results"], strict=True))


def eventually(check: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Call ``check()`` until it returns a truthy value (bounded); return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)

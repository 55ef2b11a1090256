"""``ladle serve`` while its online store dies or stalls, and comes back: Redis (its own redis-server,
SIGKILL / SIGSTOP), PostgreSQL (through a TCP proxy that refuses or stalls), DynamoDB (its own moto
server, SIGKILL / SIGSTOP).

The promise (docs/reliability.md): a dead store is a 503 within 100 ms once the breaker knows it (the
first ``breaker_failures`` requests within ``online_timeout_sec``); a stalled store never blocks the
event loop, so ``/health`` answers within 100 ms throughout; the server recovers without a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from server_helpers import Server, demo_repo, eventually, free_port, serving

from backends import PG_DSN, postgres_admin, program

pytestmark = pytest.mark.services  # each test runs its own Redis, PostgreSQL proxy or moto server

BODY = {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}
#: what the fixtures' servers are given (the defaults but a shorter deadline, to keep the tests short)
SERVER_YAML = "feature_server:\n  online_timeout_sec: 0.5\n  breaker_failures: 3\n  breaker_open_sec: 0.5\n"
#: the promise, with some room for a busy 2-core CI machine
FAST_S = 0.1
SLACK_S = 0.15


def timed(server: Server, method: str = "POST") -> tuple[int, float]:
    """One request: its status and how long it took."""
    started = time.perf_counter()
    response = server.post("/get-online-features", BODY) if method == "POST" else server.http.get("/health")
    seconds = time.perf_counter() - started
    assert response.status_code in (200, 503), response.text
    return response.status_code, seconds


def during_outage(server: Server, reads: int = 12) -> dict[str, list[float]]:
    """Reads in a row and, at the same time, ``/health`` probes; their latencies (all must fail or 503)."""
    health: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not done.is_set() or len(health) < 8:
                started = time.perf_counter()
                response = http.get("/health")
                health.append(time.perf_counter() - started)
                assert response.status_code == 503, response.text
                time.sleep(0.05)

    with ThreadPoolExecutor(1) as pool:
        prober = pool.submit(probe)
        try:
            latencies = []
            for _ in range(reads):
                status, seconds = timed(server)
                assert status == 503
                latencies.append(seconds)
        finally:
            done.set()
        prober.result()
    return {"reads": latencies, "health": health}


def assert_fails_fast(figures: dict[str, list[float]], timeout: float = 0.5, failures: int = 3) -> None:
    """At most ``failures`` reads waited (up to the deadline), the others were refused at once; /health fast."""
    reads, health = figures["reads"], figures["health"]
    print(
        f"reads: {[round(s * 1000, 1) for s in reads]} ms; health: median {statistics.median(health) * 1000:.1f} ms,"
        f" max {max(health) * 1000:.1f} ms over {len(health)}"
    )
    assert max(reads) < timeout + SLACK_S, reads
    assert all(s < FAST_S + SLACK_S for s in reads[failures:]), reads
    assert statistics.median(reads[failures:]) < FAST_S, reads
    assert statistics.median(health) < FAST_S, health
    assert max(health) < FAST_S + SLACK_S, health


def recovers(server: Server) -> None:
    """Reads and /health are 200 again, without a restart."""
    eventually(lambda: timed(server)[0] == 200, timeout=15)
    eventually(lambda: server.http.get("/health").status_code == 200, timeout=15)


# --- Redis --------------------------------------------------------------------------------------------
@contextmanager
def own_redis() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A redis-server of the test's own on a free port (never the shared one); yields a (re)starter."""
    binary = program("redis-server", "Redis", "apt-get install redis-server")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        eventually(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=10)
        return proc

    start.port = port  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)


def test_redis_killed_and_stalled(tmp_path: Path) -> None:
    with own_redis() as start_redis:
        redis_proc = start_redis()
        online = f"online_store:\n  type: redis\n  connection_string: 127.0.0.1:{start_redis.port}\n"  # type: ignore[attr-defined]
        repo = demo_repo(tmp_path, online=online, yaml_extra=SERVER_YAML)
        with serving(repo) as server:
            assert timed(server)[0] == 200
            redis_proc.kill()  # SIGKILL
            redis_proc.wait(10)
            assert_fails_fast(during_outage(server))
            redis_proc = start_redis()  # empty, but it answers
            recovers(server)

            redis_proc.send_signal(signal.SIGSTOP)
            try:
                assert_fails_fast(during_outage(server))
            finally:
                redis_proc.send_signal(signal.SIGCONT)
            recovers(server)
            assert "Traceback" not in server.log()


# --- PostgreSQL ---------------------------------------------------------------------------------------
class TcpProxy:
    """A loopback TCP proxy to ``target`` that can refuse (a dead server) or stall (a hung one)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.stalled = threading.Event()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.listen()

    def listen(self) -> None:
        """Accept (and forward) connections again."""
        self.stalled.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        """Stop listening and drop every connection (as a killed server)."""
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
            self._listener.close()
            self._listener = None
        for conn in self._conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv, sends FIN
            conn.close()
        self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.stalled.is_set():  # read, never forwarded: the peer waits for an answer
                    time.sleep(0.01)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.close()


def test_postgres_refused_and_stalled(tmp_path: Path) -> None:
    admin = postgres_admin()
    schema = f"srv_outage_{uuid.uuid4().hex[:8]}"
    parts = dict(item.split("=", 1) for item in PG_DSN.split())
    proxy = TcpProxy((parts.get("host", "127.0.0.1"), int(parts.get("port", 5432))))
    online = (
        f"online_store:\n  type: postgres\n  host: 127.0.0.1\n  port: {proxy.port}\n"
        f"  database: {parts.get('dbname', 'test')}\n  user: {parts.get('user', 'postgres')}\n  db_schema: {schema}\n"
    )
    try:
        repo = demo_repo(tmp_path, online=online, yaml_extra=SERVER_YAML)
        with serving(repo) as server:
            assert timed(server)[0] == 200
            proxy.refuse()
            assert_fails_fast(during_outage(server))
            proxy.listen()
            recovers(server)

            proxy.stalled.set()
            try:
                assert_fails_fast(during_outage(server))
            finally:
                proxy.stalled.clear()
            recovers(server)
            assert "Traceback" not in server.log()
    finally:
        proxy.refuse()
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def test_postgres_never_reachable(tmp_path: Path) -> None:
    """A port nobody listens on, from the start: 503s, /health fast, no worker stuck."""
    admin = postgres_admin()
    admin.close()
    schema = f"srv_outage_{uuid.uuid4().hex[:8]}"
    repo = demo_repo(tmp_path)  # applied on SQLite; served against a PostgreSQL that is not there
    yaml_path = repo / "feature_store.yaml"
    text = yaml_path.read_text()
    start, end = text.index("online_store:"), text.index("offline_store:")
    dead = f"online_store:\n  type: postgres\n  host: 127.0.0.1\n  port: {free_port()}\n  db_schema: {schema}\n"
    yaml_path.write_text(text[:start] + dead + text[end:] + SERVER_YAML)
    with serving(repo, ready=503) as server:
        assert_fails_fast(during_outage(server))


# --- DynamoDB -----------------------------------------------------------------------------------------
def test_dynamodb_killed_and_stalled(tmp_path: Path) -> None:
    moto = program("moto_server", "moto", "pip install 'moto[server]'")
    port = free_port()

    def start_moto() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        eventually(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=30)
        return proc

    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in aws}
    os.environ.update(aws)
    moto_proc = start_moto()
    try:
        online = f"online_store:\n  type: dynamodb\n  region: us-east-1\n  endpoint_url: http://127.0.0.1:{port}\n"
        repo = demo_repo(tmp_path, online=online, yaml_extra=SERVER_YAML)
        with serving(repo, env=aws) as server:
            assert timed(server)[0] == 200
            moto_proc.send_signal(signal.SIGSTOP)
            try:
                assert_fails_fast(during_outage(server))
            finally:
                moto_proc.send_signal(signal.SIGCONT)
            recovers(server)
            moto_proc.kill()
            moto_proc.wait(10)
            assert_fails_fast(during_outage(server))  # its tables die with it: recovery is not checked
            assert "Traceback" not in server.log()
    finally:
        if moto_proc.poll() is None:
            moto_proc.send_signal(signal.SIGCONT)
            moto_proc.kill()
            moto_proc.wait(10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """No outage test may hang the suite."""

    def expire(*_: object) -> None:
        raise TimeoutError("outage test took over 180 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(180)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

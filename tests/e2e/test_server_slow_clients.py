"""``ladle serve`` against slow and stalled clients, with raw sockets: a connection that sends nothing,
headers trickled a byte at a time, a body that stops half-way, more sockets than the connection cap.
Each is closed within its deadline, and the server keeps answering (the issue: 400 stalled sockets
exhausted the file descriptors and broke the registry refresh)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Server, demo_repo, serving

YAML = "feature_server:\n  header_timeout_sec: 1\n  body_timeout_sec: 1\n  max_connections: 20\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with 1 s header and body deadlines and at most 20 connections."""
    repo: Path = demo_repo(tmp_path_factory.mktemp("slow"), yaml_extra=YAML)
    with serving(repo, "--registry-ttl-sec", "0.2") as running:
        yield running


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Read until the server closes the socket (bounded); what it sent and when it closed."""
    started = time.monotonic()
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for over {seconds} s")
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def test_a_silent_connection_is_closed(server: Server) -> None:
    with _connect(server) as sock:
        received, after = _closed_within(sock, 5)
    assert received == b"" and 0.8 < after < 3


def test_trickled_headers_are_cut_off(server: Server) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 100
    with _connect(server) as sock:
        started = time.monotonic()
        try:
            for byte in head:  # a byte every 0.1 s: the headers would take 14 s
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received, _ = _closed_within(sock, 5)
    assert received == b"" and time.monotonic() - started < 4


def test_a_stalled_body_is_a_408_and_the_connection_closes(server: Server) -> None:
    body = b'{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}'
    for path in ("/get-online-features", "/push"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with _connect(server) as sock:
            sock.sendall(head + body[:10])
            received, after = _closed_within(sock, 5)
        assert received.startswith(b"HTTP/1.1 408"), received
        assert b'"RequestTimeout"' in received and b"body_timeout_sec" in received
        assert 0.8 < after < 3


def test_more_sockets_than_the_cap_do_not_starve_the_server(server: Server) -> None:
    sockets = [_connect(server) for _ in range(60)]
    try:
        time.sleep(0.3)
        refused = 0
        for sock in sockets:  # those over the cap (20) were closed at once
            sock.settimeout(0.05)
            try:
                refused += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                refused += 1
        assert refused >= 40
        time.sleep(1.5)  # the others missed their header deadline
        assert server.http.get("/health").status_code == 200
        for sock in sockets:
            assert _closed_within(sock, 3)[0] == b""
    finally:
        for sock in sockets:
            sock.close()
    health = server.http.get("/health").json()
    assert health["status"] == "ok" and health["registry"]["ok"] is True  # the refresh kept working

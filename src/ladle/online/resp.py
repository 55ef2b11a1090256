"""A minimal asyncio Redis client for the online read path: raw RESP out, hiredis in, pipelined.

The feature server reads Redis on its event loop with this client (:meth:`RedisOnlineStore.read_many_async`):
one connection per event loop, the commands sent during one turn of the loop (concurrent requests) written
as RESP bytes in one ``write``, and their replies parsed by ``hiredis.Reader`` as they arrive, answered in
order to the futures waiting for them. No thread hop, no
connection-pool locking, no per-command callbacks: what redis-py's asyncio client spends around a round trip.

Failures: a refused connection, a reset one or an error while connecting is :class:`RespUnavailable`
at once; every call waiting on a connection that drops fails with it. A caller's deadline (``asyncio.timeout``)
cancels its own wait only; a reply that arrives later is read and dropped, so the replies of the calls after
it stay in step. :meth:`RespClient.abort` drops the connection (the next call connects again).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl as ssl_lib
import threading
from typing import Any, cast

from ladle.drivers.lazy_import import lazy_module

hiredis = lazy_module("hiredis")

__all__ = ["RespClient", "RespError", "RespSyncClient", "RespUnavailable", "encode_command", "encode_per_key"]


class RespUnavailable(ConnectionError):
    """The connection to Redis could not be made, or dropped."""


class RespError(Exception):
    """Redis answered a command with an error reply (``NOSCRIPT ...``, ``WRONGTYPE ...``)."""


def encode_command(*args: str | bytes | int) -> bytes:
    """``args`` as one RESP array of bulk strings.

    >>> encode_command("HGET", "k", 1)
    b'*3\\r\\n$4\\r\\nHGET\\r\\n$1\\r\\nk\\r\\n$1\\r\\n1\\r\\n'
    """
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else (arg.encode() if isinstance(arg, str) else b"%d" % arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def _bulk(arg: str | bytes | int) -> bytes:
    raw = arg if isinstance(arg, bytes) else (arg.encode() if isinstance(arg, str) else b"%d" % arg)
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def encode_per_key(command: str, keys: list[str], tail: tuple[str | bytes | int, ...]) -> bytes:
    """One ``command key *tail`` per key, as pipelined RESP (``tail`` encoded once for all of them).

    >>> encode_per_key("HMGET", ["a", "b"], ("f",)) == encode_command("HMGET", "a", "f") + encode_command("HMGET", "b", "f")
    True
    """
    head = b"*%d\r\n" % (len(tail) + 2) + _bulk(command)
    rest = b"".join([_bulk(arg) for arg in tail])
    if "".join(keys).isascii():  # one str built and encoded once: a key's length in bytes is its length
        around, after = head.decode("latin-1"), rest.decode("latin-1")
        return "".join([f"{around}${len(key)}\r\n{key}\r\n{after}" for key in keys]).encode("latin-1")
    parts = []
    for key in keys:
        raw = key.encode()
        parts.append(b"%s$%d\r\n%s\r\n%s" % (head, len(raw), raw, rest))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    """One connection: writes commands, hands each parsed reply to the oldest waiting future."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.lost: Exception | None = None
        #: commands sent during this turn of the event loop, written together at its end (one syscall)
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:  # a reply nobody asked for: the stream is out of step, drop it
                self._fail(RespUnavailable("Redis sent a reply nobody asked for"))
                return
            future = self.waiting.popleft()
            if future.done():  # its caller gave up (deadline): the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(RespError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RespUnavailable(f"the connection to Redis was lost: {exc or 'closed by the server'}"))

    def _fail(self, error: Exception) -> None:
        self.lost = error
        # the connection's event loop may be closed already (a client used from a new loop drops the old one)
        with contextlib.suppress(RuntimeError):
            while self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_exception(error)
            if self.transport is not None:
                self.transport.close()

    def send(self, payload: bytes, replies: int) -> list[asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(replies)]
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise RespUnavailable(f"the connection to Redis is closed: {self.lost}")
        self.waiting.extend(futures)
        if not self.pending:
            loop.call_soon(self._flush)
        self.pending.append(payload)
        return futures

    def _flush(self) -> None:
        payload = b"".join(self.pending)
        self.pending.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(payload)  # else connection_lost fails the waiting calls


class RespClient:
    """Commands over one connection per event loop (``host``, ``port``, and redis-py's ``password``,
    ``username``, ``db`` and ``ssl`` settings); :meth:`call` sends one command and awaits its reply."""

    def __init__(self, settings: dict[str, Any], connect_timeout: float) -> None:
        self.settings, self.connect_timeout = settings, connect_timeout
        self._conn: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def _connection(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and self._loop is loop and conn.lost is None:
            return conn
        if self._connecting is not None and self._loop is loop:
            return await asyncio.shield(self._connecting)  # one connect for every caller waiting on it
        self.abort()
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            conn = await self._connect(loop)
        except BaseException as exc:
            failure = exc if isinstance(exc, RespUnavailable | RespError) else RespUnavailable(str(exc) or repr(exc))
            self._connecting.set_exception(failure)
            self._connecting.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            self._connecting = None
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise failure from exc
        self._connecting.set_result(conn)
        self._connecting, self._conn = None, conn
        return conn

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        s = self.settings
        context = ssl_lib.create_default_context() if s.get("ssl") else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(_Protocol, s["host"], s["port"], ssl=context)
        except (OSError, TimeoutError) as exc:
            raise RespUnavailable(f"cannot connect: {exc or 'timed out'}") from exc
        setup: list[bytes] = []
        if s.get("password"):
            auth = (s["username"], s["password"]) if s.get("username") else (s["password"],)
            setup.append(encode_command("AUTH", *auth))
        if s.get("db"):
            setup.append(encode_command("SELECT", s["db"]))
        if setup:
            try:
                for future in conn.send(b"".join(setup), len(setup)):
                    await future
            except BaseException:
                conn._fail(RespUnavailable("connection set-up failed"))
                raise
        return conn

    async def call(self, *args: str | bytes | int) -> Any:
        """The reply to one command (:class:`RespError` for an error reply)."""
        conn = await self._connection()
        (future,) = conn.send(encode_command(*args), 1)
        return await future

    async def pipeline(self, payload: bytes, count: int) -> list[Any]:
        """The replies to ``count`` commands sent together as ``payload`` (RESP, e.g. :func:`encode_per_key`);
        :class:`RespError` for the first error reply, once every reply is in."""
        if not count:
            return []
        conn = await self._connection()
        futures = conn.send(payload, count)
        replies = []
        for future in futures:
            try:
                replies.append(await future)
            except RespError as exc:
                replies.append(exc)
        for reply in replies:
            if isinstance(reply, RespError):
                raise reply
        return replies

    def abort(self) -> None:
        """Drop the connection (calls waiting on it fail); the next call connects again."""
        conn, self._conn = self._conn, None
        if conn is not None and conn.lost is None:
            conn._fail(RespUnavailable("the connection was dropped by the client"))


class RespSyncClient:
    """:class:`RespClient` for blocking code: one socket per call at a time, reused from a small pool (so
    threads never share one), every wait bounded by ``timeout`` seconds."""

    def __init__(self, settings: dict[str, Any], connect_timeout: float, timeout: float) -> None:
        self.settings, self.connect_timeout, self.timeout = settings, connect_timeout, timeout
        self._idle: list[tuple[socket.socket, Any]] = []
        self._lock = threading.Lock()

    def call(self, *args: str | bytes | int) -> Any:
        """The reply to one command (:class:`RespError` for an error reply, :class:`RespUnavailable` when
        Redis cannot be reached or does not answer in time)."""
        return self.pipeline(encode_command(*args), 1)[0]

    def pipeline(self, payload: bytes, count: int) -> list[Any]:
        """The replies to ``count`` commands sent together as ``payload`` (RESP, e.g. :func:`encode_per_key`),
        in one write and as few reads as the replies take; :class:`RespError` for the first error reply, once
        every reply is in (the socket stays in step)."""
        if not count:
            return []
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            replies: list[Any] = self._exchange(conn, payload, count)
        except BaseException:
            conn[0].close()
            raise
        with self._lock:
            self._idle.append(conn)
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                raise RespError(str(reply))
        return replies

    def _exchange(self, conn: tuple[socket.socket, Any], payload: bytes, count: int | None = None) -> Any:
        """The reply to ``payload`` (``count=None``), or the list of its ``count`` replies."""
        sock, reader = conn
        replies: list[Any] = []
        want = 1 if count is None else count
        try:
            sock.sendall(payload)
            while len(replies) < want:
                data = sock.recv(262144)
                if not data:
                    raise RespUnavailable("the connection to Redis was closed by the server")
                reader.feed(data)
                replies += iter(reader.gets, False)  # every reply complete so far, without a Python loop
        except OSError as exc:  # refused, reset, timed out
            raise RespUnavailable(f"the connection to Redis failed: {exc or 'timed out'}") from exc
        return replies[0] if count is None else replies

    def _connect(self) -> tuple[socket.socket, Any]:
        s = self.settings
        try:
            sock = socket.create_connection((s["host"], s["port"]), timeout=self.connect_timeout)
        except OSError as exc:
            raise RespUnavailable(f"cannot connect: {exc or 'timed out'}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if s.get("ssl"):
            sock = ssl_lib.create_default_context().wrap_socket(sock, server_hostname=s["host"])
        sock.settimeout(self.timeout)
        conn = (sock, hiredis.Reader())
        try:
            if s.get("password"):
                auth = (s["username"], s["password"]) if s.get("username") else (s["password"],)
                self._checked(conn, encode_command("AUTH", *auth))
            if s.get("db"):
                self._checked(conn, encode_command("SELECT", s["db"]))
        except BaseException:
            sock.close()
            raise
        return conn

    def _checked(self, conn: tuple[socket.socket, Any], payload: bytes) -> None:
        reply = self._exchange(conn, payload)
        if isinstance(reply, hiredis.ReplyError):
            raise RespError(str(reply))

    def close(self) -> None:
        """Close the idle sockets (one in use is closed by its call when it fails, or reused)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for sock, _ in idle:
            sock.close()

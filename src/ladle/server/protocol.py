"""uvicorn's HTTP protocol with the two bounds it lacks: a deadline for a request's headers, and a cap on
open connections.

uvicorn times out idle keep-alive connections, but not a client that connects and sends nothing, nor
one that trickles its headers a byte at a time: each holds a file descriptor for ever, and a few hundred
of them starve the process (the registry refresh could not open its file). Here a connection must
complete each request's headers within ``feature_server.header_timeout_sec`` of its first byte (of
the connection, for the first request), and a connection over ``feature_server.max_connections`` per
worker is closed at once. (The body has its own deadline: :class:`~ladle.server.limits.BodyDeadlineMiddleware`.)
The limits reach every worker process through :data:`ENV_VAR`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ENV_VAR", "GuardedHttpToolsProtocol", "connection_limits"]

ENV_VAR = "LADLE_SERVER_CONNECTION_LIMITS"
log = logging.getLogger("ladle.server")


def connection_limits(header_timeout_sec: float, max_connections: int) -> str:
    """The value of :data:`ENV_VAR` for these limits."""
    return json.dumps({"header_timeout_sec": header_timeout_sec, "max_connections": max_connections})


@cache
def _limits() -> tuple[float, int]:
    data = json.loads(os.environ.get(ENV_VAR) or connection_limits(10.0, 512))
    return float(data["header_timeout_sec"]), int(data["max_connections"])


class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
    """:class:`HttpToolsProtocol` that closes connections whose headers are late, and those over the cap."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        timeout, cap = _limits()
        if len(self.connections) > cap:
            log.warning(
                "closing a connection: %d are open, feature_server.max_connections is %d", len(self.connections), cap
            )
            transport.abort()
            return
        self._arm(timeout)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm(_limits()[0])

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, timeout: float) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        transport: Any = self.transport
        if not transport.is_closing():
            transport.close()

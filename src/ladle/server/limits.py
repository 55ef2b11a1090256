"""Bounds on request bodies: larger ones are refused with 413 before they are read into memory; one that
does not arrive within ``feature_server.body_timeout_sec`` of the headers is a 408 (and the connection
is closed)."""

from __future__ import annotations

import time
from typing import Any

import anyio

from ladle.server.errors import PayloadTooLarge, RequestTimeout, error_body, remember_error

__all__ = ["BodyDeadlineMiddleware", "BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuses bodies over ``limit`` bytes: at once when ``Content-Length`` says so, else while reading."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    await self._refuse(scope, send)
                    return
                await self.app(scope, receive, send)  # the server enforces the declared length
                return
        received = 0

        async def counted() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(self.limit)  # the route's handler answers 413
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: dict[str, Any], send: Any) -> None:
        remember_error(scope, "PayloadTooLarge")
        body = error_body("PayloadTooLarge", str(PayloadTooLarge(self.limit)))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyDeadlineMiddleware:
    """Raises :class:`RequestTimeout` (408) in the app when the body is not in within ``seconds``."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        complete = False

        async def timed() -> dict[str, Any]:
            nonlocal complete
            if complete:  # after the body, receive() waits for a disconnect: no deadline
                message: dict[str, Any] = await receive()
                return message
            try:
                with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(self.seconds) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)

"""``POST /get-online-features`` answered straight from ASGI, without the router.

The hot route of a feature server is small: a ~150-byte body in, a few hundred bytes out. FastAPI's
routing, dependency solving and Request/Response objects cost more per call than the online read of
one entity (measured: ~150 µs of ~700 µs), so this innermost middleware answers that one route itself
with :func:`~ladle.server.routes.online_features` — what the FastAPI route calls too,
which stays registered for the OpenAPI document. Errors go through the same mapping
(:func:`~ladle.server.errors.describe_error`); metrics, API keys and the body limit still apply
(they wrap this middleware).
"""

from __future__ import annotations

import logging
from typing import Any

from ladle.server.errors import describe_error, error_body, remember_error
from ladle.server.routes import online_features
from ladle.server.state import ServerState

__all__ = ["PATH", "OnlineFeaturesFastPath"]

PATH = "/get-online-features"
log = logging.getLogger("ladle.server")
_JSON_HEADER = (b"content-type", b"application/json")


class OnlineFeaturesFastPath:
    """Answers ``POST /get-online-features``; passes every other request on."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status = 200
        try:
            body = await _read_body(receive)
            if body is None:
                return  # the client went away
            content = await online_features(self.state, body)
        except Exception as exc:
            status, kind, message = describe_error(exc)
            remember_error(scope, kind)
            if status == 500:
                log.error("error on POST %s: %s", PATH, exc, exc_info=exc)
            content = error_body(kind, message)
        headers = [_JSON_HEADER, (b"content-length", str(len(content)).encode())]
        if status == 408:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Any) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

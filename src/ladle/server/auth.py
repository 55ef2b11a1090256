"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

Keys come from ``--api-key``, ``LADLE_API_KEY`` (comma-separated for several) and
``feature_server.api_keys`` in feature_store.yaml; any of them is accepted. With no key configured the
server is open. ``GET /health`` never needs a key (load balancers and orchestrators probe it).
Keys are compared with :func:`hmac.compare_digest` against every configured key, so the time taken
does not depend on how much of a guess is right.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from ladle.server.errors import error_body, remember_error

__all__ = ["OPEN_PATHS", "ApiKeyMiddleware", "key_matches", "parse_keys"]

OPEN_PATHS = frozenset({"/health"})


def parse_keys(*sources: str | Iterable[str] | None) -> tuple[str, ...]:
    """Every non-empty key of ``sources`` (a comma-separated string or a list), without duplicates."""
    keys: list[str] = []
    for source in sources:
        if source is None:
            continue
        items = source.split(",") if isinstance(source, str) else source
        keys.extend(k.strip() for k in items if k and k.strip())
    return tuple(dict.fromkeys(keys))


def key_matches(given: bytes, keys: tuple[bytes, ...]) -> bool:
    """Whether ``given`` equals one of ``keys``, in time independent of where a guess differs."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key)
    return found


def _presented(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                return token.strip()
    return None


class ApiKeyMiddleware:
    """Answers 401 to any request (but ``/health``) without a valid key."""

    def __init__(self, app: Any, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in keys)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = _presented(scope["headers"])
        if given is not None and key_matches(given, self.keys):
            await self.app(scope, receive, send)
            return
        remember_error(scope, "Unauthorized")
        why = "no API key was given" if given is None else "the API key is not valid"
        body = error_body(
            "Unauthorized", f"{why}: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="ladle"'),
            ],
        })
        await send({"type": "http.response.body", "body": body})

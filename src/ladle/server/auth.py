"""API-key authentication and scopes: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

Every key has a scope: ``read`` (online reads, ``/metrics``, ``/docs``), ``write`` (also ``/push`` and
``/write-to-online-store``) or ``admin`` (also ``/materialize*``); a call out of the key's scope is a
403 naming the scope it needs. Keys come from ``feature_server.api_keys`` (plain strings are admin keys;
``{key, scope, projects}`` entries are scoped, and only valid for the listed projects), from a key file
(``feature_server.api_keys_file``, ``--api-key-file`` or ``LADLE_API_KEY_FILE``: one ``[scope] key
[project,...]`` a line) and from ``--api-key``/``LADLE_API_KEY`` (admin). With no key the server is open.
``GET /health`` never needs a key (load balancers and orchestrators probe it). Keys are compared with
:func:`hmac.compare_digest` against every configured key, so the time taken does not depend on how much
of a guess is right.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ladle.config import ApiKeyConfig
from ladle.errors import InvalidConfig
from ladle.server.errors import error_body, remember_error

__all__ = [
    "OPEN_PATHS",
    "SCOPES",
    "ApiKey",
    "ApiKeyMiddleware",
    "declare_key_security",
    "key_matches",
    "needed_scope",
    "parse_keys",
    "read_key_file",
    "scoped_keys",
]

OPEN_PATHS = frozenset({"/health"})
#: each scope allows what the ones before it do
SCOPES = ("read", "write", "admin")
_NEEDS = {
    "/push": "write",
    "/write-to-online-store": "write",
    "/materialize": "admin",
    "/materialize-incremental": "admin",
}


@dataclass(frozen=True)
class ApiKey:
    """One accepted key and its scope."""

    key: str
    scope: str = "admin"

    def allows(self, scope: str) -> bool:
        """Whether this key may make a call that needs ``scope``."""
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


def declare_key_security(doc: dict[str, Any]) -> None:
    """Declare in an OpenAPI document that every operation takes a key (bearer token or ``X-API-Key``)."""
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    doc["security"] = [{"bearer": []}, {"apiKey": []}]


def needed_scope(method: str, path: str) -> str:
    """The scope a call needs: writes ``write``, materialization ``admin``, anything else ``read``."""
    return _NEEDS.get(path, "read") if method == "POST" else "read"


def read_key_file(path: Path) -> list[ApiKeyConfig]:
    """The keys of a key file: one ``[scope] key [project,...]`` a line; blank lines and ``#`` comments skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidConfig(str(path), f"the API key file cannot be read: {exc.strerror}") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        scope, rest = (words[0], words[1:]) if words[0] in SCOPES and len(words) > 1 else ("admin", words)
        if len(rest) > 2:
            raise InvalidConfig(
                str(path), f"line {number} has {len(rest) + 1} words; write '[scope] key [project,...]'"
            )
        projects = rest[1].split(",") if len(rest) == 2 else None
        keys.append(ApiKeyConfig(key=rest[0], scope=scope, projects=projects))  # type: ignore[arg-type]
    return keys


def scoped_keys(project: str, *sources: Iterable[str | ApiKeyConfig]) -> tuple[ApiKey, ...]:
    """The keys valid for ``project`` (plain strings are admin keys), without duplicates."""
    keys: dict[str, ApiKey] = {}
    for source in sources:
        for entry in source:
            if isinstance(entry, str):
                entry = ApiKeyConfig(key=entry)
            if entry.projects is None or project in entry.projects:
                keys.setdefault(entry.key, ApiKey(entry.key, entry.scope))
    return tuple(keys.values())


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
    return _matching(given, keys) is not None


def _matching(given: bytes, keys: tuple[bytes, ...]) -> int | None:
    found = None
    for i, key in enumerate(keys):  # every key is compared: the time does not say which matched
        if hmac.compare_digest(given, key):
            found = i
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
    """Answers 401 to any request (but ``/health``) without a valid key, 403 to one out of its key's scope."""

    def __init__(self, app: Any, keys: tuple[ApiKey, ...]) -> None:
        self.app = app
        self.keys = keys
        self._secrets = tuple(k.key.encode() for k in keys)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = _presented(scope["headers"])
        found = None if given is None else _matching(given, self._secrets)
        if found is None:
            why = "no API key was given" if given is None else "the API key is not valid"
            message = f"{why}: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            await _refuse(scope, send, 401, "Unauthorized", message, [(b"www-authenticate", b'Bearer realm="ladle"')])
            return
        key, needs = self.keys[found], needed_scope(scope["method"], scope["path"])
        if not key.allows(needs):
            message = (
                f"this API key has scope '{key.scope}'; {scope['method']} {scope['path'][:100]} needs scope "
                f"'{needs}' (use a key with that scope)"
            )
            await _refuse(scope, send, 403, "Forbidden", message, [])
            return
        await self.app(scope, receive, send)


async def _refuse(
    scope: dict[str, Any], send: Any, status: int, kind: str, message: str, extra: list[tuple[bytes, bytes]]
) -> None:
    remember_error(scope, kind)
    body = error_body(kind, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})

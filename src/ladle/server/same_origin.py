"""Keeping web pages out of a local server: JSON bodies only, known ``Host`` names, same-origin browsers.

A server on a developer's machine with no API key is reachable by any page the developer's browser
opens: a ``text/plain`` form POST needs no CORS preflight, and DNS rebinding turns a foreign name into
``127.0.0.1``. So, before anything else runs:

* ``POST`` bodies must be ``Content-Type: application/json`` (415 otherwise) — a page cannot send that
  cross-site without a preflight, which no CORS policy (the default) allows;
* ``Host`` must be one of ``feature_server.allowed_hosts`` (default: ``localhost``, ``127.0.0.1``,
  ``[::1]`` and the bind host; ``"*"`` allows any) — 400 otherwise, which defeats DNS rebinding;
* an ``Origin`` header (browsers send it) must be the server's own or one of
  ``feature_server.cors_origins`` — 403 otherwise.

``GET``/``HEAD /health`` skip the ``Host`` check: orchestrators probe it by IP address.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ladle.server.errors import bounded, error_body, remember_error

__all__ = ["LOOPBACK_HOSTS", "SameOriginMiddleware", "allowed_host_names"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_WILDCARD_BINDS = {"", "0.0.0.0", "::", "[::]"}
_JSON_TYPES = {b"application/json"}


def allowed_host_names(configured: Iterable[str] | None, bind_host: str | None) -> frozenset[str] | None:
    """The ``Host`` names to accept (lower case, no port), or None for any."""
    if configured is not None:
        names = {h.strip().lower() for h in configured}
        return None if "*" in names else frozenset(names)
    names = set(LOOPBACK_HOSTS)
    if bind_host and bind_host not in _WILDCARD_BINDS:
        names.add(f"[{bind_host}]" if ":" in bind_host and not bind_host.startswith("[") else bind_host.lower())
    return frozenset(names)


def _host_name(host: str) -> str:
    """``host[:port]`` without its port, lower case (``[::1]:80`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class SameOriginMiddleware:
    """Answers 415, 400 or 403 to requests a browser page could have forged (see the module's doc)."""

    def __init__(self, app: Any, hosts: frozenset[str] | None, cors_origins: Iterable[str] = ()) -> None:
        self.app, self.hosts = app, hosts
        self.origins = {o.rstrip("/").lower() for o in cors_origins}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, kind, message = refusal
        remember_error(scope, kind)
        body = error_body(kind, bounded(message))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: dict[str, Any]) -> tuple[int, str, str] | None:
        headers = {name: value for name, value in scope["headers"]}
        host = headers.get(b"host", b"").decode("latin-1")
        probe = scope["path"] == "/health" and scope["method"] in ("GET", "HEAD")
        if self.hosts is not None and not probe and _host_name(host) not in self.hosts:
            return (
                400,
                "InvalidHost",
                (
                    f"Host '{host}' is not one this server answers to (allowed: {', '.join(sorted(self.hosts))}); "
                    "add it to feature_server.allowed_hosts in feature_store.yaml"
                ),
            )
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1").rstrip("/").lower()
            same = text.partition("://")[2] == host.lower()
            if not same and text not in self.origins:
                return (
                    403,
                    "CrossOriginRefused",
                    (
                        f"requests from web pages of origin '{text}' are refused; add it to "
                        "feature_server.cors_origins in feature_store.yaml to allow it"
                    ),
                )
        if scope["method"] == "POST":
            media = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
            if media not in _JSON_TYPES:
                shown = media.decode("latin-1") or "none"
                return (
                    415,
                    "UnsupportedMediaType",
                    (f"the body must be sent as 'Content-Type: application/json' (got {shown})"),
                )
        return None

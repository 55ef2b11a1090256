"""Exceptions → HTTP responses: every error the server returns is ``{"error": {"type", "message"}}``.

Each ladle error class is mapped to a status once (:data:`STATUS_BY_CLASS`), the most specific class of
an exception's MRO winning. A caller's mistake is a 4xx; a store that cannot be reached is 503; a store
that answered with an error is 502; anything else is a bug (500, logged with its traceback).

======================================  ======  =============================================
error                                   status  when
======================================  ======  =============================================
InvalidJSON                             400     the body is not JSON
RequestValidationError                  422     the body does not match the route's schema
InvalidRequest, InvalidDefinition       400     bad refs, missing/unknown entity keys, types
Unauthorized                            401     no valid API key
Forbidden                               403     the key's scope does not allow the call
NotFound, FeatureNotFound               404     unknown view, feature, service, push source
RegistryConflict                        409     the registry changed during a write
RequestTimeout                          408     body not in within ``feature_server.body_timeout_sec``
PayloadTooLarge                         413     body over ``feature_server.max_body_bytes``
TooManyRows                             413     over ``feature_server.max_entities_per_request``
BackendFailure                          502     the store answered with an error
BackendUnavailable, RegistryUnavailable 503     a store or the registry cannot be reached
======================================  ======  =============================================
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ladle.errors import (
    BackendFailure,
    BackendUnavailable,
    Forbidden,
    InvalidDefinition,
    InvalidRequest,
    LadleError,
    NotFound,
    PayloadTooLarge,
    RegistryConflict,
    RegistryUnavailable,
    RequestTimeout,
    TooManyRows,
    Unauthorized,
)

# the server's error classes live in ladle.errors; these names are kept for code that imported them from here
__all__ = [
    "STATUS_BY_CLASS",
    "Forbidden",
    "PayloadTooLarge",
    "RegistryUnavailable",
    "RequestTimeout",
    "TooManyRows",
    "Unauthorized",
    "describe_error",
    "error_body",
    "error_response",
    "install_handlers",
    "remember_error",
]

log = logging.getLogger("ladle.server")


STATUS_BY_CLASS: dict[type[BaseException], int] = {
    InvalidRequest: 400,
    InvalidDefinition: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    RegistryConflict: 409,
    RequestTimeout: 408,
    PayloadTooLarge: 413,
    TooManyRows: 413,
    BackendFailure: 502,
    BackendUnavailable: 503,
    LadleError: 500,
}


def status_of(exc: BaseException) -> int:
    """The HTTP status of ``exc``: the most specific mapped class in its MRO, else 500."""
    for cls in type(exc).__mro__:
        status = STATUS_BY_CLASS.get(cls)
        if status is not None:
            return status
    return 500


def error_body(kind: str, message: str) -> bytes:
    """The JSON error document."""
    return orjson.dumps({"error": {"type": kind, "message": message}})


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON error response."""
    return Response(error_body(kind, message), status_code=status, media_type="application/json", headers=headers)


#: the longest error message sent; a longer one (it quotes the request) is cut in the middle
MAX_MESSAGE_CHARS = 1000


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message``, cut in the middle when longer than ``limit`` (an error never echoes a 10 MB key)."""
    if len(message) <= limit:
        return message
    keep = limit // 2
    return f"{message[:keep]}... ({len(message) - 2 * keep} characters left out) ...{message[-keep:]}"


def describe_error(exc: BaseException) -> tuple[int, str, str]:
    """``(status, type, message)`` of the JSON error answering ``exc`` (the message at most ~1 KB)."""
    status, kind, message = _described(exc)
    return status, kind, bounded(message)


def _described(exc: BaseException) -> tuple[int, str, str]:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            ctx = errors[0].get("ctx") or {}
            return 400, "InvalidJSON", f"the request body is not valid JSON: {ctx.get('error', '')}".strip()
        return 422, "RequestValidationError", _describe(errors)
    if isinstance(exc, HTTPException):
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return exc.status_code, kind, str(exc.detail)
    if isinstance(exc, LadleError):
        return status_of(exc), exc.type_name, str(exc)
    return 500, "InternalError", f"{type(exc).__name__}: {exc} (a bug in ladle: the server log has the traceback)"


def _describe(errors: list[Any]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{loc}: {e['msg']}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def remember_error(scope: MutableMapping[str, Any], kind: str) -> None:
    """Leave the error type where the metrics middleware reads it (errors by route and type)."""
    scope.setdefault("ladle", {})["error_type"] = kind


def _handle(request: Request, exc: Exception) -> Response:
    status, kind, message = describe_error(exc)
    remember_error(request.scope, kind)
    if status == 500 and isinstance(exc, LadleError):
        # (other exceptions are re-raised by Starlette after this response, and uvicorn logs them)
        log.error("error on %s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
        message = bounded(f"no route {request.method} {request.url.path}")
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    if status == 408:
        headers = {"connection": "close"}  # the rest of the body may still come: do not read it as a request
    return error_response(status, kind, message, headers=headers)


def install_handlers(app: Any) -> None:
    """Register the handlers on a Starlette/FastAPI app."""
    for cls in (LadleError, ValidationError, HTTPException, Exception):
        app.add_exception_handler(cls, _handle)

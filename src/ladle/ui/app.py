"""``create_ui_app``: the web UI as an ASGI app — the pages (packaged static files) and the JSON API.

It runs on the feature server's stack and reuses its parts: the background registry refresher (the UI
never waits for the registry), :class:`~ladle.server.state.ServerState` (work off the event loop, the
online breaker), the API-key middleware (every ``/api/`` call needs a key when keys are configured; the
pages themselves hold no data and load without one, then ask for the key), the same-origin checks and the
JSON error bodies. It is read-only: no route writes to a store or the registry.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ladle import __version__
from ladle.config import RepoConfig, load_repo_config
from ladle.errors import LadleError
from ladle.server.auth import ApiKey, ApiKeyMiddleware, declare_key_security
from ladle.server.breaker import CircuitBreaker
from ladle.server.errors import error_response, install_handlers, remember_error
from ladle.server.metrics import ServerMetrics
from ladle.server.refresh import RegistryRefresher
from ladle.server.same_origin import SameOriginMiddleware, allowed_host_names
from ladle.server.settings import ServerSettings
from ladle.server.state import Limits, ServerState
from ladle.store import FeatureStore
from ladle.ui import history
from ladle.ui.api import router
from ladle.ui.catalog import snapshot_of
from ladle.ui.freshness import freshness_rows
from ladle.ui.lineage import graph_of, layout
from ladle.ui.overview import OfflineProbe

_log = logging.getLogger("ladle.ui")

__all__ = ["PAGES", "create_ui_app"]

#: the packaged files served as they are: URL path → (file in ``ladle/ui/static``, media type)
PAGES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
_SECURITY_HEADERS = {
    # the pages load only their own script and style, and no page of another site may frame them
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _static(name: str) -> bytes:
    return resources.files("ladle.ui").joinpath("static", name).read_bytes()


class _PagesOpenKeysForApi:
    """The API-key middleware for everything but the static pages (they hold no data)."""

    def __init__(self, app: Any, keys: tuple[ApiKey, ...]) -> None:
        self.app, self.guarded = app, ApiKeyMiddleware(app, keys)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in PAGES:
            await self.app(scope, receive, send)
        else:
            await self.guarded(scope, receive, send)


def _never_expiring(config: RepoConfig) -> RepoConfig:
    """``config`` whose registry cache never expires: the refresher re-reads it, not the requests."""
    return config.model_copy(update={"registry": config.registry.model_copy(update={"cache_ttl_seconds": 0})})


def _warm(store: FeatureStore, loaded: bool) -> None:
    """Build what the pages need of a registry just read (rows, definitions, lineage layout, freshness, the
    newest versions' diffs) in the refresher's thread, so no request pays for it; a state already seen costs
    nothing."""
    if not loaded:
        return
    try:
        snapshot = snapshot_of(store.registry.state())
        snapshot.state.feature_views()
        graph = graph_of(snapshot)
        snapshot.cached(("layout", ""), lambda: layout(graph))
        freshness_rows(snapshot)
        history.warm(snapshot.state)
    except LadleError as exc:  # a damaged definition: the request that needs it reports it
        _log.warning("could not prepare the registry for the UI: %s", exc)


def _validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]]
    remember_error(request.scope, "RequestValidationError")
    return error_response(422, "RequestValidationError", "; ".join(parts) or str(exc))


def create_ui_app(settings: ServerSettings) -> FastAPI:
    """The UI for the repo of ``settings`` (feature_store.yaml is read now; the registry when it starts)."""
    config = load_repo_config(settings.repo_path, settings.fs_yaml_file)
    resolved = settings.resolve(config)
    store = FeatureStore(config=_never_expiring(config))
    metrics = ServerMetrics()
    refresher = RegistryRefresher(
        store.refresh_registry, lambda: store.registry.version, resolved.registry_ttl_sec, lambda ok: _warm(store, ok)
    )
    section = resolved.section
    state = ServerState(
        store,
        refresher,
        metrics,
        breaker=CircuitBreaker(section.breaker_failures, section.breaker_open_sec),
        limits=Limits(section.max_entities_per_request, section.online_timeout_sec, section.max_future_event_sec),
    )

    offline_probe = OfflineProbe(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(refresher.start)
        try:
            yield
        finally:
            refresher.stop()
            state.probe.close()
            offline_probe.close()
            store.close()

    app = FastAPI(
        title="ladle UI",
        version=__version__,
        description='The read-only API of `ladle ui`. Errors are `{"error": {"type", "message"}}`.',
        lifespan=lifespan,
        docs_url=None,  # Swagger UI's page loads its assets from a CDN: the UI fetches nothing from the network
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ladle = state
    app.state.offline_probe = offline_probe
    app.include_router(router)
    _add_pages(app)
    install_handlers(app)
    app.add_exception_handler(RequestValidationError, _validation_error)
    _use_openapi(app, bool(resolved.api_keys))
    if resolved.api_keys:
        app.add_middleware(_PagesOpenKeysForApi, keys=resolved.api_keys)
    hosts = allowed_host_names(section.allowed_hosts, settings.bind_host)
    app.add_middleware(SameOriginMiddleware, hosts=hosts, cors_origins=section.cors_origins)
    return app


def _page(content: bytes, media: str) -> Any:
    async def page() -> Response:
        return Response(content, media_type=media, headers=_SECURITY_HEADERS)

    return page


def _add_pages(app: FastAPI) -> None:
    for path, (name, media) in PAGES.items():
        app.add_api_route(path, _page(_static(name), media), methods=["GET"], include_in_schema=False)


def _use_openapi(app: FastAPI, keys: bool) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            if keys:
                declare_key_security(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

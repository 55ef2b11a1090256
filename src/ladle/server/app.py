"""``create_app``: the feature server as an ASGI app, wired from a repo and :class:`ServerSettings`.

One app (one uvicorn worker) holds one :class:`~ladle.store.FeatureStore`, hence one connection pool per
store. Its registry never expires on its own: a background thread re-reads it (:mod:`.refresh`), so a
request never waits for the registry. Middleware, outermost first: metrics, CORS (when origins are
configured), same-origin checks (:mod:`.same_origin`), API key, body limit, the fast path of
``POST /get-online-features`` (:mod:`.fast_path`).

>>> # uvicorn "ladle.server.app:app_from_env" --factory     (what `ladle serve` runs)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from ladle import __version__
from ladle.config import RepoConfig, load_repo_config
from ladle.errors import LadleError
from ladle.server.auth import ApiKeyMiddleware, declare_key_security
from ladle.server.breaker import CircuitBreaker
from ladle.server.errors import install_handlers
from ladle.server.fast_path import OnlineFeaturesFastPath
from ladle.server.limits import BodyDeadlineMiddleware, BodyLimitMiddleware
from ladle.server.metrics import MetricsMiddleware, ServerMetrics
from ladle.server.refresh import RegistryRefresher
from ladle.server.routes import router
from ladle.server.same_origin import SameOriginMiddleware, allowed_host_names
from ladle.server.schemas import component_schemas
from ladle.server.settings import ResolvedSettings, ServerSettings
from ladle.server.state import Limits, ServerState
from ladle.store import FeatureStore

__all__ = ["app_from_env", "create_app"]

_DESCRIPTION = (
    "Feast-compatible feature server of ladle: online features, push, writes and materialization over "
    'HTTP. Errors are `{"error": {"type", "message"}}`.'
)


# FastAPI's own OpenTelemetry hooks cost ~15 µs a request even when nothing listens; /metrics is ours.
_NO_OTEL: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def _registry_from_memory(config: RepoConfig) -> RepoConfig:
    """``config`` whose registry cache never expires: the refresher re-reads it instead of requests."""
    registry = config.registry.model_copy(update={"cache_ttl_seconds": 0})
    return config.model_copy(update={"registry": registry})


_log = logging.getLogger("ladle.server")


def _finish_pending_apply(store: FeatureStore) -> None:
    """Online work an interrupted apply left pending, done before serving; a failure (the online store is
    down, no registry yet) is logged, and the next write or apply finishes it."""
    try:
        if store.finish_pending_apply():
            _log.info("finished the online-store work an interrupted apply left pending")
    except LadleError as exc:
        _log.warning("could not finish the online-store work an interrupted apply left pending: %s", exc)


def create_app(settings: ServerSettings) -> FastAPI:
    """The feature server for the repo of ``settings`` (feature_store.yaml is read now)."""
    config = load_repo_config(settings.repo_path, settings.fs_yaml_file)
    resolved = settings.resolve(config)
    store = FeatureStore(config=_registry_from_memory(config))
    metrics = ServerMetrics()
    refresher = RegistryRefresher(
        store.refresh_registry, lambda: store.registry.version, resolved.registry_ttl_sec, metrics.refreshed
    )

    section = resolved.section
    state = ServerState(
        store,
        refresher,
        metrics,
        breaker=CircuitBreaker(section.breaker_failures, section.breaker_open_sec),
        limits=Limits(section.max_entities_per_request, section.online_timeout_sec, section.max_future_event_sec),
    )

    stream = _stream(settings, config, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(refresher.start)
        await run_in_threadpool(_finish_pending_apply, store)
        if stream is not None:
            await run_in_threadpool(stream.start)
        try:
            yield
        finally:
            if stream is not None:
                await run_in_threadpool(stream.stop)
            refresher.stop()
            state.probe.close()
            store.close()

    app = FastAPI(
        title="ladle feature server",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        **_NO_OTEL,
    )
    app.state.ladle = state
    app.include_router(router)
    install_handlers(app)
    _use_openapi(app, resolved)
    _add_middleware(app, state, settings, resolved)
    return app


def _add_middleware(app: FastAPI, state: ServerState, settings: ServerSettings, resolved: ResolvedSettings) -> None:
    """The middleware stack; each ``add_middleware`` wraps the previous ones, so metrics end up outermost."""
    section = resolved.section
    routes = {getattr(r, "path", "") for r in router.routes} | {"/docs", "/openapi.json"}
    app.add_middleware(OnlineFeaturesFastPath, state=state)
    app.add_middleware(BodyLimitMiddleware, limit=resolved.max_body_bytes)
    app.add_middleware(BodyDeadlineMiddleware, seconds=section.body_timeout_sec)
    if resolved.api_keys:
        app.add_middleware(ApiKeyMiddleware, keys=resolved.api_keys)
    hosts = allowed_host_names(section.allowed_hosts, settings.bind_host)
    app.add_middleware(SameOriginMiddleware, hosts=hosts, cors_origins=section.cors_origins)
    if section.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=section.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization", "x-api-key"],
        )
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=routes)


def _stream(settings: ServerSettings, config: RepoConfig, metrics: ServerMetrics) -> Any:
    """The stream workers of ``ladle serve --stream`` (:mod:`.streaming`), or ``None``."""
    if not settings.stream:
        return None
    from ladle.server.streaming import ServerStream

    return ServerStream(config, metrics)


def _use_openapi(app: FastAPI, resolved: ResolvedSettings) -> None:
    """The generated document plus the request-body schemas (and the API-key schemes when keys are set)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(component_schemas())
            if resolved.api_keys:
                declare_key_security(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """The app for the settings ``ladle serve`` left in ``LADLE_SERVER_SETTINGS`` (uvicorn's factory)."""
    return create_app(ServerSettings.from_env())

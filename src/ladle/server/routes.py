"""The feature server's routes (Feast's paths and JSON). Each parses its body, calls one
:class:`~ladle.store.FeatureStore` method and encodes the result; errors are mapped in
:mod:`ladle.server.errors`.

Online reads run on the event loop while the store answers quickly, in the thread pool for a while after
it did not (:meth:`ServerState.online_features`). Writes, materialization and the health probe always
run in the thread pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ladle.errors import BackendUnavailable, InvalidRequest
from ladle.materialize import MaterializeResult
from ladle.server.errors import RegistryUnavailable
from ladle.server.health import health_report
from ladle.server.metrics import ServerMetrics
from ladle.server.online_json import encode_json, encode_online_response
from ladle.server.refresh import RegistryRefresher
from ladle.server.schemas import (
    ErrorBody,
    GetOnlineFeaturesRequest,
    MaterializeIncrementalRequest,
    MaterializeRequest,
    MaterializeResponse,
    OnlineFeaturesResponse,
    PushRequest,
    WriteResponse,
    WriteToOnlineStoreRequest,
    error_responses,
    request_body,
)
from ladle.store import FeatureStore

__all__ = ["POOLED_FOR_S", "SLOW_READ_S", "ServerState", "read_online_features", "router"]

router = APIRouter()
#: an online read slower than this moves the next reads to the thread pool
SLOW_READ_S = 0.1
#: for this long
POOLED_FOR_S = 10.0
_Body = TypeVar("_Body", bound=BaseModel)
_JSON = "application/json"


@dataclass
class ServerState:
    """What the routes share: the store, the registry refresher and the metrics (one per worker)."""

    store: FeatureStore
    refresher: RegistryRefresher
    metrics: ServerMetrics
    #: until when online reads go to the thread pool (see :meth:`online_features`)
    pooled_until: float = 0.0

    async def online_features(self, body: bytes) -> bytes:
        """:func:`read_online_features`, on the event loop — or in the thread pool while the store is in trouble.

        A read from SQLite or a nearby Redis takes well under a millisecond: less than a hop to a thread
        costs (measured on Redis: ~40% more requests/s and half the p99 on the loop). But a read that
        fails as unreachable, or takes longer than :data:`SLOW_READ_S`, would stall every request of the
        worker if the next ones ran on the loop too: for :data:`POOLED_FOR_S` after one, reads run in
        the thread pool, where a slow or dead backend only holds a thread.
        """
        started = time.monotonic()
        if started < self.pooled_until:
            return await run_in_threadpool(self._timed_read, body)
        return self._timed_read(body)

    def _timed_read(self, body: bytes) -> bytes:
        started = time.monotonic()
        try:
            return read_online_features(self, body)
        except BackendUnavailable:
            self.pooled_until = time.monotonic() + POOLED_FOR_S
            raise
        finally:
            if time.monotonic() - started > SLOW_READ_S:
                self.pooled_until = time.monotonic() + POOLED_FOR_S

    def ready_store(self) -> FeatureStore:
        """The store, once a registry is loaded (503 before)."""
        if not self.refresher.loaded:
            raise RegistryUnavailable(
                "registry", f"no registry loaded yet: {self.refresher.status()['error']}",
                "the server keeps retrying; check the registry path and its store",
            )
        return self.store


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ladle
    return state


async def _parse(request: Request, model: type[_Body]) -> _Body:
    return model.model_validate_json(await request.body())


def _json(document: Any) -> Response:
    return Response(encode_json(document), media_type=_JSON)


def read_online_features(state: ServerState, body: bytes) -> bytes:
    """The whole of ``POST /get-online-features`` but the HTTP: JSON body in, JSON body out.

    Shared by the route below and :class:`~ladle.server.fast_path.OnlineFeaturesFastPath`.
    """
    request = GetOnlineFeaturesRequest.model_validate_json(body)
    store = state.ready_store()
    features: Any = request.features
    if features is None:
        features = store.get_feature_service(str(request.feature_service))
    response = store.get_online_features(
        features, request.entities, full_feature_names=request.full_feature_names,
        request_context=request.request_context,
    )
    return encode_online_response(response)


_WRITE_ERRORS = error_responses(400, 401, 404, 413, 422, 502, 503)


@router.post(
    "/get-online-features",
    openapi_extra=request_body(GetOnlineFeaturesRequest),
    responses={200: {"model": OnlineFeaturesResponse, "description": "values, statuses, timestamps"},
               **_WRITE_ERRORS},
    summary="Read the latest feature values of entities",
)
async def get_online_features(request: Request) -> Response:
    """Feature values (by references or a feature service) for a batch of entity rows."""
    return Response(await _state(request).online_features(await request.body()), media_type=_JSON)


@router.post(
    "/push",
    openapi_extra=request_body(PushRequest),
    responses={200: {"model": WriteResponse, "description": "rows pushed"}, **_WRITE_ERRORS},
    summary="Push rows to the views of a push source",
)
async def push(request: Request) -> Response:
    """Rows for every feature view fed by a push source (online, offline or both)."""
    body = await _parse(request, PushRequest)
    store = _state(request).ready_store()
    await run_in_threadpool(store.push, body.push_source_name, body.df, to=body.to)
    return _json({"status": "ok", "rows": _rows(body.df)})


@router.post(
    "/write-to-online-store",
    openapi_extra=request_body(WriteToOnlineStoreRequest),
    responses={200: {"model": WriteResponse, "description": "rows written"}, **_WRITE_ERRORS},
    summary="Write rows to one feature view's online table",
)
async def write_to_online_store(request: Request) -> Response:
    """Rows (join keys, timestamp, features) written newer-wins to one view's online table."""
    body = await _parse(request, WriteToOnlineStoreRequest)
    store = _state(request).ready_store()
    rows = await run_in_threadpool(store.write_to_online_store, body.feature_view_name, body.df)
    return _json({"status": "ok", "rows": rows})


@router.post(
    "/materialize",
    openapi_extra=request_body(MaterializeRequest),
    responses={200: {"model": MaterializeResponse, "description": "what was materialized"},
               **error_responses(400, 401, 404, 409, 413, 422, 502, 503)},
    summary="Materialize an interval into the online store",
)
async def materialize(request: Request) -> Response:
    """Load the latest values with ``start_ts <= ts <= end_ts`` into the online store."""
    body = await _parse(request, MaterializeRequest)
    if body.disable_event_timestamp:
        raise InvalidRequest("disable_event_timestamp is not supported by ladle; leave it false")
    store = _state(request).ready_store()
    results = await run_in_threadpool(store.materialize, body.start_ts, body.end_ts, body.feature_views)
    return _json(_materialized(results))


@router.post(
    "/materialize-incremental",
    openapi_extra=request_body(MaterializeIncrementalRequest),
    responses={200: {"model": MaterializeResponse, "description": "what was materialized"},
               **error_responses(400, 401, 404, 409, 413, 422, 502, 503)},
    summary="Materialize what is new since each view's last run",
)
async def materialize_incremental(request: Request) -> Response:
    """Load what is new since each view's last materialization, up to ``end_ts``."""
    body = await _parse(request, MaterializeIncrementalRequest)
    store = _state(request).ready_store()
    results = await run_in_threadpool(store.materialize_incremental, body.end_ts, body.feature_views)
    return _json(_materialized(results))


@router.get(
    "/health",
    responses={200: {"description": "ready", "content": {_JSON: {"schema": {"type": "object"}}}},
               503: {"description": "not ready", "content": {_JSON: {"schema": {"type": "object"}}}}},
    summary="Readiness: registry loaded, online store reachable",
    openapi_extra={"security": []},
)
def health(request: Request) -> Response:
    """``status`` (ok, degraded, unavailable), the registry's state and an online-store probe."""
    state = _state(request)
    status, report = health_report(state.store, state.refresher)
    return Response(encode_json(report), status_code=status, media_type=_JSON)


# load balancers probe with HEAD too (uvicorn sends the headers only); one operation in the document
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)


@router.get(
    "/metrics",
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
               401: {"model": ErrorBody, "description": "missing or invalid API key"}},
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    """Request counts, latency histograms and errors by route; registry refreshes."""
    content, content_type = _state(request).metrics.exposition(request.headers.get("accept"))
    return Response(content, media_type=content_type)


def _rows(df: dict[str, list[Any]]) -> int:
    return len(next(iter(df.values()), []))


def _materialized(results: list[MaterializeResult]) -> dict[str, Any]:
    return {
        "status": "ok",
        "feature_views": [
            {"feature_view": r.view, "start_ts": r.start.isoformat(), "end_ts": r.end.isoformat(), "rows": r.rows}
            for r in results
        ],
    }

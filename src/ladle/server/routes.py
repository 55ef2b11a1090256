"""The feature server's routes (Feast's paths and JSON). Each parses its body, calls one
:class:`~ladle.store.FeatureStore` method and encodes the result; errors are mapped in
:mod:`ladle.server.errors`. All of it but reading the body runs in worker threads
(:mod:`ladle.server.state`); online-store calls pass the circuit breaker.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ladle.errors import InvalidRequest
from ladle.ingest.materialize import MaterializeResult
from ladle.ingest.push import PushMode
from ladle.server.event_times import refuse_future_rows, timestamp_columns
from ladle.server.health import health_report
from ladle.server.online_json import encode_json, encode_online_response
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
from ladle.server.state import ServerState
from ladle.store import FeatureStore

__all__ = ["ServerState", "read_online_features", "router"]

router = APIRouter()
_JSON = "application/json"


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ladle
    return state


def _json(document: Any) -> Response:
    return Response(encode_json(document), media_type=_JSON)


#: bodies up to this size are answered on the event loop when the online store reads there (Redis)
ON_LOOP_BODY_BYTES = 2048


def _online_request(state: ServerState, body: bytes) -> tuple[FeatureStore, Any, GetOnlineFeaturesRequest]:
    """The parsed body, its row count checked; the store and the features (references or a service)."""
    request = GetOnlineFeaturesRequest.model_validate_json(body)
    state.limits.check_rows("entity rows", max((len(v) for v in request.entities.values()), default=0))
    store = state.ready_store()
    features: Any = request.features
    if features is None:
        features = store.get_feature_service(str(request.feature_service))
    return store, features, request


def read_online_features(state: ServerState, body: bytes) -> bytes:
    """The whole of ``POST /get-online-features`` but the HTTP: JSON body in, JSON body out (in a thread).

    Shared by the route below and :class:`~ladle.server.fast_path.OnlineFeaturesFastPath`.
    """
    store, features, request = _online_request(state, body)
    response = store.get_online_features(
        features,
        request.entities,
        full_feature_names=request.full_feature_names,
        request_context=request.request_context,
    )
    return encode_online_response(response)


async def read_online_features_on_loop(state: ServerState, body: bytes) -> bytes:
    """:func:`read_online_features` on the event loop, the online store's round trip awaited
    (:meth:`FeatureStore.get_online_features_async`: a batch over its small-batch bound goes to a thread)."""
    store, features, request = _online_request(state, body)
    response = await store.get_online_features_async(
        features,
        request.entities,
        full_feature_names=request.full_feature_names,
        request_context=request.request_context,
    )
    return encode_online_response(response)


async def online_features(state: ServerState, body: bytes) -> bytes:
    """:func:`read_online_features` behind the breaker, within ``online_timeout_sec``: on the event loop for
    a small body when the online store reads there (no thread hop: Redis), else in a worker thread."""
    timeout = state.limits.online_timeout_sec
    if len(body) <= ON_LOOP_BODY_BYTES and state.reads_on_loop:
        return await state.online_on_loop(read_online_features_on_loop, state, body, timeout=timeout)
    return await state.online(read_online_features, state, body, timeout=timeout)


def _parsed_rows(state: ServerState, body: bytes, model: type[PushRequest | WriteToOnlineStoreRequest]) -> Any:
    """The parsed body, its rows checked: not too many, none far in the future."""
    parsed = model.model_validate_json(body)
    state.limits.check_rows("rows", _rows(parsed.df))
    store = state.ready_store()
    if isinstance(parsed, PushRequest):
        views = [v for v in store.registry.list_feature_views() if v.source.name == parsed.push_source_name]
    else:
        views = [store.get_feature_view(parsed.feature_view_name)]
    refuse_future_rows(parsed.df, timestamp_columns(views), state.limits.max_future_event_sec)
    return parsed


_WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 422, 502, 503)


@router.post(
    "/get-online-features",
    openapi_extra=request_body(GetOnlineFeaturesRequest),
    responses={200: {"model": OnlineFeaturesResponse, "description": "values, statuses, timestamps"}, **_WRITE_ERRORS},
    summary="Read the latest feature values of entities",
)
async def get_online_features(request: Request) -> Response:
    """Feature values (by references or a feature service) for a batch of entity rows."""
    return Response(await online_features(_state(request), await request.body()), media_type=_JSON)


@router.post(
    "/push",
    openapi_extra=request_body(PushRequest),
    responses={200: {"model": WriteResponse, "description": "rows pushed"}, **_WRITE_ERRORS},
    summary="Push rows to the views of a push source",
)
async def push(request: Request) -> Response:
    """Rows for every feature view fed by a push source (online, offline or both)."""
    state = _state(request)
    body = await state.off_loop(_parsed_rows, state, await request.body(), PushRequest)
    store = state.ready_store()
    push = state.off_loop if PushMode.parse(body.to) is PushMode.OFFLINE else state.online
    await push(lambda: store.push(body.push_source_name, body.df, to=body.to))
    return _json({"status": "ok", "rows": _rows(body.df)})


@router.post(
    "/write-to-online-store",
    openapi_extra=request_body(WriteToOnlineStoreRequest),
    responses={200: {"model": WriteResponse, "description": "rows written"}, **_WRITE_ERRORS},
    summary="Write rows to one feature view's online table",
)
async def write_to_online_store(request: Request) -> Response:
    """Rows (join keys, timestamp, features) written newer-wins to one view's online table."""
    state = _state(request)
    body = await state.off_loop(_parsed_rows, state, await request.body(), WriteToOnlineStoreRequest)
    store = state.ready_store()
    rows = await state.online(store.write_to_online_store, body.feature_view_name, body.df)
    return _json({"status": "ok", "rows": rows})


@router.post(
    "/materialize",
    openapi_extra=request_body(MaterializeRequest),
    responses={
        200: {"model": MaterializeResponse, "description": "what was materialized"},
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
    summary="Materialize an interval into the online store",
)
async def materialize(request: Request) -> Response:
    """Load the latest values with ``start_ts <= ts <= end_ts`` into the online store."""
    state = _state(request)
    body = await state.off_loop(MaterializeRequest.model_validate_json, await request.body())
    if body.disable_event_timestamp:
        raise InvalidRequest("disable_event_timestamp is not supported by ladle; leave it false")
    store = state.ready_store()
    results = await state.online(store.materialize, body.start_ts, body.end_ts, body.feature_views)
    return _json(_materialized(results))


@router.post(
    "/materialize-incremental",
    openapi_extra=request_body(MaterializeIncrementalRequest),
    responses={
        200: {"model": MaterializeResponse, "description": "what was materialized"},
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
    summary="Materialize what is new since each view's last run",
)
async def materialize_incremental(request: Request) -> Response:
    """Load what is new since each view's last materialization, up to ``end_ts``."""
    state = _state(request)
    body = await state.off_loop(MaterializeIncrementalRequest.model_validate_json, await request.body())
    store = state.ready_store()
    results = await state.online(store.materialize_incremental, body.end_ts, body.feature_views)
    return _json(_materialized(results))


@router.get(
    "/health",
    responses={
        200: {"description": "ready", "content": {_JSON: {"schema": {"type": "object"}}}},
        503: {"description": "not ready", "content": {_JSON: {"schema": {"type": "object"}}}},
    },
    summary="Readiness: registry loaded, online store reachable",
    openapi_extra={"security": []},
)
async def health(request: Request) -> Response:
    """``status`` (ok, degraded, unavailable), the registry's state and an online-store probe (bounded)."""
    state = _state(request)
    status, report = await health_report(state)
    return Response(encode_json(report), status_code=status, media_type=_JSON)


# load balancers probe with HEAD too (uvicorn sends the headers only); one operation in the document
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)


@router.get(
    "/metrics",
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "missing or invalid API key"},
    },
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

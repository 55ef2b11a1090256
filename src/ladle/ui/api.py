"""The UI's JSON API under ``/api/`` (read-only): what the pages show, documented in the OpenAPI schema.

Every route answers from the registry snapshot in memory (:mod:`.catalog`) or makes one read of the
stores; work runs off the event loop (:class:`~ladle.server.state.ServerState`), online reads behind the
feature server's breaker and deadline. Errors are the feature server's ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ladle.definitions.contract import schema_hash
from ladle.definitions.kinds import KIND_SINGULAR
from ladle.errors import InvalidRequest
from ladle.server.online_json import encode_json
from ladle.server.routes import read_online_features
from ladle.server.schemas import error_responses
from ladle.server.state import ServerState
from ladle.ui import datasets, freshness, history, snippets
from ladle.ui.catalog import MAX_PAGE, MAX_PER_PAGE, Snapshot, kind_of_slug, snapshot_of
from ladle.ui.lineage import graph_of, layout
from ladle.ui.overview import overview
from ladle.ui.values import MAX_SAMPLE_ROWS, offline_sample, training_preview

__all__ = ["LookupRequest", "PreviewRequest", "router"]

router = APIRouter(prefix="/api")
_JSON = "application/json"
_READ_ERRORS = error_responses(400, 401, 404, 422, 503)
_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"description": "a JSON document", "content": {_JSON: {"schema": {"type": "object"}}}}
}


class LookupRequest(BaseModel):
    """An online lookup: feature references or a feature service, and entity keys (column → values)."""

    features: list[str] | None = None
    feature_service: str | None = None
    entities: dict[str, list[Any]] = Field(default_factory=dict)
    full_feature_names: bool = False


class PreviewRequest(BaseModel):
    """A training-set preview: entity rows (keys, ``event_timestamp``, request data), or none for recent rows."""

    entity_rows: list[dict[str, Any]] | None = None
    rows: int = 5
    full_feature_names: bool = False


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": model.model_json_schema()}}}}


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.ladle
    return state


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(document: Any) -> Response:
    return Response(encode_json(document), media_type=_JSON)


def _snapshot(state: ServerState) -> Snapshot:
    return snapshot_of(state.ready_store().registry.state())


@router.get("/overview", responses={**_OBJECT, **_READ_ERRORS}, summary="Project, registry, counts, stores, health")
async def get_overview(request: Request) -> Response:
    """The project, registry version and last apply, counts per kind, the stores in use and their health."""
    state = _state(request)
    document = await overview(state, request.app.state.offline_probe, _snapshot(state))
    return _json({**document, "snippets": snippets.for_overview(_base(request))})


@router.get("/lineage", responses={**_OBJECT, **_READ_ERRORS}, summary="The lineage graph, laid out")
async def get_lineage(
    request: Request,
    node: str = Query("", description="kind/name: only this object's lineage (an entity: its views'); default all"),
) -> Response:
    """Nodes (with x, y) and edges: sources → feature views → on-demand views → feature services."""
    state = _state(request)

    def part(snap: Snapshot) -> dict[str, Any]:
        graph = graph_of(snap)
        if node.startswith("entity/"):  # an entity's lineage: that of its feature views
            name = node.partition("/")[2]
            snap.stored("entities", name)
            views = [f"feature_view/{r['name']}" for r in snap.rows["feature_views"] if name in r["entities"]]
            graph = graph.neighbourhood(views, snap.state.project)
        elif node:
            graph = graph.neighbourhood([node], snap.state.project)
        return layout(graph)

    def work() -> dict[str, Any]:
        snap = _snapshot(state)
        laid: dict[str, Any] = snap.cached(("layout", node), lambda: part(snap))  # kept per node (a node's is small)
        return {**laid, "snippets": snippets.for_lineage(_base(request), node)}

    return _json(await state.off_loop(work))


@router.get("/freshness", responses={**_OBJECT, **_READ_ERRORS}, summary="Freshness of every feature view")
async def get_freshness(
    request: Request,
    stale: bool = Query(False, description="only stale views"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> Response:
    """Per view (from the registry): materialized intervals, where the last run ended, lag, stale or not."""
    state = _state(request)

    def work() -> dict[str, Any]:
        rows = freshness.freshness_rows(_snapshot(state), state.store.config.online_store is not None)
        if stale:
            rows = [r for r in rows if r["stale"]]
        start = (page - 1) * per_page
        return {
            "items": rows[start : start + per_page],
            "total": len(rows),
            "stale": sum(r["stale"] for r in rows),
            "page": page,
            "per_page": per_page,
            "snippets": snippets.for_freshness(_base(request)),
        }

    return _json(await state.off_loop(work))


@router.get("/history", responses={**_OBJECT, **_READ_ERRORS}, summary="Registry versions")
async def get_history(request: Request) -> Response:
    """The registry's retained versions, newest first: time, user, host, summary, change counts and how many
    feature-view contracts each changed (``ladle registry history``)."""
    state = _state(request)
    document = await state.off_loop(lambda: history.versions(_snapshot(state)))
    return _json({**document, "snippets": snippets.for_history(_base(request))})


@router.get("/history/compare", responses={**_OBJECT, **_READ_ERRORS}, summary="Compare two registry versions")
async def get_compare(
    request: Request,
    a: int = Query(..., ge=0, le=MAX_PAGE, description="the older version (0: the empty registry)"),
    b: int = Query(..., ge=0, le=MAX_PAGE, description="the newer version"),
) -> Response:
    """What changed from version ``a`` to ``b`` (``ladle registry diff A B``): each object added, changed
    (every field with its old and new value; feature views marked contract or cosmetic) or removed."""
    state = _state(request)
    document = await state.off_loop(lambda: history.compare(_snapshot(state), a, b))
    return _json({**document, "snippets": snippets.for_compare(_base(request), a, b)})


@router.get("/history/{version}", responses={**_OBJECT, **_READ_ERRORS}, summary="One registry version")
async def get_version(request: Request, version: int) -> Response:
    """One version: who made it and when, and its changes against the version before, with old and new values."""
    state = _state(request)
    document = await state.off_loop(lambda: history.version_detail(_snapshot(state), version))
    return _json({**document, "snippets": snippets.for_version(_base(request), version)})


@router.get("/saved-datasets", responses={**_OBJECT, **_READ_ERRORS}, summary="Saved datasets")
async def get_saved_datasets(
    request: Request,
    q: str = Query("", description="text in the name, feature service or view names"),
    tag: str = Query("", description="key or key:value"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> Response:
    """One page of the registered saved datasets (``ladle saved-datasets list``), filtered by text and tag."""
    state = _state(request)
    document = await state.off_loop(lambda: datasets.dataset_page(_snapshot(state), q, tag, page, per_page))
    return _json({**document, "snippets": snippets.for_saved_datasets(_base(request))})


@router.get("/saved-datasets/{name}", responses={**_OBJECT, **_READ_ERRORS}, summary="One saved dataset")
async def get_saved_dataset(request: Request, name: str) -> Response:
    """A saved dataset's features, storage and reproducibility metadata, and what changed since it was saved."""
    state = _state(request)
    document = await state.off_loop(lambda: datasets.dataset_detail(_snapshot(state), name))
    return _json({**document, "snippets": snippets.for_saved_dataset(_base(request), name)})


@router.get(
    "/saved-datasets/{name}/sample",
    responses={**_OBJECT, **error_responses(400, 401, 404, 422, 502, 503)},
    summary="The first rows of a saved dataset",
)
async def get_saved_dataset_sample(
    request: Request, name: str, limit: int = Query(20, ge=1, le=datasets.MAX_DATASET_SAMPLE)
) -> Response:
    """The first ``limit`` stored rows of a saved dataset."""
    state = _state(request)
    return _json(
        await state.off_loop(lambda: datasets.dataset_sample(state.ready_store(), _snapshot(state), name, limit))
    )


@router.get(
    "/feature-views/{name}/versions",
    responses={**_OBJECT, **error_responses(400, 401, 404, 502, 503)},
    summary="A feature view's published versions",
)
async def get_published_versions(request: Request, name: str) -> Response:
    """The view's published feature-set versions (``ladle versions VIEW``) and the one ``latest`` points at."""
    state = _state(request)
    document = await state.off_loop(lambda: datasets.published_versions(state.ready_store(), _snapshot(state), name))
    return _json({**document, "snippets": snippets.for_published_versions(_base(request), name)})


@router.post(
    "/online",
    openapi_extra=_body(LookupRequest),
    responses={**_OBJECT, **error_responses(400, 401, 404, 413, 415, 422, 502, 503)},
    summary="Online lookup",
)
async def post_online(request: Request) -> Response:
    """Every requested feature of the given entity keys with its status and event time (the feature server's
    answer), and the equivalent calls."""
    state = _state(request)
    raw = await request.body()
    lookup = LookupRequest.model_validate_json(raw)
    if not lookup.features and not lookup.feature_service:
        raise InvalidRequest("give 'features' (['view:feature', ...]) or 'feature_service' (a name)")
    answer = await state.online(read_online_features, state, raw, timeout=state.limits.online_timeout_sec)
    calls = snippets.for_lookup(lookup.features, lookup.feature_service, lookup.entities)
    return _json({"result": orjson.loads(answer), "snippets": calls})


@router.post(
    "/feature-services/{name}/preview",
    openapi_extra=_body(PreviewRequest),
    responses={**_OBJECT, **error_responses(400, 401, 404, 415, 422, 502, 503)},
    summary="Training-set preview of a feature service",
)
async def post_preview(request: Request, name: str) -> Response:
    """The service's point-in-time training set for a few entity rows (default: recent keys of its first view
    at their newest event times, request data 0)."""
    state = _state(request)
    body = PreviewRequest.model_validate_json(await request.body() or b"{}")

    def work() -> dict[str, Any]:
        store = state.ready_store()
        service = store.get_feature_service(name)
        result = training_preview(store, service, body.entity_rows, body.rows, body.full_feature_names)
        return {**result, "snippets": snippets.for_preview(_base(request), name, result["entity_rows"])}

    return _json(await state.off_loop(work))


@router.get(
    "/feature-views/{name}/freshness",
    responses={**_OBJECT, **error_responses(400, 401, 404, 502, 503)},
    summary="One view's freshness, probing the stores",
)
async def get_view_freshness(request: Request, name: str) -> Response:
    """The registry's record plus the newest event time in the offline source and in the online store."""
    state = _state(request)

    def work() -> dict[str, Any]:
        snap = _snapshot(state)
        view = state.ready_store().get_feature_view(name)
        return freshness.probe(state.ready_store(), snap, view)

    return _json(await state.off_loop(work))


@router.get(
    "/feature-views/{name}/sample",
    responses={**_OBJECT, **error_responses(400, 401, 404, 422, 502, 503)},
    summary="A sample of a view's offline rows",
)
async def get_sample(request: Request, name: str, limit: int = Query(20, ge=1, le=MAX_SAMPLE_ROWS)) -> Response:
    """The newest row of each entity key in the view's source (a windowed view: its newest events), newest first."""
    state = _state(request)

    def work() -> dict[str, Any]:
        view = state.ready_store().get_feature_view(name)
        sample = offline_sample(state.ready_store(), view, limit)
        sample.pop("keys")
        return sample

    return _json(await state.off_loop(work))


@router.get("/{kind}", responses={**_OBJECT, **_READ_ERRORS}, summary="List the objects of a kind")
async def get_list(
    request: Request,
    kind: str,
    q: str = Query("", description="text in the name, description, owner or feature names"),
    tag: str = Query("", description="key or key:value"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
) -> Response:
    """One page of ``entities``, ``data-sources``, ``feature-views``, ``on-demand-feature-views`` or
    ``feature-services``, filtered by text and tag."""
    state = _state(request)

    def work() -> dict[str, Any]:
        snap = _snapshot(state)
        key = kind_of_slug(kind, snap.state.project)
        document = snap.page(key, q, tag, page, per_page).to_dict()
        return {**document, "snippets": snippets.for_list(_base(request), key, tag)}

    return _json(await state.off_loop(work))


@router.get("/{kind}/{name}", responses={**_OBJECT, **_READ_ERRORS}, summary="One object")
async def get_object(request: Request, kind: str, name: str) -> Response:
    """The object's definition, bookkeeping, what it reads and what reads it, and the equivalent calls."""
    state = _state(request)
    return _json(await state.off_loop(_object_document, state, kind, name, _base(request)))


def _object_document(state: ServerState, slug: str, name: str, base: str) -> dict[str, Any]:
    snap = _snapshot(state)
    kind = kind_of_slug(slug, snap.state.project)
    stored = snap.stored(kind, name)
    node = f"{KIND_SINGULAR[kind]}/{name}"
    graph = graph_of(snap)
    document: dict[str, Any] = {
        "kind": KIND_SINGULAR[kind],
        "name": name,
        "spec": stored.spec,
        "hash": stored.hash,
        "created": stored.created_timestamp,
        "last_updated": stored.last_updated_timestamp,
        "reads": [a for a, b in graph.edges if b == node],
        "read_by": [b for a, b in graph.edges if a == node],
        "online_store": state.store.config.online_store is not None,
        "snippets": snippets.for_object(base, kind, name),
    }
    if kind == "entities":
        document["feature_views"] = [r["name"] for r in snap.rows["feature_views"] if name in r["entities"]]
    if kind == "feature_views":
        view = snap.state.feature_views()[name]
        document["schema_hash"] = schema_hash(view)
        document["join_keys"] = view.join_keys
        document["freshness"] = freshness.freshness_row(snap, name, datetime.now(UTC), document["online_store"])
        features = [f.name for f in view.features]
        document["snippets"] += snippets.for_view_values(base, name, features, view.join_keys)
        document.update(_view_extras(state, snap, name))
    if kind == "feature_services":
        document["join_keys"], document["request_fields"] = _service_inputs(snap, stored.spec)
    return document


def _view_extras(state: ServerState, snap: Snapshot, name: str) -> dict[str, Any]:
    """A feature view's contract versions (v0, v1, ...), the saved datasets built from it, and whether a
    feature-set root is configured (its page then loads the published versions)."""
    record = snap.state.view_versions.get(name) or {"active": None, "versions": []}
    contract_versions = [
        {k: v for k, v in entry.items() if k != "spec"} | {"active": entry.get("version") == record.get("active")}
        for entry in record.get("versions") or []
    ]
    used_by = [
        n
        for n, r in sorted(snap.state.saved_datasets.items())
        if name in (r.get("reproducibility") or {}).get("views", {})
    ]
    configured = state.store.config.feature_sets
    return {
        "contract_versions": contract_versions,
        "saved_datasets": used_by,
        "feature_sets": bool(configured and configured.root),
    }


def _service_inputs(snap: Snapshot, spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The entity keys and request-data fields a lookup of a feature service needs."""
    views, odfvs = snap.state.feature_views(), snap.state.objects["on_demand_feature_views"]
    keys: list[str] = []
    fields: list[str] = []
    for projection in spec.get("features") or []:
        if not projection.get("on_demand") and projection["name"] in views:
            keys.extend(views[projection["name"]].join_keys)
        elif projection.get("on_demand") and projection["name"] in odfvs:
            for source in odfvs[projection["name"]].spec.get("sources") or []:
                if "feature_view" in source and source["feature_view"] in views:
                    keys.extend(views[source["feature_view"]].join_keys)
                for field in (source.get("request_source") or {}).get("schema") or []:
                    fields.append(field["name"])
    return list(dict.fromkeys(keys)), list(dict.fromkeys(fields))

"""Saved datasets and published feature-set versions, as the UI lists and shows them.

Saved datasets are registry records (:mod:`ladle.retrieval.saved_datasets`, kept in the registry's
``saved_datasets`` section): the list and a dataset's page read them from the registry state the UI serves,
and compare each view's recorded schema hash and the recorded registry version with today's, so a page says
what changed since the dataset was saved without reading any data; the sample reads the first rows of the
stored parquet. Published versions (:mod:`ladle.versions`) are read from the feature-set root on demand.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ladle.definitions.contract import schema_hash
from ladle.errors import NotFound
from ladle.offline.filesystem import ObjectStoreOptions, ParquetPath
from ladle.retrieval.saved_datasets import recorded_view
from ladle.store import FeatureStore
from ladle.ui.catalog import MAX_PER_PAGE, Snapshot
from ladle.ui.values import plain

__all__ = ["MAX_DATASET_SAMPLE", "dataset_detail", "dataset_page", "dataset_sample", "published_versions"]

#: the most rows a saved dataset's sample returns
MAX_DATASET_SAMPLE = 100


def _row(record: dict[str, Any]) -> dict[str, Any]:
    meta = record.get("reproducibility") or {}
    return {
        "name": record["name"],
        "features": len(record.get("features") or []),
        "feature_service": record.get("feature_service"),
        "views": sorted(meta.get("views") or {}),
        "rows": meta.get("rows"),
        "registry_version": meta.get("registry_version"),
        "created_timestamp": record.get("created_timestamp"),
        "tags": dict(record.get("tags") or {}),
        "path": (record.get("storage") or {}).get("path"),
    }


def _rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    built: list[dict[str, Any]] = snapshot.cached(
        ("saved-datasets",),
        lambda: [_row(snapshot.state.saved_datasets[n]) for n in sorted(snapshot.state.saved_datasets)],
    )
    return built


def dataset_page(snapshot: Snapshot, query: str, tag: str, page: int, per_page: int) -> dict[str, Any]:
    """One page of the saved datasets whose name, feature service or views contain ``query`` (any case) and
    that carry ``tag`` (``key`` or ``key:value``); with every ``key:value`` tag and its count."""
    rows = _rows(snapshot)
    counts: dict[str, int] = {}
    for row in rows:
        for key, value in row["tags"].items():
            counts[f"{key}:{value}"] = counts.get(f"{key}:{value}", 0) + 1
    needle = query.strip().lower()
    if needle:
        rows = [
            r for r in rows if any(needle in w.lower() for w in [r["name"], r["feature_service"] or "", *r["views"]])
        ]
    if tag:
        key, sep, value = tag.partition(":")
        rows = [r for r in rows if key in r["tags"] and (not sep or r["tags"][key] == value)]
    per_page = min(per_page, MAX_PER_PAGE)
    start = (page - 1) * per_page
    return {
        "items": rows[start : start + per_page],
        "total": len(rows),
        "page": page,
        "pages": max(1, -(-len(rows) // per_page)),
        "per_page": per_page,
        "tags": dict(sorted(counts.items())),
    }


def _record(snapshot: Snapshot, name: str) -> dict[str, Any]:
    saved = snapshot.state.saved_datasets
    if name not in saved:
        raise NotFound("saved dataset", name, snapshot.state.project, known=saved)
    return saved[name]


def _views_now(snapshot: Snapshot, recorded: dict[str, Any]) -> list[dict[str, Any]]:
    """Each recorded view's provenance beside its schema hash today (``None``: no longer registered)."""
    out = []
    for name in sorted(recorded):
        was = recorded[name]
        view = recorded_view(snapshot.state, name)  # "view@vN": that version
        now = schema_hash(view) if view is not None else None
        out.append(
            {
                "view": name,
                "schema_hash": was.get("schema_hash"),
                "source": was.get("source"),
                "version": was.get("version"),
                "fingerprint": was.get("fingerprint"),
                "schema_hash_now": now,
                "registered": view is not None,
                "contract_changed": now is not None and now != was.get("schema_hash"),
            }
        )
    return out


def dataset_detail(snapshot: Snapshot, name: str) -> dict[str, Any]:
    """A saved dataset's record (features, storage, tags, reproducibility metadata), each view's recorded
    schema hash and source version or fingerprint beside today's schema hash, and the registry version it was
    saved at beside today's. 404 naming the saved datasets for an unknown name."""
    record = _record(snapshot, name)
    meta = dict(record.get("reproducibility") or {})
    views = _views_now(snapshot, meta.get("views") or {})
    return {
        "name": name,
        "features": list(record.get("features") or []),
        "feature_service": record.get("feature_service"),
        "join_keys": list(record.get("join_keys") or []),
        "full_feature_names": bool(record.get("full_feature_names")),
        "storage": record.get("storage") or {},
        "entity_rows": record.get("entity_rows"),
        "tags": dict(record.get("tags") or {}),
        "created_timestamp": record.get("created_timestamp"),
        "rows": meta.get("rows"),
        "registry_version": meta.get("registry_version"),
        "registry_version_now": snapshot.state.version,
        "timestamp_column": meta.get("timestamp_column"),
        "entity_df_fingerprint": meta.get("entity_df_fingerprint"),
        "result_fingerprint": meta.get("result_fingerprint"),
        "versions": meta.get("versions") or {},
        "views": views,
        "contract_changes": [v["view"] for v in views if v["contract_changed"] or not v["registered"]],
    }


def dataset_sample(store: FeatureStore, snapshot: Snapshot, name: str, limit: int) -> dict[str, Any]:
    """The first ``limit`` stored rows of a saved dataset (read where ``store.get_saved_dataset`` reads them)."""
    record = _record(snapshot, name)
    storage = record.get("storage") or {}
    options = getattr(store.offline_store, "object_store", ObjectStoreOptions())
    where = str(storage["path"])
    base = store.repo_path  # relative storage paths are recorded relative to the repo
    path = ParquetPath(
        where,
        f"saved dataset '{name}'",
        base,
        options if isinstance(options, ObjectStoreOptions) else ObjectStoreOptions(),
        storage.get("s3_endpoint_override") or "",
        store="saved datasets",
    )
    table: pa.Table = path.dataset().head(min(limit, MAX_DATASET_SAMPLE))
    meta = record.get("reproducibility") or {}
    return {
        "columns": table.column_names,
        "rows": [[plain(v) for v in row.values()] for row in table.to_pylist()],
        "total_rows": meta.get("rows"),
    }


def published_versions(store: FeatureStore, snapshot: Snapshot, view: str) -> dict[str, Any]:
    """A feature view's published versions (``ladle versions VIEW``), oldest first, with the one ``latest``
    points at and whether each carries the view's current schema hash; ``configured: false`` without a
    ``feature_sets`` root in feature_store.yaml."""
    views = snapshot.state.feature_views()
    if view not in views:
        raise NotFound("feature view", view, snapshot.state.project, known=views)
    configured = store.config.feature_sets
    if configured is None or not configured.root:
        return {"view": view, "configured": False, "root": None, "latest": None, "versions": []}
    root = store.feature_set_root()
    current = schema_hash(views[view])
    items = []
    for info in root.versions(view):
        meta = info.metadata
        items.append(
            {
                "version": info.version,
                "is_latest": info.is_latest,
                "generated_at": meta.get("generated_at"),
                "row_count": meta.get("row_count"),
                "event_time_min": meta.get("event_time_min"),
                "event_time_max": meta.get("event_time_max"),
                "fingerprint": meta.get("fingerprint"),
                "schema_hash": meta.get("schema_hash"),
                "current_contract": meta.get("schema_hash") == current,
                "registry_version": meta.get("registry_version"),
            }
        )
    latest = next((i["version"] for i in items if i["is_latest"]), None)
    return {"view": view, "configured": True, "root": root.uri, "latest": latest, "versions": items}

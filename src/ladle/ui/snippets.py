"""The SDK, CLI and curl calls equivalent to each page, for users to copy.

``curl`` lines address the feature server (``ladle serve``, port 6566) where it has the call, else this
UI's own ``/api/``; ``base`` is the URL the UI is served at.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "for_freshness",
    "for_history",
    "for_lineage",
    "for_list",
    "for_lookup",
    "for_object",
    "for_overview",
    "for_preview",
    "for_view_values",
]

_SDK_GET = {
    "entities": "get_entity",
    "data_sources": "get_data_source",
    "feature_views": "get_feature_view",
    "on_demand_feature_views": "get_on_demand_feature_view",
    "feature_services": "get_feature_service",
}
_STORE = 'from ladle import FeatureStore\nstore = FeatureStore(repo_path=".")\n'


def _snippet(sdk: str, cli: str, curl: str) -> list[dict[str, str]]:
    return [
        {"label": "Python SDK", "code": _STORE + sdk},
        {"label": "CLI", "code": cli},
        {"label": "curl", "code": curl},
    ]


def for_overview(base: str) -> list[dict[str, str]]:
    """The overview page."""
    return _snippet(
        "print(store.project, store.registry.version)\nprint(len(store.list_feature_views()), 'feature views')",
        "ladle registry-dump | head -n 5\nladle feature-views list",
        f"curl -s {base}/api/overview\ncurl -s http://127.0.0.1:6566/health",
    )


def for_list(base: str, kind: str, tag: str) -> list[dict[str, str]]:
    """A list page (``tag`` the filter in use, ``key:value``)."""
    slug = kind.replace("_", "-")
    key, _, value = tag.partition(":")
    tags = f"tags={{{key!r}: {value!r}}}" if tag else ""
    method = f"list_{kind}" if kind != "data_sources" else "list_data_sources"
    return _snippet(
        f"for obj in store.{method}({tags}):\n    print(obj.name)",
        f"ladle {slug} list" + (f" --tags {tag}" if tag else ""),
        f"curl -s '{base}/api/{slug}" + (f"?tag={tag}" if tag else "") + "'",
    )


def for_object(base: str, kind: str, name: str) -> list[dict[str, str]]:
    """An object's page."""
    slug = kind.replace("_", "-")
    return _snippet(
        f"obj = store.{_SDK_GET[kind]}({name!r})\nprint(obj.to_dict())",
        f"ladle {slug} describe {name}",
        f"curl -s {base}/api/{slug}/{name}",
    )


def for_view_values(base: str, view: str, features: list[str], keys: list[str]) -> list[dict[str, str]]:
    """A feature view's freshness and values."""
    refs = [f"{view}:{f}" for f in features]
    rows = {k: ["<value>"] for k in keys}
    return _snippet(
        f"from datetime import datetime, UTC\nstore.materialize_incremental(datetime.now(UTC), feature_views=[{view!r}])\n"
        f"print(store.get_online_features({refs!r}, {rows!r}).to_dict())",
        f"ladle materialize-incremental $(date -u +%Y-%m-%dT%H:%M:%S) -v {view}",
        f"curl -s {base}/api/feature-views/{view}/freshness\ncurl -s '{base}/api/feature-views/{view}/sample?limit=20'",
    )


def for_lookup(features: list[str] | None, service: str | None, entities: dict[str, list[Any]]) -> list[dict[str, str]]:
    """An online lookup (``features`` refs or a ``service``)."""
    body: dict[str, Any] = {"entities": entities}
    if service:
        body["feature_service"] = service
        sdk_features = f"store.get_feature_service({service!r})"
    else:
        body["features"] = features or []
        sdk_features = repr(features or [])
    return _snippet(
        f"print(store.get_online_features({sdk_features}, {entities!r}).to_dict())",
        "ladle serve   # then the curl call",
        "curl -s -X POST http://127.0.0.1:6566/get-online-features -H 'Content-Type: application/json' \\\n"
        f"  -d '{json.dumps(body)}'",
    )


def for_preview(base: str, service: str, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """A training-set preview of a feature service."""
    columns = {k: [r.get(k) for r in rows] for k in dict.fromkeys(k for r in rows for k in r)}
    return _snippet(
        f"import pandas as pd\nentity_df = pd.DataFrame({columns!r})\n"
        f"entity_df['event_timestamp'] = pd.to_datetime(entity_df['event_timestamp'], utc=True)\n"
        f"print(store.get_historical_features(entity_df, store.get_feature_service({service!r})).to_df())",
        f"ladle feature-services describe {service}",
        f"curl -s -X POST {base}/api/feature-services/{service}/preview -H 'Content-Type: application/json' \\\n"
        f"  -d '{json.dumps({'entity_rows': rows})}'",
    )


def for_lineage(base: str, node: str) -> list[dict[str, str]]:
    """The lineage page (``node``: one object's, else the whole graph)."""
    query = f"?node={node}" if node else ""
    return _snippet(
        "for view in store.list_feature_views():\n    print(view.batch_source.name, '->', view.name)\n"
        "for service in store.list_feature_services():\n"
        "    print([p.name for p in service.feature_view_projections], '->', service.name)",
        "ladle feature-views list\nladle feature-services list",
        f"curl -s '{base}/api/lineage{query}'",
    )


def for_freshness(base: str) -> list[dict[str, str]]:
    """The freshness page."""
    return _snippet(
        "for view in store.list_feature_views():\n"
        "    print(view.name, store.registry.materialization_intervals(view.name))",
        "ladle materialize-incremental $(date -u +%Y-%m-%dT%H:%M:%S)",
        f"curl -s '{base}/api/freshness?stale=true'",
    )


def for_history(base: str) -> list[dict[str, str]]:
    """The history page."""
    return _snippet(
        "for entry in store.registry.to_dict()['history']:\n    print(entry['version'], entry['time'], entry['changes'])",
        "ladle registry-dump | python -c 'import json, sys; print(json.load(sys.stdin)[\"history\"])'",
        f"curl -s {base}/api/history",
    )

"""The SDK, CLI and curl calls equivalent to each page, for users to copy.

``curl`` lines address the feature server (``ladle serve``, port 6566) where it has the call, else this
UI's own ``/api/``; ``base`` is the URL the UI is served at.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "for_compare",
    "for_freshness",
    "for_history",
    "for_lineage",
    "for_list",
    "for_lookup",
    "for_object",
    "for_overview",
    "for_preview",
    "for_published_versions",
    "for_saved_dataset",
    "for_saved_datasets",
    "for_version",
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
        "for v in store.registry_history():\n    print(v.version, v.time, v.user, v.host, v.summary)",
        "ladle registry history\nladle registry history --json",
        f"curl -s {base}/api/history",
    )


def for_version(base: str, version: int) -> list[dict[str, str]]:
    """One registry version's page: its diff against the version before, and restoring it."""
    before = max(version - 1, 0)
    return _snippet(
        f"diff = store.diff_registry_versions({before}, {version})\nprint('\\n'.join(diff.describe()))\n"
        f"# store.rollback_registry({version})  # writes a new version equal to this one",
        f"ladle registry diff {before} {version}\nladle registry diff {before} {version} --json\n"
        f"ladle registry rollback {version}   # writes a new version equal to this one",
        f"curl -s {base}/api/history/{version}",
    )


def for_compare(base: str, a: int, b: int) -> list[dict[str, str]]:
    """The comparison of two registry versions."""
    return _snippet(
        f"diff = store.diff_registry_versions({a}, {b})\nprint('\\n'.join(diff.describe()))\n"
        "print('\\n'.join(diff.contract_lines()))",
        f"ladle registry diff {a} {b}\nladle registry diff {a} {b} --json",
        f"curl -s '{base}/api/history/compare?a={a}&b={b}'",
    )


def for_saved_datasets(base: str) -> list[dict[str, str]]:
    """The saved datasets list."""
    return _snippet(
        "for ds in store.list_saved_datasets():\n    print(ds.name, ds.metadata['rows'], ds.created_timestamp)",
        "ladle saved-datasets list",
        f"curl -s {base}/api/saved-datasets",
    )


def for_saved_dataset(base: str, name: str) -> list[dict[str, str]]:
    """A saved dataset's page: its rows, its metadata and its reproduction."""
    return _snippet(
        f"ds = store.get_saved_dataset({name!r})\nprint(ds.to_df().head())\nprint(ds.metadata)\n"
        f"report = store.reproduce_saved_dataset({name!r})\nprint('\\n'.join(report.lines()))",
        f"ladle saved-datasets describe {name} -o json\nladle reproduce {name}",
        f"curl -s {base}/api/saved-datasets/{name}\ncurl -s '{base}/api/saved-datasets/{name}/sample?limit=20'",
    )


def for_published_versions(base: str, view: str) -> list[dict[str, str]]:
    """A feature view's published versions."""
    return _snippet(
        f"for v in store.list_versions({view!r}):\n    print(v.version, v.is_latest, v.metadata['row_count'])\n"
        f"# store.rollback({view!r}, '<version>')  # latest -> that version, online follows",
        f"ladle versions {view}\nladle rollback {view} <version>",
        f"curl -s {base}/api/feature-views/{view}/versions",
    )

"""What the registry holds, as the UI lists and shows it: one row per object, search, tag filter, pages.

Everything here reads the plain specs of a :class:`~ladle.registry.state.RegistryState` (no definition
objects are rebuilt for a list), and the rows of a state are built once and kept while the state is the
one served (:class:`Snapshot`), so a list of 1,000 views is a filter over ready rows.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ladle.definitions.kinds import KIND_SINGULAR, KINDS
from ladle.errors import InvalidRequest, NotFound
from ladle.registry.state import RegistryState

__all__ = [
    "KIND_SLUGS",
    "MAX_PAGE",
    "MAX_PER_PAGE",
    "Page",
    "Snapshot",
    "kind_of_slug",
    "snapshot_of",
    "source_location",
]

#: the kinds the UI lists, by their URL slug (``feature-views`` → ``feature_views``)
KIND_SLUGS: dict[str, str] = {k.replace("_", "-"): k for k in KINDS if k != "projects"}
#: the largest page a list returns
MAX_PER_PAGE = 200
#: the highest page number asked for (past the last page a list is empty)
MAX_PAGE = 1_000_000


def kind_of_slug(slug: str, project: str) -> str:
    """The registry kind of a URL slug; 404 naming the known slugs otherwise."""
    kind = KIND_SLUGS.get(slug)
    if kind is None:
        raise NotFound("object kind", slug, project, known=KIND_SLUGS)
    return kind


def source_location(spec: dict[str, Any]) -> str:
    """Where a data source's rows are: its path, table, query, topic or stream (empty for request sources)."""
    for key in ("path", "table", "query", "topic", "stream_name", "stream"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            return value
    batch = spec.get("batch_source")
    return source_location(batch) if isinstance(batch, dict) else ""


def _row(kind: str, name: str, spec: dict[str, Any], updated: str, keys: dict[str, list[str]]) -> dict[str, Any]:
    """One list row: what every kind shows plus what its own list needs."""
    row: dict[str, Any] = {
        "name": name,
        "kind": KIND_SINGULAR[kind],
        "description": spec.get("description", ""),
        "owner": spec.get("owner", ""),
        "tags": dict(spec.get("tags") or {}),
        "last_updated": updated,
    }
    if kind == "entities":
        row.update(join_keys=list(spec.get("join_keys") or []), value_type=spec.get("value_type", ""))
    elif kind == "data_sources":
        row.update(type=spec.get("type", ""), location=source_location(spec))
    elif kind == "feature_views":
        entities = list(spec.get("entities") or [])
        join_keys = {k for e in entities for k in keys.get(e, [e])}
        row.update(
            entities=entities,
            features=[f["name"] for f in spec.get("schema") or [] if f["name"] not in join_keys],
            ttl_seconds=spec.get("ttl_seconds"),
            source=(spec.get("source") or {}).get("name", ""),
            online=bool(spec.get("online", True)),
            offline=bool(spec.get("offline", True)),
            view_type=spec.get("view_type") or "batch",
            aggregations=len(spec.get("aggregations") or []),
        )
    elif kind == "on_demand_feature_views":
        row.update(
            features=[f["name"] for f in spec.get("schema") or []],
            mode=spec.get("mode", ""),
            sources=[_odfv_source_name(s) for s in spec.get("sources") or []],
        )
    elif kind == "feature_services":
        projections = spec.get("features") or []
        row.update(
            views=[p.get("name_alias") or p["name"] for p in projections],
            features=sum(len(p.get("features") or []) for p in projections),
        )
    return row


def _odfv_source_name(source: dict[str, Any]) -> str:
    if "feature_view" in source:
        return str(source["feature_view"])
    request = source.get("request_source") or {}
    return str(request.get("name", ""))


def _matches(row: dict[str, Any], query: str) -> bool:
    words = [row["name"], row["description"], row["owner"]]
    features = row.get("features")
    if isinstance(features, list):
        words.extend(features)
    return any(query in w.lower() for w in words)


def _tagged(row: dict[str, Any], tag: str) -> bool:
    key, sep, value = tag.partition(":")
    tags: dict[str, str] = row["tags"]
    return key in tags and (not sep or tags[key] == value)


@dataclass(frozen=True)
class Page:
    """One page of a filtered list."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    #: every ``key:value`` tag of the kind (the filter's choices), with how many objects carry it
    tags: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        pages = max(1, -(-self.total // self.per_page))
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "pages": pages,
            "per_page": self.per_page,
            "tags": self.tags,
        }


@dataclass(eq=False)
class Snapshot:
    """The UI's view of one registry state: rows per kind, built once; other modules cache beside them."""

    state: RegistryState
    rows: dict[str, list[dict[str, Any]]] = field(init=False)
    tag_counts: dict[str, dict[str, int]] = field(init=False)
    #: caches of other modules (the lineage graph and its layouts), keyed by what they hold
    extras: dict[Any, Any] = field(default_factory=dict, init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.rows, self.tag_counts = {}, {}
        keys = {n: list(o.spec.get("join_keys") or [n]) for n, o in self.state.objects["entities"].items()}
        for kind in KIND_SLUGS.values():
            objects = self.state.objects.get(kind, {})
            rows = [_row(kind, n, o.spec, o.last_updated_timestamp, keys) for n, o in sorted(objects.items())]
            counts: dict[str, int] = {}
            for row in rows:
                for key, value in row["tags"].items():
                    counts[f"{key}:{value}"] = counts.get(f"{key}:{value}", 0) + 1
            self.rows[kind], self.tag_counts[kind] = rows, dict(sorted(counts.items()))

    def cached(self, key: Any, make: Any) -> Any:
        """``make()``, computed once per snapshot for ``key``."""
        with self.lock:
            if key in self.extras:
                return self.extras[key]
        value = make()
        with self.lock:
            return self.extras.setdefault(key, value)

    def page(self, kind: str, query: str = "", tag: str = "", page: int = 1, per_page: int = 50) -> Page:
        """Rows of ``kind`` whose name, description, owner or features contain ``query`` (any case) and that
        carry ``tag`` (``key`` or ``key:value``), page ``page`` of ``per_page``."""
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidRequest(
                f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE} (got {page}, {per_page})"
            )
        rows = self.rows[kind]
        needle = query.strip().lower()
        if needle:
            rows = [r for r in rows if _matches(r, needle)]
        if tag:
            rows = [r for r in rows if _tagged(r, tag)]
        start = (page - 1) * per_page
        return Page(rows[start : start + per_page], len(rows), page, per_page, self.tag_counts[kind])

    def stored(self, kind: str, name: str) -> Any:
        """The stored object ``name`` of ``kind`` (404 naming the kind otherwise)."""
        found = self.state.objects.get(kind, {}).get(name)
        if found is None:
            what = KIND_SINGULAR[kind].replace("_", " ")
            raise NotFound(what, name, self.state.project, known=self.state.objects.get(kind, {}))
        return found

    def counts(self) -> dict[str, int]:
        """How many objects of each listed kind, and how many saved datasets."""
        counts = {slug: len(self.rows[kind]) for slug, kind in KIND_SLUGS.items()}
        return {**counts, "saved-datasets": len(self.state.saved_datasets)}


_SNAPSHOTS: weakref.WeakKeyDictionary[RegistryState, Snapshot] = weakref.WeakKeyDictionary()
_SNAPSHOTS_LOCK = threading.Lock()


def snapshot_of(state: RegistryState) -> Snapshot:
    """The snapshot of ``state``, built on first use and kept as long as the state lives."""
    with _SNAPSHOTS_LOCK:
        found = _SNAPSHOTS.get(state)
    if found is not None:
        return found
    built = Snapshot(state)
    with _SNAPSHOTS_LOCK:
        return _SNAPSHOTS.setdefault(state, built)

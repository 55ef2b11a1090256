"""Turn what a caller asks for ("view:feature" refs or a FeatureService) into per-view requests.

Both retrieval paths (historical and online) start here, so naming, aliasing, projections, the
features on-demand views need, and name clashes are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from ladle.definitions import FeatureService, FeatureView, Field, OnDemandFeatureView
from ladle.errors import FeatureNameCollision, FeatureNotFound, InvalidRequest, NotFound
from ladle.offline.base import ViewRequest
from ladle.types import to_arrow

__all__ = [
    "CachedResolver",
    "Catalog",
    "OnDemandRequest",
    "ResolvedFeatures",
    "ViewRequest",
    "check_features_arg",
    "resolve_features",
]


class Catalog(Protocol):
    """What resolution needs from the registry."""

    project: str

    def get_feature_view(self, name: str) -> FeatureView: ...

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView: ...

    def get_feature_service(self, name: str) -> FeatureService: ...


@dataclass
class OnDemandRequest:
    """An on-demand view and which of its outputs are wanted."""

    view: OnDemandFeatureView
    features: list[Field]
    #: the name features are reported under (a service may alias the view)
    name: str = ""

    @property
    def request_fields(self) -> list[Field]:
        return [f for src in self.view.request_sources for f in src.schema]


@dataclass
class ResolvedFeatures:
    """Everything one retrieval call needs, in the caller's order."""

    views: list[ViewRequest]
    on_demand: list[OnDemandRequest]
    #: (view name to use, feature name, output column) for every returned feature, in order
    outputs: list[tuple[str, str, str]]
    full_feature_names: bool
    #: entity column -> Arrow type, computed on first use (see :meth:`key_arrow_types`)
    key_types: dict[str, pa.DataType] | None = None

    @property
    def request_fields(self) -> list[Field]:
        """Request-data fields the on-demand views read (deduplicated)."""
        seen: dict[str, Field] = {}
        for r in self.on_demand:
            for f in r.request_fields:
                seen.setdefault(f.name, f)
        return list(seen.values())

    @property
    def entity_columns(self) -> list[str]:
        """Every entity column any view joins on (deduplicated, in first-use order)."""
        out: list[str] = []
        for v in self.views:
            out.extend(c for c in v.entity_columns if c not in out)
        return out

    def key_arrow_types(self) -> dict[str, pa.DataType]:
        """The Arrow type of every entity column, from the views' declared join-key fields (computed once).

        Callers' key values (online entity rows, historical entity frames) are typed by it; a key whose
        declared type has no Arrow form is left out (its values keep the type they arrive with).
        """
        if self.key_types is None:
            types: dict[str, pa.DataType] = {}
            for req in self.views:
                for f in req.view.entity_columns:
                    try:
                        types.setdefault(req.join_key_map.get(f.name, f.name), to_arrow(f.dtype))
                    except TypeError:
                        continue
            self.key_types = types
        return self.key_types

    def check_enabled(self) -> None:
        """Refuse a request for features of disabled views (:class:`~ladle.errors.InvalidRequest` naming them)."""
        disabled = sorted({req.view.name for req in self.views if not req.view.enabled})
        if disabled:
            raise InvalidRequest(
                f"feature view(s) {disabled} are disabled (enabled=False) and serve no features; "
                "set enabled=True and apply, or drop their features from the request"
            )


class MarkedCatalog(Catalog, Protocol):
    """A catalog that can tell when its content changed."""

    def state_marker(self) -> str | None: ...


class CachedResolver:
    """:func:`resolve_features` remembered per request shape until the catalog's content changes.

    Resolutions of disabled views are refused (:meth:`ResolvedFeatures.check_enabled`) and never cached.
    """

    def __init__(self, catalog: MarkedCatalog) -> None:
        self._catalog = catalog
        self._cache: dict[tuple[Any, ...], ResolvedFeatures] = {}
        self._marker: object = None

    def clear(self) -> None:
        """Forget every resolution (after an apply)."""
        self._cache.clear()

    def resolve(self, features: Any, full_feature_names: bool) -> ResolvedFeatures:
        """The resolution of ``features`` against the catalog as it is now."""
        check_features_arg(features, full_feature_names)
        marker = self._catalog.state_marker()
        if marker != self._marker:
            self._cache.clear()
            self._marker = marker
        shape = (
            features.name
            if isinstance(features, FeatureService)
            else (tuple(features) if isinstance(features, list | tuple) else features)
        )
        # the marker is part of the key: a resolution computed while another thread swaps the registry in
        # is never served under the new registry
        key = (marker, shape, full_feature_names, isinstance(features, FeatureService))
        hit = self._cache.get(key)
        if hit is None:
            hit = resolve_features(self._catalog, features, full_feature_names)
            hit.check_enabled()
            self._cache[key] = hit
        return hit


def _parse_ref(ref: str) -> tuple[str, str]:
    if not isinstance(ref, str) or ref.count(":") != 1 or ref.startswith(":") or ref.endswith(":"):
        raise InvalidRequest(
            f"feature reference {ref!r} is not of the form 'feature_view:feature' "
            "(e.g. 'driver_hourly_stats:conv_rate')"
        )
    view, feat = ref.split(":")
    return view, feat


def _pick(fields: list[Field], wanted: list[str] | None, view: str, project: str, ref: str | None) -> list[Field]:
    by_name = {f.name: f for f in fields}
    if wanted is None:
        return list(fields)
    out = []
    for n in wanted:
        if n not in by_name:
            raise FeatureNotFound(view, n, project, list(by_name), ref)
        out.append(by_name[n])
    return out


class _Builder:
    def __init__(self, catalog: Catalog, full_feature_names: bool) -> None:
        self.catalog = catalog
        self.full = full_feature_names
        self.views: dict[str, ViewRequest] = {}
        self.on_demand: dict[str, OnDemandRequest] = {}
        self.outputs: list[tuple[str, str, str]] = []

    def lookup(self, name: str, ref: str | None) -> FeatureView | OnDemandFeatureView:
        try:
            return self.catalog.get_feature_view(name)
        except NotFound as exc:
            views = exc.known
        try:
            return self.catalog.get_on_demand_feature_view(name)
        except NotFound as exc:
            raise NotFound("feature view", name, self.catalog.project, [*views, *exc.known], ref) from None

    def view_request(self, fv: FeatureView, alias: str | None, join_key_map: dict[str, str]) -> ViewRequest:
        name = alias or fv.name
        req = self.views.get(name)
        if req is None:
            req = ViewRequest(fv, name, [], dict(join_key_map))
            self.views[name] = req
        return req

    def add(
        self, view_name: str, alias: str | None, wanted: list[str] | None, jkm: dict[str, str], ref: str | None = None
    ) -> None:
        """Request ``wanted`` features (all when ``None``) of a view; ``ref`` is the caller's text, for errors."""
        obj = self.lookup(view_name, ref)
        name = alias or view_name
        if isinstance(obj, OnDemandFeatureView):
            feats = _pick(obj.schema, wanted, view_name, self.catalog.project, ref)
            req = self.on_demand.setdefault(name, OnDemandRequest(obj, [], name))
            for f in feats:
                if all(x.name != f.name for x in req.features):
                    req.features.append(f)
                self._output(name, f.name)
            self._add_odfv_inputs(obj)
            return
        feats = _pick(obj.features, wanted, view_name, self.catalog.project, ref)
        vreq = self.view_request(obj, alias, jkm)
        for f in feats:
            vreq.add_feature(f, hidden=False)
            self._output(name, f.name)

    def _add_odfv_inputs(self, odfv: OnDemandFeatureView) -> None:
        for src in odfv.source_views:
            vreq = self.view_request(src, src.projection.name_alias, src.projection.join_key_map)
            for f in src.projected_features:
                vreq.add_feature(f, hidden=True)

    def _output(self, view: str, feature: str) -> None:
        col = f"{view}__{feature}" if self.full else feature
        if any(o[2] == col for o in self.outputs):
            if any(o[0] == view and o[1] == feature for o in self.outputs):
                return  # the same feature asked twice: returned once
            other = next(o[0] for o in self.outputs if o[2] == col)
            raise FeatureNameCollision(
                f"feature name '{feature}' is requested from both '{other}' and '{view}'; "
                "pass full_feature_names=True to get 'view__feature' column names, or alias a view with .with_name()"
            )
        self.outputs.append((view, feature, col))

    def result(self) -> ResolvedFeatures:
        return ResolvedFeatures(list(self.views.values()), list(self.on_demand.values()), self.outputs, self.full)


def check_features_arg(features: Any, full_feature_names: Any) -> None:
    """Refuse a ``features=`` or ``full_feature_names=`` argument of the wrong shape, before any lookup."""
    if not isinstance(full_feature_names, bool):
        raise InvalidRequest(f"full_feature_names must be True or False, got {type(full_feature_names).__name__}")
    if isinstance(features, FeatureService | str):
        return
    if not isinstance(features, list | tuple) or not features:
        raise InvalidRequest("features must be a non-empty list of 'view:feature' strings or a FeatureService")
    bad = [f for f in features if not isinstance(f, str)]
    if bad:
        raise InvalidRequest(
            f"features must be 'view:feature' strings; one is a {type(bad[0]).__name__} ({str(bad[0])[:80]!r})"
        )


def resolve_features(
    catalog: Catalog, features: list[str] | FeatureService | str, full_feature_names: bool = False
) -> ResolvedFeatures:
    """Resolve refs or a service (or a service's name) against ``catalog``.

    >>> # resolve_features(registry, ["driver_hourly_stats:conv_rate"]).outputs
    >>> # [('driver_hourly_stats', 'conv_rate', 'conv_rate')]
    """
    check_features_arg(features, full_feature_names)
    b = _Builder(catalog, full_feature_names)
    if isinstance(features, str):
        features = catalog.get_feature_service(features)
    if isinstance(features, FeatureService):
        for p in features.projections:
            wanted = None if p.features is None else [f.name for f in p.features]
            b.add(p.name, p.name_alias, wanted, p.join_key_map)
    else:
        if not isinstance(features, list | tuple) or not features:
            raise InvalidRequest("features must be a non-empty list of 'view:feature' strings or a FeatureService")
        for ref in features:
            view, feat = _parse_ref(ref)
            # "view@vN": version N of the view (the registry resolves it), reported under that name
            b.add(view, view if "@" in view else None, [feat], {}, ref)
    return b.result()

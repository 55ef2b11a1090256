"""``FeatureService``: the named set of features one model uses."""

from __future__ import annotations

from typing import Any

from ladle.definitions.base import Named, check_name, check_tags
from ladle.definitions.feature_view import FeatureView, FeatureViewProjection
from ladle.definitions.on_demand import OnDemandFeatureView
from ladle.errors import InvalidDefinition

__all__ = ["FeatureService"]


class FeatureService(Named):
    """Features from several views (projected and aliased as needed), retrieved together.

    >>> # FeatureService(name="driver_activity", features=[driver_stats_fv[["conv_rate"]], transformed])
    """

    def __init__(
        self,
        *,
        name: str,
        features: list[FeatureView | OnDemandFeatureView],
        tags: dict[str, str] | None = None,
        description: str = "",
        owner: str = "",
        logging_config: Any = None,
    ) -> None:
        self.name = check_name("FeatureService", name)
        if not features:
            raise InvalidDefinition("FeatureService", name, "features must list at least one feature view")
        self.projections: list[FeatureViewProjection] = []
        self.on_demand_names: set[str] = set()
        seen: set[str] = set()
        for v in features:
            if not isinstance(v, FeatureView | OnDemandFeatureView):
                raise InvalidDefinition(
                    "FeatureService", name, f"features must be feature views (optionally projected), got {v!r}"
                )
            proj = FeatureViewProjection(
                v.name, v.projected_features, v.projection.name_alias, v.projection.join_key_map
            )
            if proj.name_to_use in seen:
                raise InvalidDefinition(
                    "FeatureService",
                    name,
                    f"view '{proj.name_to_use}' is listed twice",
                    "use .with_name('...') to include the same view under two names",
                )
            seen.add(proj.name_to_use)
            if isinstance(v, OnDemandFeatureView):
                self.on_demand_names.add(v.name)
            self.projections.append(proj)
        self.tags = check_tags("FeatureService", name, tags)
        self.description = description or ""
        self.owner = owner or ""

    @property
    def feature_view_projections(self) -> list[FeatureViewProjection]:
        return self.projections

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            "kind": "feature_service",
            "name": self.name,
            "features": [{**p.to_dict(), "on_demand": p.name in self.on_demand_names} for p in self.projections],
            "tags": self.tags,
            "description": self.description,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureService:
        """Inverse of :meth:`to_dict` (projections keep feature names; types come from the registry)."""
        from ladle.definitions.field import Field
        from ladle.types import Invalid

        out = object.__new__(cls)
        out.name = data["name"]
        out.projections = [
            FeatureViewProjection(
                p["name"],
                None if p["features"] is None else [Field(name=n, dtype=Invalid) for n in p["features"]],
                p.get("name_alias"),
                p.get("join_key_map"),
            )
            for p in data["features"]
        ]
        out.on_demand_names = {p["name"] for p in data["features"] if p.get("on_demand")}
        out.tags = dict(data.get("tags") or {})
        out.description = data.get("description", "")
        out.owner = data.get("owner", "")
        return out

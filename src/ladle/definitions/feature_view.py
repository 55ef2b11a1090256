"""``FeatureView``: a named group of features read from one source and keyed by entities."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, ClassVar

from ladle.definitions.base import Named, check_name, check_tags, check_ttl, ttl_from_seconds, ttl_to_seconds
from ladle.definitions.entity import Entity
from ladle.definitions.field import Field
from ladle.definitions.sources import DataSource, PushSource, RequestSource, source_from_dict
from ladle.errors import InvalidDefinition, did_you_mean
from ladle.types import Invalid

__all__ = ["FeatureView", "FeatureViewProjection"]


class FeatureViewProjection:
    """How a view is used in a request: an alias, a subset of its features, renamed join keys."""

    def __init__(
        self,
        name: str,
        features: list[Field] | None = None,
        name_alias: str | None = None,
        join_key_map: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        #: the chosen features; ``None`` means every feature of the view
        self.features = list(features) if features is not None else None
        self.name_alias = name_alias
        self.join_key_map = dict(join_key_map or {})

    @property
    def name_to_use(self) -> str:
        """The name features are reported under: the alias when there is one."""
        return self.name_alias or self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description."""
        return {
            "name": self.name,
            "name_alias": self.name_alias,
            "features": None if self.features is None else [f.name for f in self.features],
            "join_key_map": self.join_key_map,
        }

    def __repr__(self) -> str:
        names = None if self.features is None else [f.name for f in self.features]
        return f"FeatureViewProjection({self.name_to_use!r}, {names})"


def _checked_version(view: str, version: str | None) -> str | None:
    """``None`` for ``"latest"``/``None``; ``"vN"`` (lower case) for a pin; InvalidDefinition otherwise."""
    if version is None or (isinstance(version, str) and version.strip().lower() == "latest"):
        return None
    text = version.strip().lower() if isinstance(version, str) else ""
    if not (text.startswith("v") and text[1:].isdigit()):
        raise InvalidDefinition(
            "FeatureView", view, f"version must be 'latest' or 'v<N>' (e.g. 'v2'), got {version!r}", "fix the pin"
        )
    return f"v{int(text[1:])}"


def _entity_names(view: str, entities: list[Entity | str]) -> tuple[list[str], list[Entity]]:
    """The entity names of a view (given as objects or names), and the objects given."""
    names: list[str] = []
    objects: list[Entity] = []
    for e in entities:
        if isinstance(e, Entity):
            names.append(e.name)
            objects.append(e)
        elif isinstance(e, str):
            names.append(e)
        else:
            raise InvalidDefinition("FeatureView", view, f"entities must be Entity objects or names, got {e!r}")
    if len(set(names)) != len(names):
        raise InvalidDefinition("FeatureView", view, f"an entity is listed twice: {names}")
    return names, objects


def _checked_fields(view: str, fields: list[Field]) -> list[Field]:
    """``fields`` when each is a Field and no name repeats."""
    seen: set[str] = set()
    for f in fields:
        if not isinstance(f, Field):
            raise InvalidDefinition("FeatureView", view, f"schema entries must be Field objects, got {f!r}")
        if f.name in seen:
            raise InvalidDefinition("FeatureView", view, f"field '{f.name}' is declared twice in the schema")
        seen.add(f.name)
    return fields


class FeatureView(Named):
    """Features of one or more entities, read from a batch (or push) source.

    ``schema`` lists the feature columns and may also list the entity join-key columns (their type is
    then known); left empty, the features are inferred from the source at ``apply`` time.
    ``enabled=False`` keeps a view registered but out of service: materializing every view skips it,
    and a request for its features (online or historical) is an error naming it.

    >>> from datetime import timedelta
    >>> from ladle.types import Float32
    >>> driver = Entity(name="driver", join_keys=["driver_id"])
    >>> src = FileSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp")
    >>> fv = FeatureView(name="driver_hourly_stats", entities=[driver], ttl=timedelta(days=1),
    ...                  schema=[Field(name="conv_rate", dtype=Float32)], source=src)
    >>> [f.name for f in fv.features]
    ['conv_rate']
    """

    #: ``to_dict()["view_type"]`` of a subclass stored in the same registry kind ("" for a plain view)
    view_type: ClassVar[str] = ""
    _view_types: ClassVar[dict[str, type[FeatureView]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.view_type:
            FeatureView._view_types[cls.view_type] = cls

    def __init__(
        self,
        *,
        name: str,
        source: DataSource | None = None,
        schema: list[Field] | None = None,
        entities: list[Entity | str] | None = None,
        ttl: timedelta | None = timedelta(0),
        online: bool = True,
        offline: bool = True,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        batch_source: DataSource | None = None,
        features: list[Field] | None = None,
        stream_source: DataSource | None = None,
        enabled: bool = True,
        version: str | None = None,
    ) -> None:
        self.name = check_name("FeatureView", name)
        src = source if source is not None else (batch_source if batch_source is not None else stream_source)
        if src is None:
            raise InvalidDefinition("FeatureView", name, "a source is required", "pass source=FileSource(...)")
        if not isinstance(src, DataSource) or isinstance(src, RequestSource):
            raise InvalidDefinition(
                "FeatureView",
                name,
                f"source must be a FileSource or PushSource, got {src!r}",
                "request data belongs in an on_demand_feature_view",
            )
        self.source: DataSource = src
        self.entities, self.entity_objects = _entity_names(name, entities or [])
        self.schema: list[Field] = _checked_fields(name, list(schema or []) + list(features or []))
        self.ttl = check_ttl("FeatureView", name, ttl)
        if not all(isinstance(flag, bool) for flag in (online, offline, enabled)):
            raise InvalidDefinition("FeatureView", name, "online, offline and enabled must be True or False")
        self.enabled = enabled
        self.online = online
        self.offline = offline
        self.description = description or ""
        self.tags = check_tags("FeatureView", name, tags)
        self.owner = owner or ""
        #: Feast's version pin: ``"latest"`` (or ``None``) serves the newest definition, ``"vN"`` the registered
        #: version N (docs/registry-history.md)
        self.version = _checked_version(name, version)
        self.projection = FeatureViewProjection(self.name)

    # --- derived views of the schema ---------------------------------------------------------------
    @property
    def join_keys(self) -> list[str]:
        """Join-key columns of the view's entities (known once entities are resolved at apply)."""
        keys: list[str] = []
        for e in self.entity_objects:
            keys.extend(e.join_keys)
        return keys

    @property
    def entity_columns(self) -> list[Field]:
        """Schema fields that are join keys."""
        keys = set(self.join_keys) | set(self.entities)
        return [f for f in self.schema if f.name in keys]

    @property
    def features(self) -> list[Field]:
        """Schema fields that are features (everything that is not a join key)."""
        keys = set(self.join_keys) | set(self.entities)
        return [f for f in self.schema if f.name not in keys]

    @property
    def projected_features(self) -> list[Field]:
        """The features this (possibly projected) view returns."""
        if self.projection.features is None:
            return self.features
        by_name = {f.name: f for f in self.features}  # a projection made before inference learns its types
        return [by_name.get(f.name, f) for f in self.projection.features]

    def bind_entities(self, entities: dict[str, Entity]) -> None:
        """Resolve entity names to the registered Entity objects (done by the registry at apply/load)."""
        objs = []
        for n in self.entities:
            if n not in entities:
                guess = did_you_mean(n, entities)
                raise InvalidDefinition(
                    "FeatureView",
                    self.name,
                    f"uses entity '{n}', which is not defined" + (f"; did you mean '{guess}'?" if guess else ""),
                    f"define Entity(name='{n}', ...) in the repo, known: {sorted(entities)}",
                )
            objs.append(entities[n])
        self.entity_objects = objs

    @property
    def batch_source(self) -> DataSource:
        """The source holding history (a push source's batch source)."""
        return self.source.batch

    @property
    def stream_source(self) -> PushSource | None:
        return self.source if isinstance(self.source, PushSource) else None

    # --- projections -------------------------------------------------------------------------------
    def __getitem__(self, names: list[str]) -> FeatureView:
        """``fv[["a", "b"]]``: the same view, projected to some of its features.

        On a view whose features are inferred at apply (no schema yet), the names are checked then.
        """
        if isinstance(names, str):
            names = [names]
        by_name = {f.name: f for f in self.features}
        if not by_name:
            by_name = {n: Field(name=n, dtype=Invalid) for n in names}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InvalidDefinition(
                "FeatureView", self.name, f"cannot project unknown feature(s) {unknown}; features: {list(by_name)}"
            )
        out = self._copy()
        out.projection.features = [by_name[n] for n in names]
        return out

    def with_name(self, name: str) -> FeatureView:
        """The same view under another name (to join it twice, e.g. origin and destination)."""
        out = self._copy()
        out.projection.name_alias = check_name("FeatureView alias", name)
        return out

    def with_join_key_map(self, join_key_map: dict[str, str]) -> FeatureView:
        """The same view joined on differently named entity columns: ``{"location_id": "origin_id"}``."""
        if not isinstance(join_key_map, dict):
            raise InvalidDefinition("FeatureView", self.name, "with_join_key_map takes a dict of join key -> column")
        out = self._copy()
        out.projection.join_key_map = dict(join_key_map)
        return out

    def _copy(self) -> FeatureView:
        out = copy.copy(self)
        out.projection = copy.copy(self.projection)
        if self.projection.features is not None:
            out.projection.features = list(self.projection.features)
        out.projection.join_key_map = dict(self.projection.join_key_map)
        return out

    # --- serialization -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description (the definition, not any projection of it)."""
        # `enabled` and `version` are written only when set, so views registered before them keep their hash
        return (
            ({} if self.enabled else {"enabled": False})
            | ({"version": self.version} if self.version else {})
            | {
                "kind": "feature_view",
                "name": self.name,
                "entities": self.entities,
                "schema": [f.to_dict() for f in self.schema],
                "source": self.source.to_dict(),
                "ttl_seconds": ttl_to_seconds(self.ttl),
                "online": self.online,
                "offline": self.offline,
                "description": self.description,
                "tags": self.tags,
                "owner": self.owner,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], entities: dict[str, Entity] | None = None) -> FeatureView:
        """Inverse of :meth:`to_dict`; ``entities`` resolves entity names to objects. A subclass's dict
        (``view_type`` set: stream and batch feature views) is rebuilt as that subclass."""
        subclass = FeatureView._view_types.get(data.get("view_type", ""))
        if subclass is not None and subclass is not cls:
            return subclass.from_dict(data, entities)
        resolved: list[Entity | str] = [(entities or {}).get(n, n) for n in data["entities"]]
        # identical repeated fields: what ladle 0.1.0 stored for a view keyed by two entities with
        # one join key; read them once, so such a registry can still be loaded and repaired by an apply
        schema = [f for i, f in enumerate(data["schema"]) if f not in data["schema"][:i]]
        return cls(
            name=data["name"],
            entities=resolved,
            schema=[Field.from_dict(f) for f in schema],
            source=source_from_dict(data["source"]),
            ttl=ttl_from_seconds(data.get("ttl_seconds")),
            online=data.get("online", True),
            offline=data.get("offline", True),
            enabled=data.get("enabled", True),
            description=data.get("description", ""),
            tags=data.get("tags"),
            owner=data.get("owner", ""),
            version=data.get("version"),
        )

    def __repr__(self) -> str:
        return f"FeatureView(name={self.name!r}, features={[f.name for f in self.features]!r})"

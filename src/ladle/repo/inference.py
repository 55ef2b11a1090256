"""Filling in what a definition leaves out (timestamp column, feature schema) from the source's
columns, and checking that what it declares is really there — at apply/validate time, not at query time."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Mapping

import pyarrow as pa

from ladle.common.type_family import type_family
from ladle.definitions import DataSource, Entity, ExternalSource, FeatureView, Field, PushSource
from ladle.definitions.contents import RepoContents
from ladle.errors import InvalidDefinition, LadleWarning, SourceNotFound, SpecifiedFeaturesNotPresent
from ladle.retrieval.on_demand_check import dry_run_on_demand
from ladle.types import FeastType, ValueType, from_arrow, from_value_type, is_uuid, to_arrow
from ladle.windows.spec import is_windowed
from ladle.windows.validate import check_no_udf, check_windowed_view

__all__ = ["check_feature_view", "fill_given", "infer_contents", "infer_feature_view", "infer_source", "source_holds"]

SchemaOf = Callable[[DataSource], pa.Schema]


def _mapped_schema(source: DataSource, schema: pa.Schema) -> dict[str, pa.DataType]:
    return {source.mapped_name(f.name): f.type for f in schema}


def infer_contents(
    contents: RepoContents,
    schema_of: SchemaOf,
    *,
    skip_source_validation: bool = False,
    missing_data_ok: bool = True,
    registered_entities: Mapping[str, Entity] | None = None,
    registered_views: Iterable[FeatureView] = (),
) -> RepoContents:
    """Copies of ``contents``' definitions, filled in and checked against their sources (see
    :func:`check_feature_view`); on-demand views are dry-run.

    Nothing given is changed: the objects may be the registry cache's, which concurrent readers share, and
    a failed apply must leave them as they were. Views bind to the given entities, else to
    ``registered_entities`` (a partial apply). ``registered_views`` keyed by a given entity are checked
    again against it and returned with the contents (a changed join key must be a column of their source).
    """
    out = copy.deepcopy(contents)
    given_views = {v.name for v in out.feature_views}
    given_entities = {e.name for e in out.entities}
    out.feature_views += [
        copy.deepcopy(v)
        for v in registered_views
        if v.name not in given_views and given_entities.intersection(v.entities)
    ]
    entities = {**(registered_entities or {}), **{e.name: e for e in out.entities}}
    for src in out.data_sources:
        if src.source_type != "request":
            infer_source(src, schema_of)
    for fv in out.feature_views:
        fv.bind_entities(entities)
        check_feature_view(fv, schema_of, skip_source_validation, missing_data_ok)
    for odfv in out.on_demand_feature_views:
        dry_run_on_demand(odfv)
    return out


def fill_given(objects: Iterable[object], inferred: RepoContents) -> None:
    """Copy what :func:`infer_contents` filled in (features, entity columns, timestamp fields...) back into
    the caller's own feature views and data sources, matched by name, as Feast's ``apply`` does. Values are
    deep copies and nested sources are filled in place, so the caller shares no object with the registry and
    ``fv.source`` stays the caller's source object."""
    views = {v.name: v for v in inferred.feature_views}
    sources = {s.name: s for s in inferred.data_sources}
    for obj in objects:
        if isinstance(obj, FeatureView) and obj.name in views:
            _fill(obj, views[obj.name])
        elif isinstance(obj, DataSource) and obj.name in sources:
            _fill(obj, sources[obj.name])


def _fill(mine: object, filled: object) -> None:
    for attr, value in vars(filled).items():
        current = vars(mine).get(attr)
        if isinstance(current, DataSource) and type(current) is type(value):
            _fill(current, value)
        else:
            setattr(mine, attr, copy.deepcopy(value))


def infer_source(source: DataSource, schema_of: SchemaOf) -> None:
    """Fill ``timestamp_field`` when empty: the only timestamp column other than the created one."""
    batch = source.batch
    if batch.timestamp_field:
        return
    if isinstance(batch, ExternalSource):
        raise InvalidDefinition(
            type(batch).__name__,
            batch.name,
            "has no timestamp_field, and ladle cannot read it to infer one",
            "pass timestamp_field='...'",
        )
    schema = schema_of(batch)
    candidates = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.name != batch.created_timestamp_column]
    if len(candidates) != 1:
        found = f"found {candidates}" if candidates else "found none"
        raise InvalidDefinition(
            type(batch).__name__,
            batch.name,
            f"cannot infer the event timestamp column ({found})",
            "pass timestamp_field='...'",
        )
    batch.timestamp_field = candidates[0]
    if isinstance(source, PushSource):
        source.timestamp_field = candidates[0]


def infer_feature_view(view: FeatureView, schema_of: SchemaOf) -> None:
    """Check ``view`` against its source; infer features (and join-key types) left undeclared."""
    check_no_udf(view)
    infer_source(view.source, schema_of)
    src = view.batch_source
    if isinstance(src, ExternalSource) or not src.has_history:
        _check_declared(view, src)
        if is_windowed(view):
            check_windowed_view(view, None)
        return
    columns = _mapped_schema(src, schema_of(src))
    for name in (src.timestamp_field, src.created_timestamp_column):
        if name and name not in columns:
            raise InvalidDefinition(
                "FeatureView",
                view.name,
                f"source '{src.name}' has no column '{name}'; its columns are {sorted(columns)}",
            )
    for key in view.join_keys:
        if key not in columns:
            raise InvalidDefinition(
                "FeatureView",
                view.name,
                f"join key '{key}' is not a column of source '{src.name}'; its columns are {sorted(columns)}",
                "fix the entity's join_keys or add field_mapping={'source_column': '" + key + "'}",
            )
    declared = {f.name for f in view.schema}
    if not view.features:
        skip = {*view.join_keys, src.timestamp_field, src.created_timestamp_column}
        view.schema += [Field(name=c, dtype=from_arrow(t)) for c, t in columns.items() if c not in skip | declared]
    uuid_keys = {
        e.join_keys[0]: from_value_type(e.value_type)
        for e in view.entity_objects
        if len(e.join_keys) == 1 and e.value_type in (ValueType.UUID, ValueType.TIME_UUID)
    }
    for key in view.join_keys:
        if key not in declared:  # an entity of ValueType.UUID keys by canonical UUID text, whatever the column holds
            view.schema.insert(0, Field(name=key, dtype=uuid_keys.get(key) or from_arrow(columns[key])))
    if is_windowed(view):  # its features are aggregates of source columns, not columns
        check_windowed_view(view, columns)
        return
    for f in view.features:
        if f.name not in columns:
            raise SpecifiedFeaturesNotPresent(
                "FeatureView",
                view.name,
                f"feature '{f.name}' is not a column of source '{src.name}'; its columns are {sorted(columns)}",
                "fix the Field name or map it with field_mapping",
            )
        _check_type(view, f, columns[f.name], src.name)
    view.projection.features = None


def _declared_key_types(view: FeatureView) -> dict[str, Field] | None:
    """Fields for the join keys the schema leaves out, from their entities' ``value_type``; ``None`` when the
    view is not fully declared (no timestamp field, no features, or a join key of unknown type)."""
    if not view.batch_source.timestamp_field or not view.features:
        return None
    declared = {f.name for f in view.schema}
    fields: dict[str, Field] = {}
    for entity in view.entity_objects:
        for key in entity.join_keys:
            if key in declared:
                continue
            if entity.value_type is ValueType.UNKNOWN:
                return None
            fields[key] = Field(name=key, dtype=from_value_type(entity.value_type))
    return fields


def check_feature_view(
    view: FeatureView, schema_of: SchemaOf, skip_source_validation: bool = False, missing_data_ok: bool = True
) -> None:
    """:func:`infer_feature_view`, except for a *fully declared* view (timestamp field, features, and the type
    of every join key, in the schema or as the entity's ``value_type``): its source is not read when
    ``skip_source_validation``, and a source whose data does not exist yet (:class:`SourceNotFound`) is a :class:`LadleWarning` rather
    than an error when ``missing_data_ok``."""
    check_no_udf(view)
    keys = _declared_key_types(view)
    if keys is None:
        infer_feature_view(view, schema_of)
        return
    if not skip_source_validation:
        try:
            infer_feature_view(view, schema_of)
            return
        except SourceNotFound as exc:
            if not missing_data_ok:
                raise
            warnings.warn(
                f"feature view '{view.name}': its source has no data yet ({exc}); it is registered from its "
                "declared schema, unchecked",
                LadleWarning,
                stacklevel=2,
            )
    for field in reversed(keys.values()):
        view.schema.insert(0, field)
    if is_windowed(view):
        check_windowed_view(view, None)
    view.projection.features = None


def _check_declared(view: FeatureView, src: DataSource) -> None:
    """A view over a source ladle cannot read (or an online-only push source) must declare its features."""
    if not view.features:
        raise InvalidDefinition(
            "FeatureView",
            view.name,
            f"declares no features, and ladle cannot read {type(src).__name__} '{src.name}' to infer them",
            "list them in schema=[Field(name=..., dtype=...), ...]",
        )
    view.projection.features = None


def _kind(t: pa.DataType) -> str:
    """The type family, with decimals counted as floats and dates as timestamps (what a feature may be read as)."""
    family = type_family(t)
    return {"decimal": "float", "date": "timestamp", "other": str(t)}.get(family, family)


def source_holds(dtype: FeastType, source_type: pa.DataType) -> bool:
    """Whether a source column of ``source_type`` can hold a feature declared ``dtype`` (the rule ``apply``
    checks: the declared type must be reachable from the column's; Int64 from a string is not)."""
    try:
        declared = to_arrow(dtype)
    except TypeError:
        return True
    if isinstance(source_type, pa.ExtensionType):
        source_type = source_type.storage_type
    if is_uuid(dtype) and pa.types.is_fixed_size_binary(source_type) and source_type.byte_width == 16:
        return True  # parquet's UUID type: read as canonical text
    want, have = _kind(declared), _kind(source_type)
    # JSON columns (PostgreSQL json/jsonb) hold Json text, maps, structs and arrays alike
    widening = {
        ("float", "int"),
        ("int", "bool"),
        ("float", "bool"),
        ("string", "json"),
        ("map", "json"),
        ("struct", "json"),
        ("list", "json"),
    }
    return have in ("null", want) or (want, have) in widening


def _check_type(view: FeatureView, f: Field, source_type: pa.DataType, source_name: str) -> None:
    if source_holds(f.dtype, source_type):
        return
    raise InvalidDefinition(
        "FeatureView",
        view.name,
        f"feature '{f.name}' is declared {f.dtype!r}, but column '{f.name}' of source '{source_name}' holds {source_type}",
        "change the Field's dtype to match the data, or convert the data",
    )

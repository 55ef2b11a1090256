"""The apply-time dry run of on-demand views: each function runs once on a one-row sample built from its
declared inputs (source features, request fields, entity columns), through the same code as retrieval.

A function that raises, returns something other than a DataFrame (pandas mode) or a dict (python mode),
leaves out a declared feature, or returns values that cannot be cast to the declared types fails apply
with :class:`~ladle.errors.InvalidDefinition` naming the view. Sample values are plausible and non-null
(``1``, ``1.0``, ``"a"``, now, a one-element list, ...), so arithmetic, string methods and ``log`` work.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ladle.definitions import Field, OnDemandFeatureView
from ladle.errors import InvalidDefinition, InvalidRequest
from ladle.offline.base import ViewRequest
from ladle.offline.columns import cast_to_declared
from ladle.retrieval.feature_refs import OnDemandRequest, ResolvedFeatures
from ladle.retrieval.on_demand_exec import on_demand_inputs, run_on_demand
from ladle.types import Array, FeastType, Int64, Set, Struct, ValueType, from_value_type, to_arrow

__all__ = ["dry_run_on_demand", "sample_value"]

_SCALARS: dict[str, Any] = {
    "Bytes": b"a",
    "String": "a",
    "Bool": True,
    "Int32": 1,
    "Int64": 1,
    "Float32": 1.0,
    "Float64": 1.0,
    "Map": [("k", "v")],
    "Json": "{}",
}


def sample_value(dtype: FeastType) -> Any:
    """A plausible non-null value of ``dtype``.

    >>> from ladle.types import Array, Int64
    >>> sample_value(Array(Int64))
    [1]
    """
    if isinstance(dtype, Array | Set):
        return [sample_value(dtype.base_type)]
    if isinstance(dtype, Struct):
        return {k: sample_value(v) for k, v in dtype.fields.items()}
    if dtype.name == "UnixTimestamp":
        return datetime.now(UTC).replace(microsecond=0)
    if dtype.name in ("Uuid", "TimeUuid"):
        return "6fa459ea-ee8a-11e1-8000-0242ac120002"  # a version-1 UUID, valid for both
    if dtype.name == "Decimal":
        return decimal.Decimal("1.5")
    return _SCALARS.get(dtype.name)


def _sample(field: Field) -> pa.Array:
    try:
        return pa.array([sample_value(field.dtype)], to_arrow(field.dtype))
    except TypeError:  # a type without storage (Invalid): the function gets a null
        return pa.nulls(1)


def _fail(view: OnDemandFeatureView, problem: str) -> InvalidDefinition:
    return InvalidDefinition(
        "OnDemandFeatureView",
        view.name,
        f"dry run on a one-row sample of its inputs: {problem}",
        "fix the function so it returns every field of its schema, one value per input row",
    )


def dry_run_on_demand(view: OnDemandFeatureView) -> None:
    """Run ``view``'s function once on a one-row sample; raise :class:`InvalidDefinition` when it fails."""
    requests = [
        ViewRequest(
            src, src.projection.name_alias or src.name, list(src.projected_features), dict(src.projection.join_key_map)
        )
        for src in view.source_views
    ]
    request = OnDemandRequest(view, list(view.schema), view.name)
    resolved = ResolvedFeatures(requests, [request], [], False)
    columns: dict[str, pa.Array] = {}
    for req in requests:
        for f in req.features:
            columns[f"{req.name}__{f.name}"] = _sample(f)
        types = {f.name: f for f in req.view.entity_columns}
        for key, column in zip(req.view.join_keys, req.entity_columns, strict=True):
            columns.setdefault(column, _sample(types.get(key, Field(name=key, dtype=_key_type(req, key)))))
    for f in request.request_fields:
        columns[f.name] = _sample(f)
    try:
        produced = run_on_demand(request, on_demand_inputs(resolved, request, columns))
    except InvalidRequest as exc:
        raise _fail(view, str(exc).replace(f"on-demand view '{view.name}' ", "")) from exc
    missing = [f.name for f in view.schema if f.name not in produced]
    if missing:
        raise _fail(
            view,
            f"it does not return declared feature(s) {', '.join(repr(m) for m in missing)} "
            f"(it returns: {', '.join(map(str, produced)) or 'nothing'})",
        )
    for f in view.schema:
        values = produced[f.name]
        try:
            arr = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
            if len(arr) != 1:
                raise _fail(view, f"it returned {len(arr)} values for '{f.name}', expected 1 (one per row)")
            cast_to_declared(arr, to_arrow(f.dtype), f"{view.name}:{f.name}")
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, InvalidRequest) as exc:
            raise _fail(view, f"feature '{f.name}' (declared {f.dtype!r}) got {values!r}: {exc}") from exc


def _key_type(req: ViewRequest, key: str) -> FeastType:
    """A join key's type when the view's schema does not list it: its entity's value_type, else Int64."""
    for entity in req.view.entity_objects:
        if key in entity.join_keys and entity.value_type is not ValueType.UNKNOWN:
            return from_value_type(entity.value_type)
    return Int64

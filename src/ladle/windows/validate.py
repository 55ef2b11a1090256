"""Apply-time checks of a view's aggregations against its source's columns, and the output types they fill in.

Each error names the view and the aggregation: an unknown function or missing window (checked when the
view is built), a column the source lacks, a column a numeric function cannot aggregate, an output type
that cannot hold the result (``Int64`` for a mean, ``String`` for a count...).
"""

from __future__ import annotations

import pyarrow as pa

from ladle.definitions.aggregation import parse_function
from ladle.definitions.field import Field
from ladle.definitions.stream_feature_view import WindowedFeatureView, aggregation_output_dtype
from ladle.errors import InvalidDefinition
from ladle.types import Array, FeastType, Invalid, PrimitiveFeastType, Set, from_arrow, to_arrow
from ladle.windows.functions import FUNCTIONS

__all__ = ["check_no_udf", "check_windowed_view"]

_INTEGER = ("Int32", "Int64", "Bool")
_FLOAT = ("Float32", "Float64", "Decimal")


def _kind(dtype: FeastType) -> str:
    if isinstance(dtype, Array | Set):
        return "list"
    if not isinstance(dtype, PrimitiveFeastType):
        return "struct"
    if dtype.name in _INTEGER:
        return "int"
    if dtype.name in _FLOAT:
        return "float"
    return dtype.name.lower()


def _holds(function: str, declared: FeastType, input_dtype: FeastType) -> bool:
    """Whether a feature of type ``declared`` can hold ``function`` over a column of ``input_dtype``."""
    want, have = _kind(declared), _kind(input_dtype)
    if function in ("count", "count_distinct"):
        return want in ("int", "float")
    if function in ("mean", "std", "var"):
        return want == "float"
    if function == "sum":
        return want == "float" or (want == "int" and have == "int")
    if function in ("first_k", "last_k"):
        inner = declared.base_type if isinstance(declared, Array) else None
        return inner is not None and _holds("first", inner, input_dtype)
    return want == have or (want == "float" and have == "int") or have == "invalid"


def check_no_udf(view: object) -> None:
    """A stream/batch view's ``udf`` is refused at apply: ladle would have to run it identically on every path
    (training sets, materialize, push, the stream worker), and it does not, so it would skew training and serving."""
    if isinstance(view, WindowedFeatureView) and view.udf is not None:
        raise InvalidDefinition(
            view.kind_label,
            view.name,
            f"has a udf ({getattr(view.udf, '__name__', 'a function')}); ladle does not run feature view udfs, "
            "since a transformation applied only while streaming would make training and serving differ",
            "compute the column in the batch source (or an on-demand view over this one) and drop the udf",
        )


def check_windowed_view(view: WindowedFeatureView, columns: dict[str, pa.DataType] | None) -> None:
    """Check ``view``'s aggregations against the source ``columns`` (name -> Arrow type, after field_mapping;
    None when the source cannot be read) and fill in the output types left undeclared."""
    label = view.kind_label
    src = view.batch_source
    if view.timestamp_field and src.timestamp_field and view.timestamp_field != src.timestamp_field:
        raise InvalidDefinition(
            label,
            view.name,
            f"timestamp_field '{view.timestamp_field}' differs from the event time of source '{src.name}' "
            f"('{src.timestamp_field}'); windows are measured on the source's event time, offline and online",
            "drop timestamp_field=, or set the source's timestamp_field to that column",
        )
    outputs = {name: agg for agg, name, _ in view.aggregation_outputs()}
    fields = []
    for field in view.schema:
        agg = outputs.get(field.name)
        if agg is None:
            fields.append(field)
            continue
        function = parse_function(agg.function)[0]
        where = f"aggregation {agg.label}"
        input_dtype = view.input_dtype(agg.column)
        if columns is not None:
            if agg.column not in columns:
                raise InvalidDefinition(
                    label,
                    view.name,
                    f"{where}: column '{agg.column}' is not a column of source '{src.name}'; "
                    f"its columns are {sorted(columns)}",
                    "fix the Aggregation's column, or map it with field_mapping",
                )
            input_dtype = from_arrow(columns[agg.column])
        input_dtype = input_dtype if input_dtype is not None else Invalid
        if FUNCTIONS[function].numeric and _kind(input_dtype) not in ("int", "float", "invalid"):
            raise InvalidDefinition(
                label,
                view.name,
                f"{where}: {function} needs a numeric column, and '{agg.column}' holds {input_dtype!r}",
            )
        dtype = field.dtype
        if dtype is Invalid:
            dtype = aggregation_output_dtype(function, input_dtype)
        elif not _holds(function, dtype, input_dtype):
            suggested = aggregation_output_dtype(function, input_dtype)
            raise InvalidDefinition(
                label,
                view.name,
                f"{where}: feature '{field.name}' is declared {dtype!r}, which cannot hold a {function} "
                f"of '{agg.column}' ({input_dtype!r})",
                f"declare it {suggested!r}" if suggested is not Invalid else "change the Field's dtype",
            )
        if dtype is not Invalid:
            to_arrow(dtype)  # a type with no storage fails here, naming itself
        fields.append(Field(name=field.name, dtype=dtype, description=field.description, tags=field.tags))
    view.schema = fields
    view.projection.features = None

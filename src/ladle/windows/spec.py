"""``WindowSpec``: one aggregate a view serves, resolved — the one place a view's aggregations become output
names and Arrow types (every backend, offline and online, reads its specs from :func:`window_specs`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeGuard

import pyarrow as pa

from ladle.definitions.aggregation import parse_function
from ladle.definitions.feature_view import FeatureView
from ladle.definitions.stream_feature_view import WindowedFeatureView, aggregation_output_dtype
from ladle.errors import InvalidDefinition
from ladle.types import Invalid, from_arrow, to_arrow

__all__ = ["WindowSpec", "is_windowed", "longest_window", "window_specs"]


@dataclass(frozen=True)
class WindowSpec:
    """One windowed aggregate: ``function`` (canonical, e.g. ``"mean"``, ``"last_k"``) of source ``column``
    over the events with ``t - window < ts <= t``, served as feature ``name`` of Arrow type ``dtype``.

    ``param`` is the size of ``last_k``/``first_k`` (else None); ``slide`` is the aggregation's
    ``slide_interval`` (a storage hint: values are exact windows whatever it is).
    """

    name: str
    column: str
    function: str
    param: int | None
    window: timedelta
    slide: timedelta | None
    dtype: pa.DataType

    @property
    def window_us(self) -> int:
        """The window length in whole microseconds (the unit every backend compares event times in)."""
        return _micros(self.window)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def is_windowed(view: object) -> TypeGuard[WindowedFeatureView]:
    """Whether ``view`` serves windowed aggregates (a stream/batch feature view with aggregations)."""
    return isinstance(view, WindowedFeatureView) and bool(view.aggregations)


def window_specs(view: FeatureView, column_types: dict[str, pa.DataType] | None = None) -> list[WindowSpec]:
    """The specs of ``view``'s aggregations, in order (empty for a view without aggregations).

    Output types come from the view's schema (declared, or filled in at apply from the source); a type still
    unknown is derived from ``column_types`` (source column -> Arrow type) when given, else an error naming
    the view and the aggregation.
    """
    if not isinstance(view, WindowedFeatureView) or not view.aggregations:
        return []
    schema = {f.name: f for f in view.schema}
    specs = []
    for agg, name, _ in view.aggregation_outputs():
        function, param = parse_function(agg.function)
        field = schema.get(name)
        dtype = field.dtype if field is not None else Invalid
        if dtype is Invalid and column_types is not None and agg.column in column_types:
            dtype = aggregation_output_dtype(function, from_arrow(column_types[agg.column]))
        if dtype is Invalid:
            raise InvalidDefinition(
                view.kind_label,
                view.name,
                f"aggregation {agg.label}: the type of feature '{name}' is not known",
                f"declare Field(name='{name}', dtype=...) in the schema, or apply the view so ladle reads the source",
            )
        assert agg.time_window is not None  # checked when the view was built
        specs.append(
            WindowSpec(name, agg.column, function, param, agg.time_window, agg.slide_interval, to_arrow(dtype))
        )
    return specs


def longest_window(view: FeatureView) -> timedelta | None:
    """The longest window of ``view``'s aggregations (None without any): state older than it is useless."""
    windows = [a.time_window for a in getattr(view, "aggregations", None) or [] if a.time_window is not None]
    return max(windows) if windows else None

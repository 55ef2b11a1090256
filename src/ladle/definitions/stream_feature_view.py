"""``StreamFeatureView`` and ``BatchFeatureView``: feature views whose features may be windowed aggregates.

Both are :class:`FeatureView` subclasses stored in the registry's ``feature_views`` kind (with a
``view_type`` of ``"stream"`` or ``"batch"``), so everything that lists, materializes or serves feature
views handles them. With ``aggregations`` the view's features are the aggregates (one per aggregation,
named as :meth:`WindowedFeatureView.aggregation_outputs` says); without, it is a plain feature view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from ladle.definitions.aggregation import Aggregation, parse_function
from ladle.definitions.base import check_column
from ladle.definitions.entity import Entity
from ladle.definitions.feature_view import FeatureView
from ladle.definitions.field import Field
from ladle.definitions.on_demand import _StoredUdf, _udf_environment, _udf_source
from ladle.definitions.sources import DataSource, PushSource, source_from_dict
from ladle.errors import InvalidDefinition
from ladle.types import Array, FeastType, Float64, Int64, Invalid, PrimitiveFeastType

__all__ = [
    "BatchFeatureView",
    "StreamFeatureView",
    "WindowedFeatureView",
    "aggregation_output_dtype",
    "batch_feature_view",
    "stream_feature_view",
]

_MODES = ("spark", "pandas", "python")
_SAME_AS_INPUT = ("min", "max", "first", "last")


def aggregation_output_dtype(function: str, input_dtype: FeastType | None) -> FeastType:
    """The type of an aggregate of canonical ``function`` over a column of ``input_dtype`` (``Invalid``
    while the column's type is unknown): count/count_distinct Int64; mean/std/var Float64; sum Int64
    over integers and bools, else Float64; min/max/first/last the column's type; last_k/first_k an Array of it."""
    if function in ("count", "count_distinct"):
        return Int64
    if function in ("mean", "std", "var"):
        return Float64
    if input_dtype is None or input_dtype is Invalid:
        return Invalid
    if function == "sum":
        name = input_dtype.name if isinstance(input_dtype, PrimitiveFeastType) else ""
        return Int64 if name in ("Int32", "Int64", "Bool") else Float64
    if function in _SAME_AS_INPUT:
        return input_dtype
    if isinstance(input_dtype, PrimitiveFeastType) and input_dtype.name not in ("Invalid", "Map", "Json"):
        return Array(input_dtype)
    return Invalid


class WindowedFeatureView(FeatureView):
    """What stream and batch feature views share: aggregations, the event-time column, an optional udf."""

    view_type: ClassVar[str] = ""
    kind_label: ClassVar[str] = "FeatureView"

    #: the ``mode`` when none is given (Feast's defaults: "spark" for stream views, "pandas" for batch ones)
    default_mode: ClassVar[str] = "pandas"

    def __init__(
        self,
        *,
        name: str,
        source: DataSource,
        entities: list[Entity | str] | None = None,
        ttl: timedelta | None = timedelta(0),
        tags: dict[str, str] | None = None,
        online: bool = True,
        offline: bool = True,
        description: str = "",
        owner: str = "",
        schema: list[Field] | None = None,
        aggregations: list[Aggregation] | None = None,
        mode: str | None = None,
        timestamp_field: str | None = "",
        udf: Callable[..., Any] | None = None,
        udf_string: str = "",
        **_feast_only: Any,
    ) -> None:
        # Feast's feature_transformation / enable_tiling / tiling_hop_size are accepted and unused:
        # ladle's windows are exact whatever the tiling, and udf= is the transformation.
        super().__init__(
            name=name,
            source=source,
            schema=schema,
            entities=entities,
            ttl=ttl,
            online=online,
            offline=offline,
            description=description,
            tags=tags,
            owner=owner,
        )
        self._init_windowed(aggregations, timestamp_field, self.default_mode if mode is None else mode, udf, udf_string)

    def _init_windowed(
        self,
        aggregations: list[Aggregation] | None,
        timestamp_field: str | None,
        mode: str,
        udf: Callable[..., Any] | None,
        udf_string: str,
    ) -> None:
        label = self.kind_label
        aggs = list(aggregations or [])
        for agg in aggs:
            if not isinstance(agg, Aggregation):
                raise InvalidDefinition(label, self.name, f"aggregations must be Aggregation objects, got {agg!r}")
        if mode not in _MODES:
            raise InvalidDefinition(label, self.name, f"mode must be one of {list(_MODES)}, got {mode!r}")
        if udf is not None and not callable(udf):
            raise InvalidDefinition(label, self.name, f"udf must be a function, got {udf!r}")
        self.aggregations: list[Aggregation] = aggs
        self.timestamp_field = (
            check_column(label, self.name, timestamp_field, "timestamp_field") if timestamp_field else ""
        )
        self.mode = mode
        self.udf = udf
        self.udf_string = udf_string or ""
        self._declared_schema = list(self.schema)
        if self.aggregations:
            self.check_aggregations()
            self.schema = self._normalized_schema()

    # --- aggregations ------------------------------------------------------------------------------
    @property
    def event_timestamp_field(self) -> str:
        """The column windows are measured on: ``timestamp_field`` when given, else the source's."""
        return self.timestamp_field or self.batch_source.timestamp_field

    def check_aggregations(self) -> None:
        """Raise naming the view and the aggregation for an unknown function, a missing/zero window, a window
        longer than the ttl (a non-zero ttl bounds the windows), a slide longer than the window, or a clash."""
        label = self.kind_label
        for agg in self.aggregations:
            where = f"aggregation {agg.label}"
            try:
                parse_function(agg.function)
            except ValueError as exc:
                raise InvalidDefinition(label, self.name, f"{where}: {exc}") from None
            window = agg.time_window
            if window is None or window <= timedelta(0):
                raise InvalidDefinition(
                    label, self.name, f"{where} has no time_window", "pass time_window=timedelta(hours=1) (> 0)"
                )
            if self.ttl and window > self.ttl:
                raise InvalidDefinition(
                    label,
                    self.name,
                    f"{where} has a {window} window, longer than the view's ttl {self.ttl}",
                    "shorten the window, raise the ttl, or set ttl=timedelta(0) (no limit)",
                )
            slide = agg.slide_interval
            if slide is not None and not timedelta(0) < slide <= window:
                raise InvalidDefinition(
                    label, self.name, f"{where} has slide_interval {slide}; it must be > 0 and at most the window"
                )
        names = [name for _, name, _ in self.aggregation_outputs()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidDefinition(
                label, self.name, f"two aggregations produce the feature(s) {dupes}", "give one of them name='...'"
            )

    def aggregation_outputs(self, schema: list[Field] | None = None) -> list[tuple[Aggregation, str, Field | None]]:
        """``(aggregation, output feature name, declared schema field or None)`` for each aggregation, in order.

        The name is the aggregation's ``name``, else Feast's default (``sum_amount_3600s``); but when the
        schema declares exactly one feature per aggregation and none of them carries such a name, the i-th
        declared feature names the i-th aggregation (the tutorials write schemas that way).
        """
        keys = set(self.join_keys) | set(self.entities)
        declared = [f for f in (self.schema if schema is None else schema) if f.name not in keys]
        by_name = {f.name: f for f in declared}
        own = [agg.name or agg.default_name for agg in self.aggregations]
        if len(declared) == len(self.aggregations) and not any(n in by_name for n in own):
            return [(agg, f.name, f) for agg, f in zip(self.aggregations, declared, strict=True)]
        return [(agg, n, by_name.get(n)) for agg, n in zip(self.aggregations, own, strict=True)]

    def input_dtype(self, column: str) -> FeastType | None:
        """The declared type of a source column, when a push or stream source's schema lists it."""
        for f in getattr(self.source, "schema", None) or []:
            if isinstance(f, Field) and f.name == column:
                return f.dtype
        return None

    def _normalized_schema(self) -> list[Field]:
        """Declared join-key fields, then one field per aggregation output (its declared type, else the rule's)."""
        keys = set(self.join_keys) | set(self.entities)
        fields = [f for f in self._declared_schema if f.name in keys]
        for agg, name, declared in self.aggregation_outputs(self._declared_schema):
            dtype = declared.dtype if declared is not None else None
            if dtype is None or dtype is Invalid:
                dtype = aggregation_output_dtype(parse_function(agg.function)[0], self.input_dtype(agg.column))
            fields.append(Field(name=name, dtype=dtype, description=declared.description if declared else ""))
        return fields

    def bind_entities(self, entities: dict[str, Entity]) -> None:
        """Resolve entities; re-derive the outputs when the declared schema lists a join key only now known."""
        super().bind_entities(entities)
        if self.aggregations and any(f.name in self.join_keys for f in self._declared_schema):
            self.schema = self._normalized_schema()

    # --- serialization -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready description: the feature view's, plus the aggregations and their settings."""
        out = super().to_dict() | {
            "view_type": self.view_type,
            "aggregations": [a.to_dict() for a in self.aggregations],
            "timestamp_field": self.timestamp_field,
            "mode": self.mode,
        }
        if self.udf is not None:
            out["udf"] = {
                "name": getattr(self.udf, "__name__", ""),
                "source": _udf_source(self.udf) if not isinstance(self.udf, _StoredUdf) else self.udf._source,
                "env": _udf_environment(self.udf) if not isinstance(self.udf, _StoredUdf) else self.udf._env,
            }
        return out

    @classmethod
    def _windowed_args(cls, data: dict[str, Any], entities: dict[str, Entity] | None) -> dict[str, Any]:
        resolved: list[Entity | str] = [(entities or {}).get(n, n) for n in data["entities"]]
        udf = data.get("udf")
        return {
            "name": data["name"],
            "entities": resolved,
            "schema": [Field.from_dict(f) for f in data["schema"]],
            "source": source_from_dict(data["source"]),
            "ttl": None if data.get("ttl_seconds") is None else timedelta(seconds=data["ttl_seconds"]),
            "online": data.get("online", True),
            "offline": data.get("offline", True),
            "description": data.get("description", ""),
            "tags": data.get("tags"),
            "owner": data.get("owner", ""),
            "aggregations": [Aggregation.from_dict(a) for a in data.get("aggregations", [])],
            "timestamp_field": data.get("timestamp_field") or None,
            "mode": data.get("mode", "spark"),
            "udf": None if udf is None else _StoredUdf(udf["name"], udf["source"], udf.get("env", {})),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, features={[f.name for f in self.features]!r})"


class StreamFeatureView(WindowedFeatureView):
    """A feature view fed by a stream (``PushSource``, ``RedisStreamSource``, ``KafkaSource``...), whose
    features are usually windowed aggregates of the events (Feast's ``StreamFeatureView``).

    >>> from ladle.types import Float32, Int64
    >>> from ladle.definitions.sources import FileSource
    >>> user = Entity(name="user", join_keys=["user_id"])
    >>> batch = FileSource(name="tx", path="data/tx.parquet", timestamp_field="event_timestamp")
    >>> sfv = StreamFeatureView(
    ...     name="tx_1h", entities=[user], ttl=timedelta(hours=1),
    ...     schema=[Field(name="tx_count_1h", dtype=Int64), Field(name="tx_sum_1h", dtype=Float32)],
    ...     source=PushSource(name="tx_push", batch_source=batch),
    ...     aggregations=[Aggregation(column="amount", function="count", time_window=timedelta(hours=1)),
    ...                   Aggregation(column="amount", function="sum", time_window=timedelta(hours=1))])
    >>> [(name, agg.function) for agg, name, _ in sfv.aggregation_outputs()]
    [('tx_count_1h', 'count'), ('tx_sum_1h', 'sum')]
    """

    view_type = "stream"
    kind_label = "StreamFeatureView"
    default_mode = "spark"

    @classmethod
    def from_dict(cls, data: dict[str, Any], entities: dict[str, Entity] | None = None) -> StreamFeatureView:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._windowed_args(data, entities))

    @property
    def stream_source(self) -> PushSource | None:
        """The push source feeding the view, when it is one (other stream sources: see ``source``)."""
        return self.source if isinstance(self.source, PushSource) else None


class BatchFeatureView(WindowedFeatureView):
    """A feature view over a batch source, optionally with windowed ``aggregations`` (Feast's
    ``BatchFeatureView``); without aggregations it behaves exactly as a :class:`FeatureView`."""

    view_type = "batch"
    kind_label = "BatchFeatureView"

    @classmethod
    def from_dict(cls, data: dict[str, Any], entities: dict[str, Entity] | None = None) -> BatchFeatureView:
        """Inverse of :meth:`to_dict`."""
        return cls(**cls._windowed_args(data, entities))


def _decorator(cls: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[[Callable[..., Any]], Any]:
    def wrap(fn: Callable[..., Any]) -> Any:
        args = dict(kwargs)
        name = args.pop("name", None) or fn.__name__
        return cls(name=name, udf=fn, **args)

    return wrap


def stream_feature_view(**kwargs: Any) -> Callable[[Callable[..., Any]], StreamFeatureView]:
    """Decorator turning a function (the udf) into a :class:`StreamFeatureView` named after it; takes the
    constructor's keywords (``entities=``, ``ttl=``, ``source=``, ``aggregations=``, ``mode=``...)."""
    return _decorator(StreamFeatureView, kwargs)


def batch_feature_view(**kwargs: Any) -> Callable[[Callable[..., Any]], BatchFeatureView]:
    """Decorator turning a function (the udf) into a :class:`BatchFeatureView` named after it."""
    return _decorator(BatchFeatureView, kwargs)

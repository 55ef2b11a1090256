"""Feature value types (Feast-compatible names) and their Arrow equivalents.

``Int64``, ``Float32``, ``Array(String)``, ``Set(Int64)``, ``Struct({"a": Int64})`` ... are the types
written in a ``Field``; ``ValueType`` is the older enum still used by ``Entity(value_type=...)``. Every
type maps to exactly one Arrow type, which is what every store reads and writes:

* ``Uuid`` and ``TimeUuid`` are text in canonical form (``"0f8fad5b-d9cb-469f-a165-70867728950e"``:
  lowercase, hyphenated); ``TimeUuid`` values must be version-1 UUIDs.
* ``Decimal`` is ``decimal128(38, 18)``: exact, up to 20 digits before the point and 18 after; values
  come back as ``decimal.Decimal``.
* ``Set(T)`` is ``list<T>`` holding each value once, in ascending order (nulls last): a set written in
  any order with any repetitions is stored and served as that one list.
* ``Array`` nests: ``Array(Array(Int64))`` is ``list<list<int64>>``, ``Array(Set(String))`` a list of sets.

>>> from ladle.types import Array, Int64, to_arrow
>>> str(to_arrow(Array(Int64)))
'list<item: int64>'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ladle.errors import InvalidType

__all__ = [
    "Array",
    "Bool",
    "Bytes",
    "ComplexFeastType",
    "Decimal",
    "FeastType",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "Invalid",
    "Json",
    "Map",
    "PrimitiveFeastType",
    "Set",
    "String",
    "Struct",
    "TimeUuid",
    "UnixTimestamp",
    "Uuid",
    "ValueType",
    "dtype_from_dict",
    "dtype_to_dict",
    "from_arrow",
    "from_value_type",
    "is_uuid",
    "to_arrow",
]


class ValueType(enum.Enum):
    """The legacy value-type enum (same names and numbers as Feast's ``Value.proto``)."""

    UNKNOWN = 0
    BYTES = 1
    STRING = 2
    INT32 = 3
    INT64 = 4
    DOUBLE = 5
    FLOAT = 6
    BOOL = 7
    UNIX_TIMESTAMP = 8
    BYTES_LIST = 11
    STRING_LIST = 12
    INT32_LIST = 13
    INT64_LIST = 14
    DOUBLE_LIST = 15
    FLOAT_LIST = 16
    BOOL_LIST = 17
    UNIX_TIMESTAMP_LIST = 18
    NULL = 19
    MAP = 20
    BYTES_SET = 22
    STRING_SET = 23
    INT32_SET = 24
    INT64_SET = 25
    DOUBLE_SET = 26
    FLOAT_SET = 27
    BOOL_SET = 28
    UNIX_TIMESTAMP_SET = 29
    JSON = 32
    STRUCT = 34
    UUID = 36
    TIME_UUID = 37
    UUID_LIST = 38
    TIME_UUID_LIST = 39
    UUID_SET = 40
    TIME_UUID_SET = 41
    #: a list of lists or sets (``Array(Array(T))``); the element type is not part of the value type
    VALUE_LIST = 42
    DECIMAL = 44
    DECIMAL_LIST = 45
    DECIMAL_SET = 46


@dataclass(frozen=True)
class PrimitiveFeastType:
    """A scalar type such as ``Int64`` or ``String``."""

    name: str

    def __repr__(self) -> str:
        return self.name

    # Each primitive is one object that code compares with ``is`` (``dtype is Invalid``); copies of definitions
    # (inference works on deep copies) must keep them identical.
    def __copy__(self) -> PrimitiveFeastType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PrimitiveFeastType:
        return self

    def to_value_type(self) -> ValueType:
        """The legacy ``ValueType`` for this type."""
        return _PRIMITIVE_TO_VALUE_TYPE[self.name]


def _element(kind: str, base_type: Any, nested: bool) -> None:
    """Refuse an element type ``kind(base_type)`` cannot hold, naming the ones it can."""
    if isinstance(base_type, PrimitiveFeastType) and base_type.name not in _NO_ARRAY:
        return
    if nested and isinstance(base_type, Array | Set):
        return
    allowed = "a scalar type other than Map, Json or Invalid" + (", an Array or a Set" if nested else "")
    raise InvalidType(f"{kind}({base_type!r}) is not supported: the elements of a {kind} must be {allowed}")


@dataclass(frozen=True)
class Array:
    """A list: ``Array(Float32)``, or nested, ``Array(Array(Int64))`` and ``Array(Set(String))``."""

    base_type: PrimitiveFeastType | Array | Set

    def __post_init__(self) -> None:
        _element("Array", self.base_type, nested=True)

    def __repr__(self) -> str:
        return f"Array({self.base_type!r})"

    def to_value_type(self) -> ValueType:
        """The legacy ``ValueType`` for this type (``VALUE_LIST`` for a list of lists)."""
        if not isinstance(self.base_type, PrimitiveFeastType):
            return ValueType.VALUE_LIST
        return ValueType[self.base_type.to_value_type().name + "_LIST"]


@dataclass(frozen=True)
class Set:
    """Distinct values of a scalar type: ``Set(String)``, stored as a sorted list without repetitions."""

    base_type: PrimitiveFeastType

    def __post_init__(self) -> None:
        _element("Set", self.base_type, nested=False)

    def __repr__(self) -> str:
        return f"Set({self.base_type!r})"

    def to_value_type(self) -> ValueType:
        """The legacy ``ValueType`` for this type."""
        return ValueType[self.base_type.to_value_type().name + "_SET"]


@dataclass(frozen=True)
class Struct:
    """A record with named, typed fields: ``Struct({"lat": Float64, "lon": Float64})``."""

    fields: dict[str, FeastType]

    def __post_init__(self) -> None:
        if not self.fields:
            raise InvalidType("Struct needs at least one field", "e.g. Struct({'lat': Float64, 'lon': Float64})")

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.fields.items())
        return f"Struct({{{inner}}})"

    def to_value_type(self) -> ValueType:
        """The legacy ``ValueType`` for this type."""
        return ValueType.STRUCT


ComplexFeastType = Array | Set | Struct
FeastType = PrimitiveFeastType | Array | Set | Struct

Invalid = PrimitiveFeastType("Invalid")
Bytes = PrimitiveFeastType("Bytes")
String = PrimitiveFeastType("String")
Bool = PrimitiveFeastType("Bool")
Int32 = PrimitiveFeastType("Int32")
Int64 = PrimitiveFeastType("Int64")
Float32 = PrimitiveFeastType("Float32")
Float64 = PrimitiveFeastType("Float64")
UnixTimestamp = PrimitiveFeastType("UnixTimestamp")
#: string keys to string values
Map = PrimitiveFeastType("Map")
#: any JSON document, stored as its text
Json = PrimitiveFeastType("Json")
#: a UUID of any version, as canonical text
Uuid = PrimitiveFeastType("Uuid")
#: a version-1 (time-based) UUID, as canonical text
TimeUuid = PrimitiveFeastType("TimeUuid")

#: an exact decimal number: decimal128(38, 18)
Decimal = PrimitiveFeastType("Decimal")


def is_uuid(dtype: object) -> bool:
    """Whether ``dtype`` is ``Uuid`` or ``TimeUuid`` (kept and compared as canonical text)."""
    return dtype in (Uuid, TimeUuid)


_PRIMITIVES = {
    t.name: t
    for t in (
        Invalid,
        Bytes,
        String,
        Bool,
        Int32,
        Int64,
        Float32,
        Float64,
        UnixTimestamp,
        Map,
        Json,
        Uuid,
        TimeUuid,
        Decimal,
    )
}
_NO_ARRAY = {"Invalid", "Map", "Json"}
_PRIMITIVE_TO_VALUE_TYPE = {
    "Invalid": ValueType.UNKNOWN,
    "Bytes": ValueType.BYTES,
    "String": ValueType.STRING,
    "Bool": ValueType.BOOL,
    "Int32": ValueType.INT32,
    "Int64": ValueType.INT64,
    "Float32": ValueType.FLOAT,
    "Float64": ValueType.DOUBLE,
    "UnixTimestamp": ValueType.UNIX_TIMESTAMP,
    "Map": ValueType.MAP,
    "Json": ValueType.JSON,
    "Uuid": ValueType.UUID,
    "TimeUuid": ValueType.TIME_UUID,
    "Decimal": ValueType.DECIMAL,
}
_VALUE_TYPE_TO_PRIMITIVE = {v: _PRIMITIVES[k] for k, v in _PRIMITIVE_TO_VALUE_TYPE.items()}

_ARROW = {
    "Bytes": pa.binary(),
    "String": pa.string(),
    "Bool": pa.bool_(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "UnixTimestamp": pa.timestamp("us", tz="UTC"),
    "Map": pa.map_(pa.string(), pa.string()),
    "Json": pa.string(),
    "Uuid": pa.string(),
    "TimeUuid": pa.string(),
    "Decimal": pa.decimal128(38, 18),
}
#: the Arrow type of ``Decimal``
DECIMAL_ARROW = _ARROW["Decimal"]


def to_arrow(dtype: FeastType) -> pa.DataType:
    """The Arrow type a value of ``dtype`` is stored as."""
    if isinstance(dtype, Array | Set):
        return pa.list_(to_arrow(dtype.base_type))
    if isinstance(dtype, Struct):
        return pa.struct([pa.field(k, to_arrow(v)) for k, v in dtype.fields.items()])
    if dtype.name not in _ARROW:
        raise InvalidType(f"type {dtype!r} has no storage type; declare the field with a concrete type")
    return _ARROW[dtype.name]


def from_arrow(arrow_type: pa.DataType) -> FeastType:
    """The closest ladle type for an Arrow type (used to infer schemas from data)."""
    if isinstance(arrow_type, pa.JsonType):
        return Json
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return UnixTimestamp
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = from_arrow(arrow_type.value_type)
        if isinstance(inner, Array) or (isinstance(inner, PrimitiveFeastType) and inner.name not in _NO_ARRAY):
            return Array(inner)
        return Invalid
    if pa.types.is_struct(arrow_type):
        return Struct({f.name: from_arrow(f.type) for f in arrow_type})
    if pa.types.is_map(arrow_type):
        return Map
    checks = [
        (pa.types.is_boolean, Bool),
        (lambda t: pa.types.is_integer(t) and t.bit_width <= 32 and t != pa.uint32(), Int32),
        (pa.types.is_integer, Int64),
        (lambda t: pa.types.is_float32(t) or pa.types.is_float16(t), Float32),
        (pa.types.is_floating, Float64),
        (pa.types.is_decimal, Float64),  # as Feast infers it; declare Decimal to keep the values exact
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t), String),
        (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), Bytes),
    ]
    for check, result in checks:
        if check(arrow_type):
            return result
    return Invalid


def from_value_type(value_type: ValueType) -> FeastType:
    """The type matching a legacy ``ValueType`` (``ValueType.INT64`` -> ``Int64``, ``STRING_SET`` -> ``Set(String)``).

    ``VALUE_LIST`` does not say what its lists hold, so it gives ``Invalid``: declare the Field's dtype.
    """
    for suffix, kind in (("_LIST", Array), ("_SET", Set)):
        base_name = value_type.name.removesuffix(suffix)
        if base_name != value_type.name and base_name in ValueType.__members__:
            return kind(_VALUE_TYPE_TO_PRIMITIVE[ValueType[base_name]])
    if value_type in _VALUE_TYPE_TO_PRIMITIVE:
        return _VALUE_TYPE_TO_PRIMITIVE[value_type]
    return Invalid


def dtype_to_dict(dtype: FeastType) -> Any:
    """A JSON-ready description of ``dtype`` (the registry's format)."""
    if isinstance(dtype, Array):
        return {"array": dtype_to_dict(dtype.base_type)}
    if isinstance(dtype, Set):
        return {"set": dtype_to_dict(dtype.base_type)}
    if isinstance(dtype, Struct):
        return {"struct": {k: dtype_to_dict(v) for k, v in dtype.fields.items()}}
    return dtype.name


def dtype_from_dict(data: Any) -> FeastType:
    """Inverse of :func:`dtype_to_dict`."""
    if isinstance(data, str):
        if data not in _PRIMITIVES:
            raise InvalidType(f"unknown type name '{data}'; known: {', '.join(sorted(_PRIMITIVES))}")
        return _PRIMITIVES[data]
    if "array" in data:
        return Array(dtype_from_dict(data["array"]))  # type: ignore[arg-type]  # Array checks its element
    if "set" in data:
        return Set(dtype_from_dict(data["set"]))  # type: ignore[arg-type]
    return Struct({k: dtype_from_dict(v) for k, v in data["struct"].items()})


def as_feast_type(dtype: Any) -> FeastType:
    """Accept a ladle type, a ``ValueType`` or an Arrow type and return a ladle type."""
    if isinstance(dtype, PrimitiveFeastType | Array | Set | Struct):
        return dtype
    if isinstance(dtype, ValueType):
        return from_value_type(dtype)
    if isinstance(dtype, pa.DataType):
        return from_arrow(dtype)
    raise InvalidType(f"{dtype!r} is not a feature type; use one of ladle.types (Int64, Float32, String, ...)")

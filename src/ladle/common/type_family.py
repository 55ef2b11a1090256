"""The family of an Arrow type: the one classification every store and the inference step build on.

Stores map a family to how they keep it (a SQL column type, a byte encoding); inference compares the
families of a source column and a declared type. Large variants (and string views) belong to the family
of their plain type.

>>> type_family(pa.int32()), type_family(pa.large_string()), type_family(pa.list_(pa.int64()))
('int', 'string', 'list')
>>> type_family(pa.timestamp("us", tz="UTC")), type_family(pa.decimal128(38, 18))
('timestamp', 'decimal')
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

__all__ = ["TypeFamily", "is_nested", "type_family"]

TypeFamily = Literal[
    "null",
    "bool",
    "int",
    "float",
    "decimal",
    "string",
    "bytes",
    "timestamp",
    "date",
    "json",
    "list",
    "struct",
    "map",
    "other",
]


def type_family(t: pa.DataType) -> TypeFamily:
    """The family of ``t`` (``"other"`` for types no feature is declared as: durations, dictionaries, ...)."""
    if isinstance(t, pa.JsonType):
        return "json"
    return _scalar_family(t) or _nested_family(t)


def _scalar_family(t: pa.DataType) -> TypeFamily | None:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    return None


def _nested_family(t: pa.DataType) -> TypeFamily:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_map(t):
        return "map"
    return "other"


def is_nested(t: pa.DataType) -> bool:
    """Whether values of ``t`` hold other values (lists, structs, maps)."""
    return type_family(t) in ("list", "struct", "map")

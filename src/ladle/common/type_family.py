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

from collections.abc import Callable
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


#: the first test a type passes names its family (large variants and string views join their plain type)
_TESTS: list[tuple[Callable[[pa.DataType], bool], TypeFamily]] = [
    (pa.types.is_null, "null"),
    (pa.types.is_boolean, "bool"),
    (pa.types.is_integer, "int"),
    (pa.types.is_floating, "float"),
    (pa.types.is_decimal, "decimal"),
    (pa.types.is_string, "string"),
    (pa.types.is_large_string, "string"),
    (pa.types.is_string_view, "string"),
    (pa.types.is_binary, "bytes"),
    (pa.types.is_large_binary, "bytes"),
    (pa.types.is_timestamp, "timestamp"),
    (pa.types.is_date, "date"),
    (pa.types.is_list, "list"),
    (pa.types.is_large_list, "list"),
    (pa.types.is_struct, "struct"),
    (pa.types.is_map, "map"),
]


def type_family(t: pa.DataType) -> TypeFamily:
    """The family of ``t`` (``"other"`` for types no feature is declared as: durations, dictionaries, ...)."""
    if isinstance(t, pa.JsonType):  # an extension type: its storage type would say "string"
        return "json"
    for test, family in _TESTS:
        if test(t):
            return family
    return "other"


def is_nested(t: pa.DataType) -> bool:
    """Whether values of ``t`` hold other values (lists, structs, maps)."""
    return type_family(t) in ("list", "struct", "map")

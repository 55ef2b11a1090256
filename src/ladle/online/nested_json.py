"""Arrays, maps and structs as JSON text: the one format every online store keeps nested values in.

The rule (SQLite keeps the text in a TEXT column; Redis, DynamoDB and PostgreSQL inside their tagged bytes,
:mod:`ladle.online.value_bytes`):

* lists are JSON arrays, structs JSON objects, maps JSON objects (``Map`` keys are text);
* bytes are base64 strings, timestamps integer UTC microseconds, decimals their text
  (``"1.500000000000000000"``, exact);
* NaN, Infinity and -Infinity are those (non-standard) JSON words, so every float survives.

Reading also accepts what the key-value stores wrote before this rule: bytes as ``{"__bytes__": hex}``
objects and maps as arrays of ``[key, value]`` pairs.

>>> texts = encode_nested(pa.array([[b"\\x00\\xff"], None], pa.list_(pa.binary())))
>>> texts
['["AP8="]', None]
>>> decode_nested(texts, pa.list_(pa.binary())).to_pylist()
[[b'\\x00\\xff'], None]
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ladle.common.type_family import type_family

__all__ = ["decode_nested", "encode_nested", "json_storage_type"]


def json_storage_type(t: pa.DataType) -> pa.DataType:
    """``t`` with timestamps replaced by int64 (microseconds) and decimals by text: the shape the JSON holds."""
    family = type_family(t)
    if family == "timestamp":
        return pa.int64()
    if family == "decimal":
        return pa.string()
    if family == "list":
        return pa.list_(json_storage_type(t.value_type))
    if family == "struct":
        return pa.struct([pa.field(f.name, json_storage_type(f.type)) for f in t])
    if family == "map":
        return pa.map_(json_storage_type(t.key_type), json_storage_type(t.item_type))
    return t


def encode_nested(column: pa.Array) -> list[str | None]:
    """One JSON text per value of ``column`` (``None`` for null)."""
    stored_type = json_storage_type(column.type)
    stored = column if stored_type == column.type else column.cast(stored_type)
    values = stored.to_pylist(maps_as_pydicts="lossy")
    if _has_floats(stored_type) and not _all_finite(stored):
        return [None if v is None else _STD_JSON.encode(v) for v in values]
    return [None if v is None else orjson.dumps(v, default=_json_default).decode() for v in values]


def decode_nested(values: Sequence[str | bytes | None], target: pa.DataType) -> pa.Array:
    """Inverse of :func:`encode_nested`: an array of ``target`` from JSON texts (``None`` is null)."""
    try:
        parsed = [None if v is None else orjson.loads(v) for v in values]
    except orjson.JSONDecodeError:  # NaN / Infinity, which only the standard library reads
        parsed = [None if v is None else json.loads(v) for v in values]
    fix = _decoder(target)
    if fix is not None:
        parsed = [fix(v) for v in parsed]
    stored = json_storage_type(target)
    arr = pa.array(parsed, stored)
    return arr if stored == target else arr.cast(target)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


_STD_JSON = json.JSONEncoder(allow_nan=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _has_floats(t: pa.DataType) -> bool:
    if type_family(t) == "float":
        return True
    return any(_has_floats(t.field(i).type) for i in range(t.num_fields))


def _all_finite(column: pa.Array) -> bool:
    """Whether every float anywhere inside ``column`` (lists, structs, maps) is finite."""
    family = type_family(column.type)
    if family == "float":
        return bool(pc.all(pc.is_finite(column)).as_py() is not False)
    if family == "list":
        return _all_finite(column.flatten())
    if family == "map":
        return _all_finite(column.keys) and _all_finite(column.items)
    if family == "struct":
        return all(_all_finite(column.field(i)) for i in range(column.type.num_fields))
    return True


def _bytes(v: Any) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, dict):  # the key-value stores' format before the one rule
        return bytes.fromhex(v["__bytes__"])
    return base64.b64decode(v)


def _pairs(v: Any) -> Any:
    return [tuple(x) for x in v] if isinstance(v, list) else v


def _decoder(t: pa.DataType) -> Callable[[Any], Any] | None:
    """A function turning parsed JSON of type ``t`` into values Arrow takes (None: nothing to turn)."""
    family = type_family(t)
    if family == "bytes":
        return _bytes
    if family == "list":
        inner = _decoder(t.value_type)
        if inner is None:
            return None
        return lambda v: None if v is None else [inner(x) for x in v]
    if family == "struct":
        fields = {f.name: d for f in t if (d := _decoder(f.type)) is not None}
        if not fields:
            return None
        return lambda v: None if v is None else {k: fields[k](x) if k in fields else x for k, x in v.items()}
    if family == "map":
        return _pairs
    return None

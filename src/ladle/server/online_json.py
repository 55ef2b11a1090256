"""An :class:`~ladle.retrieval.online_read.OnlineResponse` as Feast's feature-server JSON, encoded by orjson.

``{"metadata": {"feature_names": [...]}, "results": [{"values", "statuses", "event_timestamps"}, ...]}``:
one result per returned column (entity columns first), each holding one entry per entity row.
Timestamps are RFC 3339 in UTC with ``Z``; a value without one (entity columns, keys not found,
on-demand features) gets ``1970-01-01T00:00:00Z`` as in Feast.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from typing import Any

import orjson

from ladle.retrieval.online_read import OnlineResponse

__all__ = ["EPOCH", "encode_json", "encode_online_response"]

EPOCH = "1970-01-01T00:00:00Z"
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """What orjson does not encode natively: bytes (base64, as protobuf JSON does), decimals, times."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(document: Any) -> bytes:
    """Encode ``document`` as the server does every response."""
    return orjson.dumps(document, default=_default, option=_OPTIONS)


def encode_online_response(response: OnlineResponse) -> bytes:
    """The Feast-shaped JSON body of ``response``."""
    names = response.feature_names
    values = response.to_dict()
    statuses = response.statuses
    stamps = response.event_timestamps
    epoch = [EPOCH] * response.num_rows
    results = []
    for name in names:
        ts: list[Any] | None = stamps.get(name)
        if ts is None:
            ts = epoch
        elif None in ts:
            ts = [EPOCH if t is None else t for t in ts]
        results.append({"values": values[name], "statuses": statuses[name], "event_timestamps": ts})
    return encode_json({"metadata": {"feature_names": names}, "results": results})

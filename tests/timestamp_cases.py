"""Timestamps in every unit and zone, for the tests that check they all denote the same instants.

Shared by the offline conformance suite, the FeatureStore-level timestamp tests and the property test.
A naive column holds UTC wall-clock time (ladle's rule: naive timestamps are UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

UNITS = ("s", "ms", "us", "ns")
#: naive (= UTC), UTC, a positive offset (+05:30), a negative offset (-05:00, no DST), a DST zone
ZONES: tuple[str | None, ...] = (None, "UTC", "Asia/Kolkata", "America/Bogota", "Europe/Berlin")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def epoch_ns(when: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact)."""
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def column(instants: list[datetime | None], unit: str, zone: str | None, extra_ns: list[int] | None = None) -> pa.Array:
    """``instants`` (+ ``extra_ns`` nanoseconds each) as ``timestamp[unit, zone]``, floored to the unit."""
    extra = extra_ns or [0] * len(instants)
    ints = [None if w is None else (epoch_ns(w) + x) // _NS_PER[unit] for w, x in zip(instants, extra, strict=True)]
    return pa.array(ints, pa.int64()).cast(pa.timestamp(unit, tz=zone))


def micros(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A timestamp column floored to whole microseconds, same zone (what a microsecond store can hold)."""
    return pc.floor_temporal(values, unit="microsecond").cast(pa.timestamp("us", tz=values.type.tz))

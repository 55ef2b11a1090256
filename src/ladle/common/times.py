"""Time in one unit: UTC microseconds, as an Arrow type and as integers.

Every store keeps timestamps as ``timestamp[us, UTC]`` in Arrow and, where it stores integers, as
microseconds since the Unix epoch. Naive values and columns are taken as UTC.

>>> from datetime import datetime, timezone
>>> epoch_us(datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc))
1000000
>>> to_micros(pa.array([datetime(1970, 1, 1, 0, 0, 0, 5)], pa.timestamp("us"))).to_pylist()
[5]
>>> from_micros([5, None]).to_pylist()[1] is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

__all__ = ["UTC_US", "epoch_us", "from_micros", "to_micros"]

#: the Arrow type of every timestamp ladle stores and serves
UTC_US = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(when: datetime) -> int:
    """Microseconds from the Unix epoch to ``when`` (naive: UTC), exact (no float rounding)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_micros(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A timestamp column as one int64 array of UTC microseconds (nanoseconds truncated; nulls kept)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz=column.type.tz), safe=False)
    out = column.cast(pa.int64())
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def from_micros(values: Sequence[int | str | bytes | None] | pa.Array) -> pa.Array:
    """UTC microseconds (integers, or their decimal text as some stores return it) as ``timestamp[us, UTC]``."""
    if isinstance(values, pa.Array):
        return values.cast(pa.int64()).cast(UTC_US)
    if any(v is not None and not isinstance(v, int) for v in values):
        values = [None if v is None else int(v) for v in values]
    return pa.array(values, UTC_US)

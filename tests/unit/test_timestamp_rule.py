"""The one timestamp rule of ladle/offline/columns.py: any unit and zone to the instant as timestamp[us, UTC],
nanoseconds truncated toward the past, out-of-range values refused with an error naming the column."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ladle.errors import InvalidRequest
from ladle.offline.columns import UTC_MICROS, cast_to_declared, ensure_utc_micros


@pytest.mark.parametrize("zone", [None, "UTC", "Asia/Kolkata", "America/Bogota", "Europe/Berlin"])
def test_nanoseconds_are_floored_toward_the_past(zone: str | None) -> None:
    values = pa.array([1999, -1999, -1, None, 1_767_225_600_000_000_999], pa.int64()).cast(pa.timestamp("ns", tz=zone))
    got = ensure_utc_micros(values, "ts")
    assert got.type == UTC_MICROS
    assert got.cast(pa.int64()).to_pylist() == [1, -2, -1, None, 1_767_225_600_000_000]


@pytest.mark.parametrize("unit", ["s", "ms"])
def test_a_value_beyond_microseconds_is_an_error_naming_the_column(unit: str) -> None:
    per_second = {"s": 1, "ms": 1000}[unit]
    far = pa.array([10**13 * per_second], pa.int64()).cast(pa.timestamp(unit, tz="UTC"))  # year ~318857
    with pytest.raises(InvalidRequest, match=r"column 'born' holds a timestamp outside the range"):
        ensure_utc_micros(far, "born")


def test_every_unit_and_zone_gives_the_same_instant() -> None:
    instant = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    for unit in ("s", "ms", "us", "ns"):
        for zone in (None, "UTC", "Asia/Kolkata", "Europe/Berlin"):
            column = pa.array([instant], pa.timestamp("us", tz="UTC")).cast(pa.timestamp(unit, tz="UTC"))
            column = (
                column.cast(pa.timestamp(unit, tz=zone))
                if zone
                else pa.array(column.cast(pa.int64()), pa.int64()).cast(pa.timestamp(unit))
            )
            assert ensure_utc_micros(column, "ts").to_pylist() == [instant], (unit, zone)


def test_a_declared_timestamp_feature_takes_any_unit() -> None:
    column = pa.array([1_767_225_600_000_000_999], pa.int64()).cast(pa.timestamp("ns", tz="Asia/Kolkata"))
    got = cast_to_declared(column, UTC_MICROS, "v:seen")
    assert got.to_pylist() == [datetime(2026, 1, 1, tzinfo=UTC)]

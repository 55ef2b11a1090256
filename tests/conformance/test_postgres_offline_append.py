"""PostgreSQL offline store: ``append`` / ``append_once`` (push to offline, stream sinks) write every value
exactly as an INSERT of the same values would, and ``append_once`` appends a batch id at most once.

The rows are those of test_offline_type_round_trip (every feature type ladle keeps in PostgreSQL: big ints,
NaN/±inf/-0.0, unicode, bytes, timestamps, arrays, sets, JSON/maps/structs, UUIDs, decimals, nulls), plus
strings that trip CSV (commas, quotes, newlines, backslashes, ``\\.``, empty vs null) and timestamps of
every unit and zone. The appended table is compared row by row with a copy filled by plain INSERTs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pytest
from test_offline_type_round_trip import TYPES, _pg_value, source_rows

from backends import OfflineBackend, offline_backend
from ladle.definitions import PostgreSQLSource

pytestmark = pytest.mark.services

AWKWARD = ["a,b", 'say "hi"', "two\nlines\r\n", "back\\slash\\", "\\.", "", None, "\\N", "tab\there", "NULL"]
STAMPS = [datetime(2026, 6, 1, 12, 30, 45, 123456, tzinfo=timezone.utc), datetime(1901, 1, 1, tzinfo=timezone.utc)]
EXTRA = {
    "s2": "TEXT",
    "ts_ns": "TIMESTAMPTZ",
    "ts_s_zoned": "TIMESTAMPTZ",
    "ts_naive": "TIMESTAMP",
    "f_nan": "FLOAT8",
    "tags2": "TEXT[]",
}


@pytest.fixture(scope="module")
def backend() -> Iterator[OfflineBackend]:
    with offline_backend("postgres") as b:
        yield b


def _rows() -> pa.Table:
    """Every type's rows, repeated so every awkward string and stamp appears, with the extra columns."""
    base = source_rows()
    reps = len(AWKWARD)
    table = pa.concat_tables([base] * reps)
    n = table.num_rows
    table = table.set_column(0, "driver_id", pa.array(range(n), pa.int64()))
    zoned = pa.array([STAMPS[i % 2] for i in range(n)], pa.timestamp("us", tz="UTC"))
    extra = {
        "s2": pa.array([AWKWARD[i % reps] for i in range(n)], pa.string()),
        "ts_ns": pa.array([STAMPS[i % 2] for i in range(n)], pa.timestamp("ns", tz="UTC")),
        "ts_s_zoned": zoned.cast(pa.timestamp("s", tz="Asia/Kolkata"), safe=False),
        "ts_naive": pa.array([STAMPS[i % 2].replace(tzinfo=None) for i in range(n)], pa.timestamp("ms")),
        "f_nan": pa.array([[math.nan, math.inf, -math.inf, -0.0, 0.1, 1e-300, None][i % 7] for i in range(n)]),
        "tags2": pa.array([None if i % 4 == 3 else AWKWARD[i % reps :] for i in range(n)], pa.list_(pa.string())),
    }
    for name, column in extra.items():
        table = table.append_column(name, column)
    return table


def _create(backend: OfflineBackend, name: str, rows: pa.Table) -> None:
    pg_types = {"driver_id": "INT8", "ts": "TIMESTAMPTZ", **{n: t for n, (_, t, _) in TYPES.items()}, **EXTRA}
    columns = ", ".join(f'"{c}" {pg_types[c]}' for c in rows.column_names)
    backend.admin.execute(f'CREATE TABLE "{backend.schema}"."{name}" ({columns})')


def _insert(backend: OfflineBackend, name: str, rows: pa.Table) -> None:
    """The rows INSERTed one by one by psycopg: the values the appended copy must equal."""
    names = ", ".join(f'"{c}"' for c in rows.column_names)
    marks = ", ".join(["%s"] * rows.num_columns)
    dtypes = {c: TYPES[c][0] if c in TYPES else None for c in rows.column_names}
    pg_types = {c: TYPES[c][1] if c in TYPES else "" for c in rows.column_names}
    with backend.admin.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.executemany(
            f'INSERT INTO "{backend.schema}"."{name}" ({names}) VALUES ({marks})',
            [
                [
                    _pg_value(v.replace(tzinfo=timezone.utc) if c == "ts_naive" else v, pg_types[c], dtypes[c])
                    for c, v in row.items()
                ]
                for row in rows.to_pylist()
            ],
        )


def _contents(backend: OfflineBackend, name: str) -> list[tuple[Any, ...]]:
    """The table's rows (values as text, so NaN, -0.0 and JSON compare exactly), ordered by driver_id."""
    backend.admin.execute("SET TIME ZONE 'UTC'")
    cols = backend.admin.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
        (f'"{backend.schema}"."{name}"',),
    ).fetchall()
    text = ", ".join(f'"{c}"::text' for (c,) in cols)
    return backend.admin.execute(f'SELECT {text} FROM "{backend.schema}"."{name}" AS t ORDER BY t.driver_id').fetchall()


def _source(name: str) -> PostgreSQLSource:
    return PostgreSQLSource(name=name, table=name, timestamp_field="ts")


def test_append_writes_every_value_as_an_insert_would(backend: OfflineBackend) -> None:
    rows = _rows()
    for name in ("by_insert", "by_append"):
        _create(backend, name, rows)
    _insert(backend, "by_insert", rows)
    backend.store.append(_source("by_append"), rows)
    want, got = _contents(backend, "by_insert"), _contents(backend, "by_append")
    assert len(got) == rows.num_rows
    for w, g in zip(want, got, strict=True):
        assert g == w
    s2 = [r[-6] for r in got]  # the awkward strings, null and empty kept apart
    assert s2[: len(AWKWARD)] == AWKWARD


def test_append_once_appends_a_batch_once_and_keeps_every_value(backend: OfflineBackend) -> None:
    rows = _rows()
    for name in ("once_insert", "once_append"):
        _create(backend, name, rows)
    _insert(backend, "once_insert", rows)
    source = _source("once_append")
    assert backend.store.append_once(source, rows, "batch-1") is True
    assert backend.store.append_once(source, rows, "batch-1") is False  # a replay adds nothing
    assert _contents(backend, "once_append") == _contents(backend, "once_insert")
    assert backend.store.append_once(source, rows.slice(0, 2), "batch-2") is True
    assert len(_contents(backend, "once_append")) == rows.num_rows + 2


def test_a_failed_append_once_records_no_batch(backend: OfflineBackend) -> None:
    """The batch id and the rows commit together: rows the table refuses leave the id free for a retry."""
    rows = _rows()
    _create(backend, "once_fail", rows)
    backend.admin.execute(f'ALTER TABLE "{backend.schema}"."once_fail" ADD CHECK (i64 IS NULL OR i64 < 0)')
    source = _source("once_fail")
    with pytest.raises(Exception, match="check constraint"):
        backend.store.append_once(source, rows, "batch-x")
    assert _contents(backend, "once_fail") == []
    backend.admin.execute(f'ALTER TABLE "{backend.schema}"."once_fail" DROP CONSTRAINT "once_fail_i64_check"')
    assert backend.store.append_once(source, rows, "batch-x") is True
    assert len(_contents(backend, "once_fail")) == rows.num_rows


def test_an_empty_append_writes_nothing(backend: OfflineBackend) -> None:
    rows = _rows()
    _create(backend, "empty_append", rows)
    backend.store.append(_source("empty_append"), rows.slice(0, 0))
    assert _contents(backend, "empty_append") == []

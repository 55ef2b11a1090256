"""The Arrow conversions of the PostgreSQL stores, without a server: ADBC's extension types to plain Arrow
(``drivers/postgres_arrow.py``) and BYTEA values to COPY's hex text (``online/postgres.py``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pyarrow as pa

from ladle.drivers.postgres_arrow import plain_column, plain_columns
from ladle.drivers.postgres_copy import bytea_text

U1 = uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100")
U2 = uuid.UUID("ffffffff-0000-4000-8000-123456789abc")


def _uuids(values: list[uuid.UUID | None]) -> pa.Array:
    storage = pa.array([None if v is None else v.bytes for v in values], pa.binary(16))
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def test_uuids_become_canonical_text_nulls_and_slices_included() -> None:
    column = _uuids([U1, None, U2])
    assert plain_column(column).to_pylist() == [str(U1), None, str(U2)]
    assert plain_column(column.slice(1)).to_pylist() == [None, str(U2)]


def test_uuids_inside_lists_become_text() -> None:
    values = _uuids([U2, None, U1])
    column = pa.ListArray.from_arrays(pa.array([0, 2, 2, 3], pa.int32()), values, mask=pa.array([False, True, False]))
    out = plain_column(column)
    assert out.type == pa.list_(pa.string())
    assert out.to_pylist() == [[str(U2), None], None, [str(U1)]]


def test_numeric_becomes_decimal_or_float_when_a_value_does_not_fit() -> None:
    numeric = pa.opaque(pa.string(), "numeric", "PostgreSQL")
    fits = pa.ExtensionArray.from_storage(numeric, pa.array(["1.5", None, "-0.000000000000000001"]))
    assert plain_column(fits).to_pylist() == [Decimal("1.5"), None, Decimal("-1E-18")]
    nan = pa.ExtensionArray.from_storage(numeric, pa.array(["nan", "2"]))
    assert plain_column(nan).type == pa.float64()
    mixed = pa.chunked_array([fits, nan])  # one chunk falls back: every chunk does
    out = plain_column(mixed)
    assert out.type == pa.float64()
    assert out.to_pylist()[:2] == [1.5, None]


def test_json_becomes_its_text_and_plain_columns_keeps_names() -> None:
    doc = pa.ExtensionArray.from_storage(pa.json_(pa.string()), pa.array(['{"a": [1]}', None]))
    table = plain_columns(pa.table({"j": doc, "n": pa.array([1, 2])}))
    assert table.schema == pa.schema([("j", pa.string()), ("n", pa.int64())])
    assert table.column("j").to_pylist() == ['{"a": [1]}', None]


def test_bytea_values_become_hex_text() -> None:
    column = pa.array([b"\x00\xff", b"", None, "é".encode()], pa.binary())
    assert bytea_text(column).to_pylist() == ["\\x00ff", "\\x", None, "\\xc3a9"]
    assert bytea_text(column.slice(1)).to_pylist() == ["\\x", None, "\\xc3a9"]
    assert bytea_text(pa.chunked_array([column[:1], column[3:]])).to_pylist() == ["\\x00ff", "\\xc3a9"]

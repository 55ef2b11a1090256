"""Values conformed to their declared type: sets as sorted distinct lists, UUIDs as canonical text."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal as D

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from ladle.common.conform import conform
from ladle.common.frames import pandas_to_arrow as arrow_from_pandas
from ladle.errors import InvalidRequest
from ladle.offline.columns import cast_to_declared
from ladle.types import Array, Decimal, Float64, Int64, Set, String, TimeUuid, Uuid


def reference_set(values: list[object] | None) -> list[object] | None:
    """A set by its definition: each non-null value once (NaN once), ascending, then one null if any."""
    if values is None:
        return None
    present = [v for v in values if v is not None]
    nan = [v for v in present if isinstance(v, float) and math.isnan(v)]
    numbers = sorted({v for v in present if not (isinstance(v, float) and math.isnan(v))})  # type: ignore[type-var]
    return numbers + nan[:1] + ([None] if len(present) < len(values) else [])


def same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


rows_of = st.lists(st.none() | st.lists(st.none() | st.integers(-3, 3), max_size=6), max_size=8)


@settings(max_examples=examples(200))
@given(rows_of)
def test_set_of_ints_matches_the_definition(rows: list[list[int | None] | None]) -> None:
    """Each row of a Set(Int64) column is its distinct values, ascending, a null kept once and last."""
    got = conform(pa.array(rows, pa.list_(pa.int64())), Set(Int64), "v:s").to_pylist()
    assert got == [reference_set(r) for r in rows]  # type: ignore[arg-type]


@settings(max_examples=examples(200))
@given(
    st.lists(
        st.none() | st.lists(st.none() | st.sampled_from([0.0, 1.5, -2.0, math.inf, math.nan]), max_size=6), max_size=6
    )
)
def test_set_of_floats_keeps_one_nan(rows: list[list[float | None] | None]) -> None:
    got = conform(pa.array(rows, pa.list_(pa.float64())), Set(Float64), "v:s").to_pylist()
    assert all(same(g, reference_set(r)) for g, r in zip(got, rows, strict=True))  # type: ignore[arg-type]


@settings(max_examples=examples(100))
@given(
    st.lists(
        st.none() | st.lists(st.none() | st.lists(st.sampled_from(["b", "a", "ü", ""]), max_size=4), max_size=4),
        max_size=5,
    )
)
def test_an_array_of_sets_conforms_every_inner_set(rows: list[list[list[str] | None] | None]) -> None:
    got = cast_to_declared(pa.array(rows, pa.list_(pa.list_(pa.string()))), Array(Set(String)), "v:s").to_pylist()
    assert got == [None if r is None else [reference_set(x) for x in r] for r in rows]  # type: ignore[arg-type]


def test_a_sliced_column_conforms_its_own_rows() -> None:
    column = pa.array([[9, 9], [2, 1, 2], None, [3, 3]], pa.list_(pa.int64())).slice(1, 2)
    assert conform(column, Set(Int64), "v:s").to_pylist() == [[1, 2], None]


def test_uuids_become_canonical_text() -> None:
    u = uuid.UUID("6BA7B810-9DAD-41D1-80B4-00C04FD430C8")
    text = cast_to_declared(pa.array([str(u).upper(), None]), Uuid, "v:u").to_pylist()
    raw = cast_to_declared(pa.array([u.bytes, None], pa.binary(16)), Uuid, "v:u").to_pylist()
    assert text == raw == [str(u), None] == ["6ba7b810-9dad-41d1-80b4-00c04fd430c8", None]


def test_text_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"'v:u' is declared Uuid, but 'nope' is not a UUID: write UUIDs as"):
        cast_to_declared(pa.array(["6ba7b810-9dad-41d1-80b4-00c04fd430c8", "nope"]), Uuid, "v:u")
    v4 = "0f8fad5b-d9cb-469f-a165-70867728950e"
    with pytest.raises(InvalidRequest, match=r"is declared TimeUuid, but '0f8f.*' is not a version-1 \(time-based\)"):
        cast_to_declared(pa.array([v4]), TimeUuid, "v:t")
    assert cast_to_declared(pa.array([str(uuid.uuid1())]), TimeUuid, "v:t").null_count == 0


def test_decimals_are_exact_and_refuse_what_they_cannot_hold() -> None:
    got = cast_to_declared(pa.array([0.1, 1e19, None]), Decimal, "v:d").to_pylist()
    assert got == [D("0.1"), D("1E+19"), None]  # a float is the decimal it prints as
    with pytest.raises(InvalidRequest, match=r"'v:d' is declared as decimal128\(38, 18\) but the data is double"):
        cast_to_declared(pa.array([math.nan]), Decimal, "v:d")
    with pytest.raises(InvalidRequest, match=r"'v:d' is declared as decimal128.*would cause data loss"):
        cast_to_declared(pa.array([D("0.1234567890123456789")]), Decimal, "v:d")


def test_pandas_columns_of_uuids_and_sets_are_read() -> None:
    u = uuid.uuid4()
    df = pd.DataFrame({"u": [u, None], "s": [{"b", "a"}, frozenset()], "d": [D("1.5"), None], "n": [1, 2]})
    table = arrow_from_pandas(df, "push")
    assert table.column("u").to_pylist() == [str(u), None]
    assert table.column("s").to_pylist() == [["a", "b"], []]
    assert table.column("d").to_pylist() == [D("1.5"), None]
    with pytest.raises(InvalidRequest, match="cannot read column 'x' of push as one typed column"):
        arrow_from_pandas(pd.DataFrame({"x": [object()]}), "push")

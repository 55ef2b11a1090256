"""Entity-key encoding: deterministic, typed, unambiguous across columns, the same per row and per batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from ladle.errors import InvalidRequest
from ladle.online.entity_key import encode_key_list, encode_key_row, encode_keys


def enc(**cols: Any) -> list[str | None]:
    return encode_keys(pa.table(cols)).to_pylist()


def test_single_column_formats() -> None:
    assert enc(k=pa.array([1004, -7, 0], pa.int64())) == ["1004", "-7", "0"]
    assert enc(k=pa.array([2**63 - 1, -(2**63)], pa.int64())) == [str(2**63 - 1), str(-(2**63))]
    assert enc(k=pa.array([2**64 - 1], pa.uint64())) == [str(2**64 - 1)]
    assert enc(k=["alice", "", "Zürich"]) == ["'5:alice", "'0:", "'6:Zürich"]
    assert enc(k=[b"\x00\xff", b"", b"ab"]) == ["0x00ff", "0x", "0x6162"]


def test_integer_widths_agree_and_kinds_differ() -> None:
    assert enc(k=pa.array([7], pa.int32())) == enc(k=pa.array([7], pa.int64())) == enc(k=pa.array([7], pa.uint8()))
    assert enc(k=pa.array([7.0, None])) == ["7", None]  # pandas' ints-with-gaps
    ints, strs, blobs = enc(k=[12]), enc(k=["12"]), enc(k=[b"12"])
    assert len({ints[0], strs[0], blobs[0]}) == 3


def test_columns_are_delimited_unambiguously() -> None:
    """Keys that differ only in where one column ends and the next starts encode differently."""
    a = enc(x=["a|b", "a:", "1|'1:x", ""], y=["c", "", "y", "|"])
    b = enc(x=["a", "a", "1", "|"], y=["b|c", ":", "x|'1:y", ""])
    assert len(set(a) | set(b)) == 8
    assert enc(x=[1], y=["a"]) == ["1|'1:a"]
    # a one-column key can never equal a two-column key
    assert enc(x=["1|'1:a"]) != enc(x=[1], y=["a"])


def test_nulls_encode_as_null() -> None:
    assert enc(x=[1, None, 3], y=["a", "b", None]) == ["1|'1:a", None, None]
    assert enc(k=pa.array([b"x", None, b"yz"]).slice(1)) == [None, "0x797a"]
    assert enc(k=pa.nulls(2)) == [None, None]


def test_other_arrow_layouts_encode_alike() -> None:
    plain = enc(k=["a", "bb", "a"])
    assert enc(k=pa.array(["a", "bb", "a"]).dictionary_encode()) == plain
    assert enc(k=pa.array(["a", "bb", "a"], pa.large_string())) == plain
    assert enc(k=pa.chunked_array([["a"], ["bb", "a"]])) == plain
    assert enc(k=pa.array([b"ab"], pa.large_binary())) == enc(k=pa.array([b"ab"], pa.binary(2))) == ["0x6162"]
    assert encode_keys(pa.table({"k": pa.array([], pa.int64())})).to_pylist() == []
    assert encode_keys(pa.table({"k": [1, 2]}).select([])).to_pylist() == ["", ""]


def test_unsupported_key_types_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="join key column 'k' has type bool"):
        enc(k=[True])
    with pytest.raises(InvalidRequest, match="non-integral float"):
        enc(k=[1.5])
    with pytest.raises(InvalidRequest, match="boolean"):
        encode_key_row((True,))
    with pytest.raises(InvalidRequest, match="non-integral float"):
        encode_key_row((0.5,))
    with pytest.raises(InvalidRequest, match="has type list"):
        encode_key_row(([1],))


def test_row_encoding_matches_batch_encoding() -> None:
    """encode_key_row(row) == encode_keys(table)[row] for every row of mixed typed columns."""
    rng = np.random.default_rng(7)
    n = 300
    ints = rng.integers(-(2**62), 2**62, n).tolist()
    words = ["", "a", "|", "'", ":", "Zürich", "🚗|x", "1|'1:a", "\u0000"]
    strs = [words[i] + words[j] for i, j in rng.integers(0, len(words), (n, 2))]
    blobs = [bytes(rng.integers(0, 256, int(m)).tolist()) for m in rng.integers(0, 6, n)]
    strs[5], ints[9] = None, None
    table = pa.table({"i": pa.array(ints, pa.int64()), "s": strs, "b": blobs})
    batch = encode_keys(table).to_pylist()
    assert batch == [encode_key_row(r) for r in zip(ints, strs, blobs, strict=True)]
    assert len(set(batch)) == len({r for r in zip(ints, strs, blobs, strict=True) if None not in r}) + 1
    assert encode_key_row((np.int32(5), np.float64(3.0), bytearray(b"\x01"))) == "5|3|0x01"
    assert encode_key_row(()) == ""


def test_key_list_matches_batch_encoding_for_small_and_large_reads() -> None:
    """The online read path's row-by-row encoding agrees with the Arrow path, and refuses the same inputs."""
    rng = np.random.default_rng(11)
    for n in (0, 1, 5, 31, 32, 100):
        table = (
            pa.table(
                {
                    "i": pa.array(rng.integers(-(2**40), 2**40, n).tolist(), pa.int32() if n == 5 else pa.int64()),
                    "s": [["Zürich", "|", "", "🚗"][k] for k in rng.integers(0, 4, n)],
                    "b": [bytes([k]) for k in rng.integers(0, 256, n)],
                }
            )
            if n != 5
            else pa.table({"i": pa.array([1, 2, None, 4, 5], pa.int32())})
        )
        assert encode_key_list(table) == encode_keys(table).to_pylist()
    assert encode_key_list(pa.table({"f": [1.0, 2.0]})) == ["1", "2"]
    with pytest.raises(InvalidRequest, match="non-integral float"):
        encode_key_list(pa.table({"f": [1.5]}))
    with pytest.raises(InvalidRequest, match="entity keys must be integers, strings or bytes"):
        encode_key_list(pa.table({"flag": [True]}))

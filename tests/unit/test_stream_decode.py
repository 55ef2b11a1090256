"""Stream messages as rows: JSON objects or plain entry fields, cast to the source's column types; a bad
message is reported with its reason and never fails the rest of its batch."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ladle.stream.decode import MessageDecoder
from ladle.stream.reader_base import Message

COLUMNS = {"user_id": pa.int64(), "amount": pa.float32(), "ts": pa.timestamp("us", tz="UTC"), "note": pa.string()}


def _json(i: int, payload: object) -> Message:
    return Message(f"1-{i}", {"payload": orjson.dumps(payload)})


def test_json_and_flat_messages_are_cast_to_the_columns() -> None:
    decoder = MessageDecoder(COLUMNS, ["user_id", "ts"], "payload")
    decoded = decoder.decode(
        [
            _json(0, {"user_id": 7, "amount": 12.5, "ts": "2024-01-15T10:00:00Z", "extra": [1]}),
            Message("1-1", {"user_id": b"8", "amount": b"3.25", "ts": b"2024-01-15 11:30:00"}),
            _json(2, {"user_id": 9, "ts": 1705316400}),  # epoch seconds; amount missing -> null
        ]
    )
    assert decoded.rejected == []
    t = decoded.table
    assert t.schema == pa.schema([pa.field(n, d) for n, d in COLUMNS.items()])
    assert t.column("user_id").to_pylist() == [7, 8, 9]
    assert t.column("amount").to_pylist() == [12.5, 3.25, None]
    assert t.column("ts").to_pylist() == [
        datetime(2024, 1, 15, 10, tzinfo=UTC),
        datetime(2024, 1, 15, 11, 30, tzinfo=UTC),
        datetime(2024, 1, 15, 11, 0, tzinfo=UTC),
    ]


def test_bad_messages_are_rejected_with_a_reason_and_the_rest_kept() -> None:
    decoder = MessageDecoder(COLUMNS, ["user_id", "ts"], "payload")
    good = _json(0, {"user_id": 1, "amount": 1.0, "ts": "2024-01-15T10:00:00Z"})
    messages = [
        good,
        Message("1-1", {"payload": b"{not json"}),
        _json(2, [1, 2]),
        _json(3, {"amount": 2.0, "ts": "2024-01-15T10:00:00Z"}),
        _json(4, {"user_id": "seven", "ts": "2024-01-15T10:00:00Z"}),
        _json(5, {"user_id": 2, "ts": "yesterday-ish"}),
        _json(6, {"user_id": 3, "amount": 4.0, "ts": "2024-01-15T10:05:00+01:00"}),
    ]
    decoded = decoder.decode(messages)
    reasons = {m.message_id: r for m, r in decoded.rejected}
    assert set(reasons) == {"1-1", "1-2", "1-3", "1-4", "1-5"}
    assert "not JSON" in reasons["1-1"]
    assert "not an object" in reasons["1-2"]
    assert "lacks ['user_id']" in reasons["1-3"]
    assert "column 'user_id'" in reasons["1-4"] and "'seven'" in reasons["1-4"]
    assert "column 'ts'" in reasons["1-5"]
    assert [m.message_id for m in decoded.messages] == ["1-0", "1-6"]
    assert decoded.table.column("user_id").to_pylist() == [1, 3]
    assert decoded.table.column("ts").to_pylist()[1] == datetime(2024, 1, 15, 9, 5, tzinfo=UTC)


_TIMESTAMPS = st.sampled_from(
    [
        "2024-01-15T10:00:00Z",
        "2024-01-15 11:30:00",
        "2024-01-15T10:05:00+01:00",
        "2024-01-15T10:00:00.123456",
        1705316400,
    ]
)
_RECORDS = st.fixed_dictionaries(
    {"user_id": st.integers(-5, 5), "ts": _TIMESTAMPS},
    optional={
        "amount": st.one_of(st.none(), st.integers(-3, 3), st.floats(-1e3, 1e3, width=32)),
        "note": st.one_of(st.none(), st.text(max_size=5)),
        "extra": st.dictionaries(st.text(max_size=3), st.integers(-10, 10), max_size=2),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RECORDS, min_size=1, max_size=8))
def test_the_batch_json_reader_gives_exactly_the_rows_of_the_per_message_path(records: list[dict[str, object]]) -> None:
    """Rule: decoding a batch at once (Arrow's JSON reader) and message by message (the reference) give the
    same table whenever the fast path takes the batch; it declines rather than differ."""
    decoder = MessageDecoder(COLUMNS, ["user_id", "ts"], "payload")
    messages = [_json(i, r) for i, r in enumerate(records)]
    fast = decoder._decode_json_lines(messages)
    slow = decoder._decode_each(messages)
    assert slow.rejected == []
    if fast is not None:
        assert fast.table.equals(slow.table)
    assert decoder.decode(messages).table.equals(slow.table)


def test_the_fast_path_takes_plain_json_batches_and_declines_others() -> None:
    decoder = MessageDecoder(COLUMNS, ["user_id", "ts"], "payload")
    plain = [_json(i, {"user_id": i, "amount": 1.5, "ts": "2024-01-15T10:00:00Z"}) for i in range(3)]
    assert decoder._decode_json_lines(plain) is not None
    pretty = Message("1-9", {"payload": b'{"user_id": 1,\n "ts": "2024-01-15T10:00:00Z"}'})
    assert decoder._decode_json_lines([*plain, pretty]) is None
    assert decoder.decode([*plain, pretty]).table.num_rows == 4
    flat = Message("1-8", {"user_id": b"1", "ts": b"2024-01-15T10:00:00Z"})
    assert decoder._decode_json_lines([flat]) is None
